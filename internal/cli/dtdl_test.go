package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgecam/edgecam/internal/dtdl"
	"github.com/edgecam/edgecam/internal/dtdl/dtdlcheck"
	"github.com/edgecam/edgecam/internal/onnxmodel/onnxtest"
)

func TestDTDLDefault(t *testing.T) {
	const id = "dtmi:com:example:edgecam;1"
	out, _, err := runCLI(t, "dtdl", "--model-id", id)
	if err != nil {
		t.Fatal(err)
	}
	want, err := dtdl.Interface(dtdl.Options{ModelID: id})
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Error("edgecam dtdl output differs from dtdl.Interface")
	}
	if err := dtdlcheck.Validate([]byte(out)); err != nil {
		t.Error(err)
	}
}

// writeConfig writes a valid configuration with two cameras: global labelsMinimum person and car,
// labelsOfInterest traffic light; cam2's detection override is cam2Detection (YAML lines).
func writeConfig(t *testing.T, cam2Detection string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "img.jpg"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A tiny valid model with 80 classes and no names: COCO-80.
	model := onnxtest.ConstantModel([]int64{1, 3, 32, 32}, []int64{1, 100, 85}, make([]float32, 100*85), nil)
	if err := os.WriteFile(filepath.Join(dir, "model.onnx"), model, 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := `model:
  path: ` + filepath.Join(dir, "model.onnx") + `
state:
  dir: ` + filepath.Join(dir, "state") + `
detection:
  labelsMinimum: [person, Car]
  labelsOfInterest: [traffic_light]
azure:
  modelId: "dtmi:com:example:edgecam;2"
  dps:
    idScope: 0ne00000000
    groupEnrollmentKey: "8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw=="
cameras:
  - id: cam1
    type: file
    path: ` + filepath.Join(dir, "img.jpg") + `
  - id: cam2
    type: file
    path: ` + filepath.Join(dir, "img.jpg") + `
    detection:
` + cam2Detection
	path := filepath.Join(dir, "edgecam.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDTDLLabelsFromConfig(t *testing.T) {
	cfg := writeConfig(t, "      labelsMinimum: [dog]\n")
	for labels, want := range map[string][]string{
		"minimum":  {"person", "car", "dog"},
		"interest": {"person", "car", "traffic_light", "dog"},
	} {
		out, _, err := runCLI(t, "dtdl", "--config", cfg, "--labels", labels)
		if err != nil {
			t.Fatalf("--labels %s: %v", labels, err)
		}
		if err := dtdlcheck.Validate([]byte(out)); err != nil {
			t.Errorf("--labels %s: %v", labels, err)
		}
		names, err := dtdl.TelemetryNames([]byte(out))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(names, want) {
			t.Errorf("--labels %s: telemetry %v, want %v", labels, names, want)
		}
		if !strings.Contains(out, `"@id": "dtmi:com:example:edgecam;2"`) {
			t.Errorf("--labels %s: the model ID of the configuration is not used", labels)
		}
	}
}

func TestDTDLInterestAnyLabel(t *testing.T) {
	cfg := writeConfig(t, "      labelsOfInterest: []\n")
	out, stderr, err := runCLI(t, "dtdl", "--config", cfg, "--labels", "interest", "--model-id", "dtmi:com:example:other;3")
	if err != nil {
		t.Fatal(err)
	}
	names, _ := dtdl.TelemetryNames([]byte(out))
	if len(names) != 80 || !strings.Contains(stderr, "all 80") {
		t.Errorf("%d telemetries, stderr %q: want all 80 and a note", len(names), stderr)
	}
	if !strings.Contains(out, `"dtmi:com:example:other;3"`) {
		t.Error("--model-id does not win over azure.modelId")
	}
}

func TestDTDLErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"dtdl"}, "--model-id is required"},
		{[]string{"dtdl", "--model-id", "dtmi:com:example:edgecam"}, `";1"`},
		{[]string{"dtdl", "--model-id", "dtmi:com:x;1", "--labels", "some"}, "use all, minimum or interest"},
		{[]string{"dtdl", "--model-id", "dtmi:com:x;1", "--labels", "minimum"}, "add --config"},
		{[]string{"dtdl", "--check", "model.json"}, "edgecam-emulator check-dtdl model.json"},
	} {
		_, _, err := runCLI(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want it to mention %s", tc.args, err, tc.want)
		}
	}
}

// The zones of every camera are declared as "<zone>_<label>" telemetry, valid DTDL.
func TestDTDLZonesFromConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := configFile(t, dir, `
model: {path: `+testModel(t)+`}
detection: {labelsMinimum: [car, person]}
azure:
  dps: {idScope: 0ne00DEMO00, groupEnrollmentKey: "ZGFlbW9uLXRlc3RzLWdyb3VwLWVucm9sbG1lbnQta2V5LTAxMjM0NTY3ODk="}
  modelId: "dtmi:com:example:edgecam;2"
cameras:
  - id: a
    type: file
    path: `+testPhoto(t, "bus.jpg")+`
    zones:
      - {name: left, polygon: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}
      - {name: door, polygon: [[0.5, 0], [1, 0], [1, 1]], labels: [person, dog]}
`)
	out, names := validDTDL(t, "--config", cfg, "--labels", "minimum")
	want := []string{"person", "car", "left_person", "left_car", "door_person", "door_dog"}
	if !slices.Equal(names, want) {
		t.Errorf("telemetry = %q, want %q", names, want)
	}
	if !strings.Contains(out, `"name": "PredictionFilters"`) {
		t.Error("no PredictionFilters property")
	}
	// All 80 labels: 80 for the frame, 80 for left, 2 for door, within DTDL's 300 contents.
	if _, _, err := runCLI(t, "dtdl", "--config", cfg); err != nil {
		t.Errorf("--labels all: %v", err)
	}
}

// A model with its own classes (names from its labels file) gets a DTDL model of those classes.
func TestDTDLCustomClasses(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "warehouse.onnx")
	if err := os.WriteFile(model, onnxtest.YOLOv5Model(320, 2, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "warehouse.labels"), []byte("forklift\nsafety vest\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := configFile(t, dir, `
model: {path: `+model+`}
detection: {labelsMinimum: [forklift]}
azure: {modelId: "dtmi:com:example:warehouse;1"}
cameras:
  - id: dock
    type: file
    path: `+testPhoto(t, "bus.jpg")+`
    zones:
      - {name: bay, polygon: [[0, 0], [1, 0], [1, 1]], labels: [Safety_Vest]}
`)
	_, names := validDTDL(t, "--config", cfg)
	if want := []string{"forklift", "safety_vest", "bay_safety_vest"}; !slices.Equal(names, want) {
		t.Errorf("telemetry = %q, want %q", names, want)
	}
}

// validDTDL runs `edgecam dtdl args...`, fails the test unless it succeeds with a valid DTDL
// model, and returns the model and its telemetry names.
func validDTDL(t *testing.T, args ...string) (string, []string) {
	t.Helper()
	out, _, err := runCLI(t, append([]string{"dtdl"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := dtdlcheck.Validate([]byte(out)); err != nil {
		t.Fatalf("invalid DTDL: %v", err)
	}
	names, _ := dtdl.TelemetryNames([]byte(out))
	return out, names
}
