package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgecam/edgecam/internal/emulator"
)

func provisionCLI(t *testing.T, args ...string) (stdout string, err error) {
	t.Helper()
	stdout, _, err = runCLI(t, append([]string{"provision", "--log-level", "error"}, args...)...)
	return stdout, err
}

func TestProvisionAgainstEmulator(t *testing.T) {
	e, err := emulator.Start(context.Background(), emulator.Config{DPS: emulator.DPSConfig{
		Groups: []emulator.Group{{Key: emulator.DemoGroupKey}}, AssignAfterPolls: 1,
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	base := []string{"--endpoint", e.DPSHost(), "--ca-file", e.CAFile(), "--id-scope", e.IDScope(), "--registration-id", "cam1"}

	// The key from the environment, not the command line.
	t.Setenv("EDGECAM_DPS_GROUP_KEY", emulator.DemoGroupKey)
	out, err := provisionCLI(t, append(base, "--model-id", "dtmi:edgecam:Camera;1")...)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, ":")
		fields[k] = strings.TrimSpace(v)
	}
	for k, want := range map[string]string{"hub": e.HubHost(), "device ID": "cam1", "status": "assigned", "source": "DPS registration"} {
		if fields[k] != want {
			t.Errorf("%s = %q, want %q:\n%s", k, fields[k], want, out)
		}
	}

	dir := t.TempDir()
	for i, wantCached := range []bool{false, true} {
		out, err := provisionCLI(t, append(base, "--state-dir", dir, "--json")...)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			AssignedHub, DeviceID, Status string
			Cached                        bool
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, out)
		}
		if v.AssignedHub != e.HubHost() || v.DeviceID != "cam1" || v.Status != "assigned" || v.Cached != wantCached {
			t.Errorf("run %d: %+v", i, v)
		}
	}

	t.Setenv("EDGECAM_DPS_GROUP_KEY", "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk=")
	if _, err := provisionCLI(t, base...); err == nil || !strings.Contains(err.Error(), "ID scope") || strings.Contains(err.Error(), "d3Jvbmcta2V5") {
		t.Errorf("wrong key: %v", err)
	}
}

func TestProvisionFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--registration-id", "cam1", "--group-key", "eA=="}, "--id-scope is required"},
		{[]string{"--id-scope", "0ne1", "--group-key", "eA=="}, "--registration-id is required"},
		{[]string{"--id-scope", "0ne1", "--registration-id", "cam1"}, "a key is required"},
		{[]string{"--id-scope", "0ne1", "--registration-id", "cam1", "--group-key", "eA==", "--device-key", "eA=="}, "not both"},
		{[]string{"--id-scope", "0ne1", "--registration-id", "cam1", "--group-key", "eA==", "--force"}, "--force needs --state-dir"},
		{[]string{"--id-scope", "0ne1", "--registration-id", "cam1", "--group-key", "eA==", "--payload", "{"}, "--payload is not valid JSON"},
	} {
		for _, env := range []string{"EDGECAM_DPS_GROUP_KEY", "EDGECAM_DPS_DEVICE_KEY", "EDGECAM_DPS_ID_SCOPE", "EDGECAM_DPS_REGISTRATION_ID"} {
			t.Setenv(env, "")
		}
		_, err := provisionCLI(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	out, err := provisionCLI(t, "--help")
	if err != nil || !strings.Contains(out, "edgecam-emulator") || !strings.Contains(out, "EDGECAM_DPS_GROUP_KEY") {
		t.Errorf("help: %v\n%s", err, out)
	}
}

func TestProvisionFromConfig(t *testing.T) {
	e, err := emulator.Start(context.Background(), emulator.Config{DPS: emulator.DPSConfig{
		Groups: []emulator.Group{{Key: emulator.DemoGroupKey}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	state := t.TempDir()
	// The model file and camera source need not exist: provision only needs azure and the camera id.
	yaml := "model: {path: /nonexistent.onnx}\nazure:\n  dps: {globalEndpoint: \"" + e.DPSHost() + "\", idScope: " + e.IDScope() +
		", groupEnrollmentKey: \"" + emulator.DemoGroupKey + "\"}\n  modelId: \"dtmi:edgecam:Camera;1\"\n  caFile: " + e.CAFile() +
		"\nstate: {dir: " + state + "}\ncameras:\n  - {id: garage, type: file, path: /nonexistent.jpg}\n"
	file := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := provisionCLI(t, "--config", file, "--camera", "garage", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"garage"`) || !strings.Contains(out, e.HubHost()) {
		t.Fatalf("output %s", out)
	}
	regs := e.Registrations()
	if len(regs) != 1 || regs[0].ModelID != "dtmi:edgecam:Camera;1" {
		t.Fatalf("registrations %+v", regs)
	}
	// Cached where the daemon looks, so the daemon does not register again.
	if entries, _ := os.ReadDir(filepath.Join(state, "dps")); len(entries) != 1 {
		t.Fatalf("cache in state.dir/dps: %v", entries)
	}
	if _, err := provisionCLI(t, "--config", file, "--camera", "porch"); err == nil || !strings.Contains(err.Error(), `"porch"`) {
		t.Errorf("unknown camera: %v", err)
	}
	if _, err := provisionCLI(t, "--camera", "garage"); err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("--camera alone: %v", err)
	}
}

func TestProvisionDeriveKey(t *testing.T) {
	// The test vector of the DPS symmetric key attestation doc.
	t.Setenv("EDGECAM_DPS_GROUP_KEY", "8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw==")
	out, err := provisionCLI(t, "--derive-key", "sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6")
	if err != nil || out != "Jsm0lyGpjaVYVP2g3FnmnmG9dI/9qU24wNoykUmermc=\n" {
		t.Fatalf("%q %v", out, err)
	}
	if _, err := provisionCLI(t, "--derive-key", "Cam1"); err == nil || !strings.Contains(err.Error(), "lower case") {
		t.Errorf("upper-case registration ID: %v", err)
	}
	// DPS refuses these IDs, so no key is printed for them; the fix suggested is itself valid.
	for id, want := range map[string]string{
		"Bad Id!": `contains ' ': a DPS registration ID may hold letters, digits and - . _ : only`,
		"cam1.":   `ends with '.'`,
	} {
		if out, err := provisionCLI(t, "--derive-key", id); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--derive-key %q: %q, %v; want an error with %q", id, out, err, want)
		}
	}
	t.Setenv("EDGECAM_DPS_GROUP_KEY", "")
	if _, err := provisionCLI(t, "--derive-key", "cam1"); err == nil || !strings.Contains(err.Error(), "needs the group key") {
		t.Errorf("no group key: %v", err)
	}
}
