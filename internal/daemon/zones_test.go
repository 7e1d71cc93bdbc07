package daemon_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/emulator"
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
azure:
  dps: {globalEndpoint: %q, idScope: %q, groupEnrollmentKey: %q}
  modelId: %q
  caFile: %q
state: {dir: %q}
cameras:
  - id: bus-stop
    type: file
    path: %q
    markedUpFile: %q
    zones:
      - name: left
        polygon: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]
    masks:
      - polygon: [[0.75, 0], [1, 0], [1, 1], [0.75, 1]]
`, modelPath(t), e.DPSHost(), e.IDScope(), groupKey, modelID, e.CAFile(), dir, photo(t, "bus.jpg"), marked)
	file := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.LoadOptions{File: file, Env: []string{}})
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
