package daemon_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/daemon"
	"github.com/edgecam/edgecam/internal/emulator"
	"github.com/edgecam/edgecam/internal/onnxmodel/onnxtest"
	"github.com/edgecam/edgecam/internal/yolo"
)

// The example end to end, from a configuration file to the hub: bus.jpg (810x1080)
// through the real model, people standing at x = 0.35, 0.16 and 0.92 of the width and a bus
// scoring 0.53. A mask on the right quarter hides the third person everywhere, the zone "left"
// (the left half) holds the other two, and the bus filter (minScore 0.6) drops the bus before
// counting; car is a minimum label, so it is padded in the frame and in the zone.
func TestZonesMasksAndFiltersReachTheHub(t *testing.T) {
	e := startEmulator(t)
	dir := t.TempDir()
	marked := filepath.Join(dir, "marked.jpg")
	yaml := fmt.Sprintf(`
model: {path: %q}
schedule: {due: 0s, period: 1s}
detection:
  scoreThreshold: 0.5
  labelsOfInterest: []
  labelsMinimum: [car]
  filters:
    bus: {minScore: 0.6}
%scameras:
  - id: bus-stop
    type: file
    path: %q
    markedUpFile: %q
    zones:
      - name: left
        polygon: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]
    masks:
      - polygon: [[0.75, 0], [1, 0], [1, 1], [0.75, 1]]
`, modelPath(t), dpsYAML(e, dir), photo(t, "bus.jpg"), marked)
	cfg, err := loadYAML(t, dir, yaml)
	if err != nil {
		t.Fatal(err)
	}
	_, log := newLogRecorder(t)
	start := time.Now()
	d := startDaemon(t, cfg, log, nil)
	if _, err := e.WaitTelemetry(waitCtx(t), 2, emulator.FromDevice("bus-stop")); err != nil {
		t.Fatal(err)
	}
	if err := d.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := map[string]int{"person": 2, "car": 0, "left_person": 2, "left_car": 0}
	msgs := fromDevice(e, "bus-stop")
	for i, m := range msgs {
		var got map[string]int
		if err := json.Unmarshal(m.Body, &got); err != nil || !maps.Equal(got, want) {
			t.Errorf("message %d: body %s, want %v", i, m.Body, want)
		}
	}
	checkMessages(t, "bus-stop", msgs, `{"car":0,"left_car":0,"left_person":2,"person":2}`, modelID, start, time.Now())
	if st, err := os.Stat(marked); err != nil || st.Size() == 0 {
		t.Errorf("marked-up frame with the zone and the mask: %v", err)
	}
}

// IoT Central changes the per-label filters with the PredictionFilters writable property: the
// device reports the configuration's (none) at connect, applies and acknowledges a valid change,
// refuses an unknown label, and keeps the accepted filters in its saved settings.
func TestFiltersFromTheCloud(t *testing.T) {
	r := newRemoteRig(t, 0.5)
	r.start()
	if _, err := r.emu.WaitTelemetry(remoteCtx(t, 60*time.Second), 1, remoteAfter(time.Time{}, busAt05)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.emu.WaitTwin(remoteCtx(t, 30*time.Second), "cam-bus", func(tw emulator.Twin) bool {
		a, ok := tw.Reported["PredictionFilters"].(map[string]any)
		return ok && a["ac"] == float64(203) && a["value"] == ""
	}); err != nil {
		t.Fatalf("PredictionFilters not reported at connect: %v", err)
	}

	// bus.jpg's people cover 0.068, 0.088 and 0.073 of the frame: minArea 0.07 drops the first.
	v, err := r.emu.UpdateDesired("cam-bus", map[string]any{"PredictionFilters": "Bus: minScore=0.6; person: minArea=0.07"})
	if err != nil {
		t.Fatal(err)
	}
	if a := r.waitAck("PredictionFilters", v); a["ac"] != float64(200) || a["value"] != "bus: minScore=0.6; person: minArea=0.07" {
		t.Fatalf("ack %v", a)
	}
	changed := time.Now()
	if _, err := r.emu.WaitTelemetry(remoteCtx(t, 30*time.Second), 2, remoteAfter(changed, map[string]int{"person": 2, "bus": 0})); err != nil {
		t.Fatal(err)
	}

	v, _ = r.emu.UpdateDesired("cam-bus", map[string]any{"PredictionFilters": "buss: minScore=0.6"})
	if a := r.waitAck("PredictionFilters", v); a["ac"] != float64(400) || !strings.Contains(fmt.Sprint(a["ad"]), `unknown label "buss" (did you mean "bus"?)`) {
		t.Fatalf("ack of an unknown label %v", a)
	}
	saved, err := os.ReadFile(filepath.Join(r.state, "settings", "cam-bus.json"))
	if err != nil || !strings.Contains(string(saved), `"filters"`) || !strings.Contains(string(saved), `"minArea": 0.07`) {
		t.Fatalf("persisted settings: %v %s", err, saved)
	}
}

// A model with its own classes end to end: a generated YOLOv5-layout model (320x320 input) whose
// `names` metadata says forklift and pallet, with a forklift planted at x = 0.25 and a pallet at
// x = 0.75 of the frame. The configuration names those labels (checked against the model's, not
// COCO's), the zone "dock" counts pallets on the right half, and the hub receives the tally.
func TestCustomClassesReachTheHub(t *testing.T) {
	e := startEmulator(t)
	dir := t.TempDir()
	// bus.jpg (810x1080) letterboxed to 320: scale 0.2963, 40 px of padding left and right.
	model := filepath.Join(dir, "warehouse.onnx")
	data := onnxtest.YOLOv5Model(320, 2, []string{"forklift", "pallet"},
		onnxtest.Box{CX: 100, CY: 200, W: 40, H: 60, Score: 0.9, Class: 0},
		onnxtest.Box{CX: 220, CY: 250, W: 30, H: 30, Score: 0.8, Class: 1})
	if err := os.WriteFile(model, data, 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`
model: {path: %q}
schedule: {due: 0s, period: 1s}
detection:
  scoreThreshold: 0.5
  labelsMinimum: [Forklift, pallet]
%scameras:
  - id: warehouse
    type: file
    path: %q
    zones:
      - {name: dock, polygon: [[0.5, 0], [1, 0], [1, 1], [0.5, 1]], labels: [pallet]}
`, model, dpsYAML(e, dir), photo(t, "bus.jpg"))
	cfg, err := loadYAML(t, dir, yaml)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Classes.Names(); len(got) != 2 || got[0] != "forklift" {
		t.Fatalf("configuration classes %q", got)
	}
	det, err := yolo.New(yolo.Options{ModelPath: model, Runtime: yolo.RuntimeOptions{Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer det.Close()
	_, log := newLogRecorder(t)
	d := startDaemonWith(t, daemon.Options{Config: cfg, Detector: det, Logger: log})
	_, werr := e.WaitTelemetry(waitCtx(t), 2, emulator.FromDevice("warehouse"))
	d.stopOK(t)
	if werr != nil {
		t.Fatal(werr)
	}
	for i, m := range fromDevice(e, "warehouse") {
		if string(m.Body) != `{"dock_pallet":1,"forklift":1,"pallet":1}` {
			t.Errorf("message %d: body %s", i, m.Body)
		}
	}

	// A COCO label is not one of this model's: the configuration says so, with its classes.
	bad := strings.Replace(yaml, "labelsMinimum: [Forklift, pallet]", "labelsMinimum: [person]", 1)
	_, err = loadYAML(t, dir, bad)
	if want := `detection.labelsMinimum: unknown label "person" for this model (did you mean "pallet"? its classes, from the model's names metadata: forklift, pallet)`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Load = %v, want %q", err, want)
	}
}
