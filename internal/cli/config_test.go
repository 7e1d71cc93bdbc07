package cli

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestConfigCheckShippedConfigs checks configs/demo.yaml and configs/example.yaml validate, with
// the model and photos taken from the shared folder through the environment, as `make run` does.
func TestConfigCheckShippedConfigs(t *testing.T) {
	shippedConfigEnv(t)

	out, errOut, err := runCLI(t, "config", "check", "--config", "configs/demo.yaml")
	if err != nil {
		t.Fatalf("demo.yaml: %v\n%s", err, errOut)
	}
	for _, want := range []string{"idScope: 0ne", "groupEnrollmentKey: '*****'", "labelsMinimum: [bicycle, car, person]", "- id: pitch", "zidane.jpg"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo.yaml output lacks %q:\n%s", want, out)
		}
	}
	raw, err := os.ReadFile("configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`groupEnrollmentKey: "([^"]+)"`).FindSubmatch(raw)
	if key == nil || strings.Contains(out, string(key[1])) {
		t.Errorf("group key printed (or not found in demo.yaml):\n%s", out)
	}
	if !strings.Contains(errOut, "configs/demo.yaml is valid: 2 camera(s), DPS") || strings.Contains(errOut, "warning") {
		t.Errorf("stderr: %s", errOut)
	}

	// Those two name cameras example.yaml does not have (t.Setenv restores them afterwards).
	os.Unsetenv("EDGECAM_CAMERAS__BUS-STOP__PATH")
	os.Unsetenv("EDGECAM_CAMERAS__1__PATH")
	out, errOut, err = runCLI(t, "config", "check", "-c", "configs/example.yaml", "--json")
	if err != nil {
		t.Fatalf("example.yaml: %v\n%s", err, errOut)
	}
	var doc struct {
		Cameras []struct {
			ID, Type string
		} `json:"cameras"`
		Azure struct {
			DPS struct {
				GroupEnrollmentKey string `json:"groupEnrollmentKey"`
			} `json:"dps"`
		} `json:"azure"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if len(doc.Cameras) != 3 || doc.Cameras[2].Type != "rpi" || doc.Azure.DPS.GroupEnrollmentKey != "*****" {
		t.Errorf("example.yaml as JSON: %+v", doc)
	}
}

func TestConfigCheckListsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bad.yaml")
	yaml := `model: {path: ` + filepath.Join(dir, "none.onnx") + `}
schedual: {period: 10s}
detection: {labelsOfInterest: [persn], scoreThreshold: 1.2}
azure: {dps: {idScope: 0ne00DEMO00, groupEnrollmentKey: "a2V5"}}
cameras:
  - {id: a, type: htp}
  - {id: a, type: rpi, rotation: 90, password: hunter2}
`
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runCLI(t, "config", "check", "--config", file)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("err = %v, want exit status 1", err)
	}
	if out != "" {
		t.Errorf("stdout: %s", out)
	}
	for _, want := range []string{
		"7 problems:",
		`schedual: unknown key (did you mean "schedule"?)`,
		"model.path: file",
		"detection.scoreThreshold: 1.2 is outside (0,1]",
		`detection.labelsOfInterest: unknown label "persn" (did you mean "person"?)`,
		`cameras[0].type: unknown camera type "htp" (did you mean "http"?)`,
		`cameras[1].id: "a" is also the id of cameras[0]`,
		"cameras[1].rotation: 90 is not supported",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "hunter2") {
		t.Errorf("password in output:\n%s", errOut)
	}

	if _, _, err := runCLI(t, "config", "check", "--config", filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("missing file: %v", err)
	}
}
