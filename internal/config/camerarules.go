package config

import (
	"fmt"
	"strings"

	"github.com/edgecam/edgecam/internal/crossing"
	"github.com/edgecam/edgecam/internal/tally"
)

// CameraRules is what counting one camera's frames needs outside the daemon (edgecam detect
// --config --camera): the model and its threads, and the camera's tally rules.
type CameraRules struct {
	Model   string
	Threads int
	Rules   tally.Rules
	// Tiles is the camera's effective detection.tiles (nil: the whole frame once).
	Tiles *Tiles
	// Lines are the camera's counting lines and AnalysisFPS its analysis.fps (0 without).
	Lines       []crossing.Line
	AnalysisFPS float64
}

// UnknownCameraError is LoadCameraRules' error for a camera ID the configuration does not have.
type UnknownCameraError struct {
	ID, File string
	Known    []string // the IDs it has, in order
}

func (e *UnknownCameraError) Error() string {
	return fmt.Sprintf("camera %q: no such camera in %s (cameras: %s)", e.ID, e.File, strings.Join(e.Known, ", "))
}

// LoadCameraRules loads the model, detection and cameras sections of the configuration file
// (environment variables applying, as for the daemon) and returns camera id's counting rules
// as the daemon derives them (TallyRules of its CameraDetection, DTDL-safe keys with
// azure.modelId).
func LoadCameraRules(file, id string) (CameraRules, error) {
	cfg, err := Load(LoadOptions{File: file, Only: []string{"model", "detection", "cameras"}})
	if err != nil {
		return CameraRules{}, err
	}
	i := cfg.CameraIndex(id)
	if i < 0 {
		ids := make([]string, len(cfg.Cameras))
		for j, c := range cfg.Cameras {
			ids[j] = c.ID
		}
		return CameraRules{}, &UnknownCameraError{ID: id, File: file, Known: ids}
	}
	d := cfg.CameraDetection(i)
	cr := CameraRules{
		Model:   cfg.Model.Path,
		Threads: cfg.Model.Threads,
		Rules:   TallyRules(d, &cfg.Cameras[i], cfg.Azure.ModelID != ""),
		Tiles:   d.Tiles,
		Lines:   CrossingLines(&cfg.Cameras[i]),
	}
	if a := cfg.Cameras[i].Analysis; a != nil {
		cr.AnalysisFPS = a.FPS
	}
	return cr, nil
}
