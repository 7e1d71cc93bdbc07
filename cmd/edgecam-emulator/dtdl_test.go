package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgecam/edgecam/internal/dtdl"
)

func TestCheckDTDLMissingFile(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"check-dtdl", filepath.Join(t.TempDir(), "missing.json")}, nil, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "no such file") {
		t.Errorf("exit %d, stderr %q: want 1 and the missing file", code, errOut.String())
	}
}

// runCLI runs edgecam-emulator with args and returns its stdout, stderr and error.
func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd(nil, &out, &errOut)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errOut.String(), err
}

func TestCheckDTDL(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	doc, err := dtdl.Interface(dtdl.Options{ModelID: "dtmi:com:example:edgecam;1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCLI(t, "check-dtdl", good)
	if err != nil || !strings.Contains(out, "valid DTDL v2 (80 telemetries)") {
		t.Errorf("--check good: %q, %v", out, err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, bytes.Replace(doc, []byte(`"name": "traffic_light"`), []byte(`"name": "traffic light"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = runCLI(t, "check-dtdl", bad)
	if err == nil || !strings.Contains(err.Error(), `"traffic light"`) {
		t.Errorf("--check bad: err = %v, want it to name the bad telemetry", err)
	}
}
