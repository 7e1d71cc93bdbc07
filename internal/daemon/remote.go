package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/edgecam/edgecam/internal/classes"
	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/dtdl"
	"github.com/edgecam/edgecam/internal/iothub"
	"github.com/edgecam/edgecam/internal/version"
)

// Remote operation of a camera device from IoT Hub / IoT Central: the commands of the DTDL
// model (direct methods, or C2D messages with a method-name property for IoT Central's
// "queue if offline" commands), its writable properties (desired patches and the full twin
// after every connect, acknowledged as IoT Central expects), and the read-only properties
// reported at connect. Names come from package dtdl so the daemon matches the model.

// commandTimeout keeps command answers inside IoT Central's 30 s.
const commandTimeout = 25 * time.Second

// deviceInfo is what the device reports about itself at connect.
type deviceInfo struct {
	model      string
	classes    int
	cameraKind string
}

func newDeviceInfo(cfg *config.Config, cam config.Camera, det Detector) deviceInfo {
	return deviceInfo{model: cfg.Model.Path, classes: len(det.Classes()), cameraKind: cam.Type}
}

func (w *worker) setHandlers(o *iothub.Options) {
	o.Methods = w.method
	o.Desired = w.desiredPatch
	o.C2D = w.c2d
	w.limitCloud(o) // bounded sizes, rates and queues: see inbox.go
}

// onConnect runs after every (re)connect, in its own goroutine: deliver what queued up while
// offline, read the whole twin (desired changes made while offline arrive only that way) and
// report the device's properties.
func (w *worker) onConnect(c *iothub.Client) {
	select {
	case w.wake <- struct{}{}:
	default:
	}
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	twin, err := c.GetTwin(ctx)
	if err != nil {
		w.log.Warn("could not read the device twin; desired properties are applied when they next change", "err", err)
	} else {
		var desired map[string]json.RawMessage
		if err := json.Unmarshal(twin.Desired, &desired); err != nil {
			w.log.Warn("device twin has unreadable desired properties", "err", err)
		} else {
			// A refused property the cloud no longer sets goes back to the device's own value (203).
			w.mu.Lock()
			for name := range w.refused {
				if _, ok := desired[name]; !ok {
					delete(w.refused, name)
				}
			}
			w.mu.Unlock()
			w.applyDesired(ctx, c, desired, twin.DesiredVersion)
		}
	}
	if _, err := c.UpdateReported(ctx, w.reportedAtConnect()); err != nil {
		w.log.Warn("could not report the device properties", "err", err)
	}
}

// reportedAtConnect is the read-only properties plus the writable ones that no desired value
// set (those are reported with IoT Plug and Play's ac 203: a value the device chose itself).
// A writable property whose desired value was refused keeps its ac 400 acknowledgement, so
// IoT Central goes on showing the error.
func (w *worker) reportedAtConnect() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	host, _ := os.Hostname()
	rep := map[string]any{
		dtdl.ApplicationVersion: version.String(),
		dtdl.OSVersion:          osVersion(),
		dtdl.MachineName:        host,
		dtdl.ModelPath:          w.info.model,
		dtdl.ModelClasses:       w.info.classes,
		dtdl.CameraKind:         w.info.cameraKind,
	}
	st := w.settings
	own := func(name string, set bool) {
		if !set && !w.refused[name] {
			rep[name] = ack{Value: valueInUse(name, w.sched, w.detection), AC: 203, AV: 0, AD: "from the device configuration"}
		}
	}
	own(dtdl.ImageTimerDue, st.Due != nil)
	own(dtdl.ImageTimerPeriod, st.Period != nil)
	own(dtdl.PredictionScoreThreshold, st.Threshold != nil)
	own(dtdl.PredictionLabelsOfInterest, st.Interest != nil)
	own(dtdl.PredictionLabelsMinimum, st.Minimum != nil)
	own(dtdl.PredictionFilters, st.Filters != nil)
	b, _ := json.Marshal(rep)
	return b
}

// valueInUse is the value of a writable property in force, in the property's schema.
func valueInUse(name string, sched config.Schedule, det config.Detection) any {
	switch name {
	case dtdl.ImageTimerDue:
		return config.FormatISODuration(sched.Due.Std())
	case dtdl.ImageTimerPeriod:
		return config.FormatISODuration(sched.Period.Std())
	case dtdl.PredictionScoreThreshold:
		return det.ScoreThreshold
	case dtdl.PredictionLabelsOfInterest:
		return strings.Join(det.LabelsOfInterest, ",")
	case dtdl.PredictionLabelsMinimum:
		return strings.Join(det.LabelsMinimum, ",")
	case dtdl.PredictionFilters:
		return config.FormatFilters(det.Filters)
	}
	return nil
}

// ack is IoT Central's acknowledgement of a writable property.
type ack struct {
	Value any    `json:"value"`
	AC    int    `json:"ac"`
	AV    int64  `json:"av"`
	AD    string `json:"ad,omitempty"`
}

func (w *worker) desiredPatch(patch []byte, version int64) {
	var desired map[string]json.RawMessage
	if err := json.Unmarshal(patch, &desired); err != nil {
		w.log.Warn("unreadable desired-property patch ignored", "err", err)
		return
	}
	c, _ := w.link.current()
	if c == nil {
		return // the full twin is read again at the next connect
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w.applyDesired(ctx, c, desired, version)
}

// applyDesired validates and applies the writable properties in desired (a patch or the whole
// desired document), persists the accepted ones and acknowledges each: ac 200 with the value
// in force, or ac 400 with the reason and, as the Plug and Play convention asks, the value
// still in use. A property deleted in the cloud (null in a patch) goes back to the
// configuration file's value, acknowledged with ac 203 as at connect.
func (w *worker) applyDesired(ctx context.Context, c *iothub.Client, desired map[string]json.RawMessage, version int64) {
	acks := map[string]ack{}
	w.mu.Lock()
	if c == w.desiredClient && version < w.desiredVersion {
		w.mu.Unlock()
		w.log.Debug("ignoring desired properties older than those applied", "version", version, "applied", w.desiredVersion)
		return
	}
	w.desiredClient, w.desiredVersion = c, version
	sched, det, st := w.sched, w.detection, w.settings
	for name, raw := range desired {
		if strings.HasPrefix(name, "$") {
			continue
		}
		deleted := string(bytes.TrimSpace(raw)) == "null"
		var value any
		var err error
		if deleted {
			value, err = w.revertOne(name, &sched, &det, &st)
		} else {
			value, err = w.applyOne(name, raw, &sched, &det, &st)
		}
		if err == errUnknownProperty {
			w.log.Debug("ignoring unknown desired property", "name", name)
			continue
		}
		a := ack{AV: version}
		if err == nil && deleted {
			// The cloud no longer sets it: the device's own value, as reported at connect.
			a.AC, a.AD, a.Value = 203, "from the device configuration (the desired value was deleted)", value
			delete(w.refused, name)
		} else if err != nil {
			a.AC, a.AD = 400, err.Error()
			a.Value = valueInUse(name, sched, det)
			w.refused[name] = true
			w.log.Warn("desired property refused", "name", name, "value", string(raw), "reason", err)
		} else {
			a.AC, a.AD, a.Value = 200, "applied", value
			delete(w.refused, name)
		}
		acks[name] = a
	}
	changedSchedule := sched != w.sched
	if len(acks) > 0 {
		st.DesiredVersion = version
		w.sched, w.detection, w.settings = sched, det, st
		w.rules = w.rulesLocked()
		if err := st.save(w.settingsPath); err != nil {
			w.log.Error("could not persist the settings changed from the cloud", "file", w.settingsPath, "err", err)
		}
	}
	w.mu.Unlock()
	if changedSchedule {
		w.timer.Set(sched.Due.Std(), sched.Period.Std())
		w.metrics.SetPeriod(w.cam.ID, sched.Period.Std())
	}
	if len(acks) == 0 {
		return
	}
	w.log.Info("settings changed from the cloud", "desiredVersion", version, "schedule", sched.Period.Std(),
		"threshold", det.ScoreThreshold, "interest", det.LabelsOfInterest, "minimum", det.LabelsMinimum)
	b, _ := json.Marshal(acks)
	if _, err := c.UpdateReported(ctx, b); err != nil {
		w.log.Warn("could not acknowledge desired properties", "err", err)
	}
}

var errUnknownProperty = fmt.Errorf("unknown property")

// applyOne validates one writable property and applies it to the copies given; it returns the
// value now in force, in the property's schema.
func (w *worker) applyOne(name string, raw json.RawMessage, sched *config.Schedule, det *config.Detection, st *settings) (any, error) {
	switch name {
	case dtdl.ImageTimerDue, dtdl.ImageTimerPeriod:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("want a duration such as \"PT30S\"")
		}
		d, err := config.ParseDuration(s)
		if err != nil {
			return nil, err
		}
		next := *sched
		if name == dtdl.ImageTimerDue {
			next.Due = config.Duration(d)
		} else {
			next.Period = config.Duration(d)
		}
		if err := config.ValidateSchedule(next); err != nil {
			return nil, err
		}
		*sched = next
		v := config.Duration(d)
		if name == dtdl.ImageTimerDue {
			st.Due = &v
		} else {
			st.Period = &v
		}
		return config.FormatISODuration(d), nil
	case dtdl.PredictionScoreThreshold:
		var t float64
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, fmt.Errorf("want a number in (0,1]")
		}
		if err := config.ValidateThreshold(t); err != nil {
			return nil, err
		}
		det.ScoreThreshold, st.Threshold = t, &t
		return t, nil
	case dtdl.PredictionLabelsOfInterest, dtdl.PredictionLabelsMinimum:
		labels, err := parseLabelsValue(w.classes, raw)
		if err != nil {
			return nil, err
		}
		if name == dtdl.PredictionLabelsOfInterest {
			det.LabelsOfInterest, st.Interest = labels, &labels
		} else {
			det.LabelsMinimum, st.Minimum = labels, &labels
		}
		return strings.Join(labels, ","), nil
	case dtdl.PredictionFilters:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("want per-label filters such as \"bus: minScore=0.6; person: minArea=0.01\"")
		}
		filters, err := config.ParseFilters(w.classes, s)
		if err != nil {
			return nil, err
		}
		det.Filters, st.Filters = filters, &filters
		return config.FormatFilters(filters), nil
	}
	return nil, errUnknownProperty
}

// revertOne gives a writable property deleted from the desired properties (JSON null in a
// patch) back to the configuration file: the copies given get its value and the saved
// settings forget it. It returns the value now in force, in the property's schema.
func (w *worker) revertOne(name string, sched *config.Schedule, det *config.Detection, st *settings) (any, error) {
	switch name {
	case dtdl.ImageTimerDue, dtdl.ImageTimerPeriod:
		next := *sched
		if name == dtdl.ImageTimerDue {
			next.Due = w.ownSched.Due
		} else {
			next.Period = w.ownSched.Period
		}
		if err := config.ValidateSchedule(next); err != nil {
			return nil, fmt.Errorf("the configuration's value does not fit the other timer setting in force: %w", err)
		}
		*sched = next
		if name == dtdl.ImageTimerDue {
			st.Due = nil
		} else {
			st.Period = nil
		}
	case dtdl.PredictionScoreThreshold:
		det.ScoreThreshold, st.Threshold = w.ownDetection.ScoreThreshold, nil
	case dtdl.PredictionLabelsOfInterest:
		det.LabelsOfInterest, st.Interest = w.ownDetection.LabelsOfInterest, nil
	case dtdl.PredictionLabelsMinimum:
		det.LabelsMinimum, st.Minimum = w.ownDetection.LabelsMinimum, nil
	case dtdl.PredictionFilters:
		det.Filters, st.Filters = w.ownDetection.Filters, nil
	default:
		return nil, errUnknownProperty
	}
	return valueInUse(name, *sched, *det), nil
}

// parseLabelsValue reads a comma-separated string (the DTDL schema) or a JSON array of labels.
func parseLabelsValue(set classes.Set, raw json.RawMessage) ([]string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return config.ParseLabels(set, s)
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("want labels separated by commas, e.g. \"person,bicycle\"")
	}
	return set.Canonical(list)
}

// method answers a direct method (an IoT Central command).
func (w *worker) method(ctx context.Context, name string, payload []byte) (int, []byte) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	w.log.Info("command", "name", name)
	switch name {
	case dtdl.ImageTimerStart, dtdl.ImageTimerStop:
		stop := name == dtdl.ImageTimerStop
		w.mu.Lock() // the timer and its saved state change together
		if stop {
			w.timer.Stop()
		} else {
			w.timer.Start()
		}
		w.settings.TimerStopped = stop
		err := w.settings.save(w.settingsPath)
		w.mu.Unlock()
		if err != nil {
			w.log.Error("could not persist the timer state", "err", err)
		}
		state := map[bool]string{true: "stopped", false: "started"}[stop]
		return 200, jsonBody(map[string]string{"timer": state})
	case dtdl.CaptureNow:
		var status int
		var body []byte
		ran := w.timer.RunNow(ctx, func(ctx context.Context) {
			if _, err := w.runTick(ctx); err != nil {
				status, body = 500, jsonBody(map[string]string{"error": err.Error()})
				return
			}
			status, body = 200, jsonBody(w.body)
		})
		if !ran {
			return 503, jsonBody(map[string]string{"error": "the previous tick is still running; try again"})
		}
		return status, body
	}
	return 501, jsonBody(map[string]string{"error": fmt.Sprintf("unknown command %q; edgecam supports %s, %s and %s",
		name, dtdl.ImageTimerStart, dtdl.ImageTimerStop, dtdl.CaptureNow)})
}

// c2d handles IoT Central's "queue if offline" commands, which arrive as cloud-to-device
// messages with a method-name property; there is nobody to answer, so the result is logged.
func (w *worker) c2d(body []byte, props map[string]string) {
	name := props["method-name"]
	if name == "" {
		w.log.Info("cloud-to-device message ignored (no method-name property)", "bytes", len(body))
		return
	}
	status, resp := w.method(w.life, name, body)
	w.log.Info("queued command done", "name", name, "status", status, "response", string(bytes.TrimSpace(resp)))
}

func jsonBody(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`{"error":"internal"}`)
	}
	return b
}

// osVersion is the OS's pretty name and the kernel, e.g. "Debian GNU/Linux 12 (bookworm), linux/arm64 6.1.0".
func osVersion() string {
	name := runtime.GOOS
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				name = strings.Trim(v, `"`)
			}
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = " " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%s, %s/%s%s", name, runtime.GOOS, runtime.GOARCH, kernel)
}
