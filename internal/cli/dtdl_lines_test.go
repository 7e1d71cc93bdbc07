package cli

import (
	"slices"
	"testing"
)

// dtdl --config declares each counting line's four telemetries per label.
func TestDTDLLinesFromConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := configFile(t, dir, `
model: {path: `+testModel(t)+`}
detection: {labelsMinimum: [car, person]}
azure:
  modelId: "dtmi:com:example:edgecam;2"
cameras:
  - id: a
    type: rtsp
    url: rtsp://127.0.0.1:8554/a
    analysis: {fps: 5}
    lines:
      - {name: door, points: [[0.5, 0], [0.5, 1]], in: right, labels: [person]}
      - {name: gate, points: [[0, 0.5], [1, 0.5]], in: down}
`)
	_, names := validDTDL(t, "--config", cfg, "--labels", "minimum")
	want := []string{"person", "car",
		"door_person_in", "door_person_out", "door_person_inTotal", "door_person_outTotal",
		"gate_person_in", "gate_person_out", "gate_person_inTotal", "gate_person_outTotal",
		"gate_car_in", "gate_car_out", "gate_car_inTotal", "gate_car_outTotal"}
	if !slices.Equal(names, want) {
		t.Errorf("telemetry = %q, want %q", names, want)
	}
}
