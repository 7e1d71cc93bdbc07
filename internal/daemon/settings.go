package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/edgecam/edgecam/internal/atomicfile"
	"github.com/edgecam/edgecam/internal/config"
)

// settings are the values changed at run time from the cloud (IoT Central writable properties
// and the timer commands). They are kept in state.dir so they survive a restart, and they take
// precedence over the configuration file until the cloud changes them again.
type settings struct {
	DesiredVersion int64            `json:"desiredVersion,omitempty"` // last desired $version applied
	Due            *config.Duration `json:"due,omitempty"`
	Period         *config.Duration `json:"period,omitempty"`
	Threshold      *float64         `json:"scoreThreshold,omitempty"`
	Interest       *[]string        `json:"labelsOfInterest,omitempty"`
	Minimum        *[]string        `json:"labelsMinimum,omitempty"`
	// Filters replace the camera's per-label filters (all of them) when set.
	Filters      *map[string]config.Filter `json:"filters,omitempty"`
	TimerStopped bool                      `json:"timerStopped,omitempty"`
}

func settingsPath(stateDir, cameraID string) string {
	return filepath.Join(stateDir, "settings", cameraID+".json")
}

func loadSettings(path string) (settings, error) {
	var s settings
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return settings{}, fmt.Errorf("%s: %w (the file is ignored; delete it to silence this)", path, err)
	}
	return s, nil
}

// save writes the settings atomically.
func (s settings) save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o640)
}

// applyTo overlays the settings on a camera's effective configuration.
func (s settings) applyTo(sched *config.Schedule, det *config.Detection) {
	if s.Due != nil {
		sched.Due = *s.Due
	}
	if s.Period != nil {
		sched.Period = *s.Period
	}
	if s.Threshold != nil {
		det.ScoreThreshold = *s.Threshold
	}
	if s.Interest != nil {
		det.LabelsOfInterest = *s.Interest
	}
	if s.Minimum != nil {
		det.LabelsMinimum = *s.Minimum
	}
	if s.Filters != nil {
		det.Filters = *s.Filters
	}
}
