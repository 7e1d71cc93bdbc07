package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgecam/edgecam/internal/testfixture"
)

func TestCaptureFromConfig(t *testing.T) {
	shippedConfigEnv(t)
	out := filepath.Join(t.TempDir(), "frame.jpg")

	stdout, stderr, err := runCLI(t, "capture", "--config", "configs/demo.yaml", "--camera", "pitch", "--out", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, out+": 168949 bytes, 1280x720, from camera pitch (file)") {
		t.Errorf("stdout: %q", stdout)
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() != 168949 {
		t.Fatalf("saved frame: %v %v", fi, err)
	}

	// A flag overrides the configured value.
	stdout, stderr, err = runCLI(t, "capture", "-c", "configs/demo.yaml", "--camera", "pitch", "--path", testPhoto(t, "dog.jpg"), "--out", out)
	if err != nil || !strings.Contains(stdout, "768x576") {
		t.Fatalf("override --path: %v %q %s", err, stdout, stderr)
	}

	_, _, err = runCLI(t, "capture", "--config", "configs/demo.yaml", "--out", out)
	if err == nil || !strings.Contains(err.Error(), "configures 2 cameras (bus-stop, pitch): choose one with --camera ID") {
		t.Errorf("no --camera: %v", err)
	}
	_, _, err = runCLI(t, "capture", "--config", "configs/demo.yaml", "--camera", "nope", "--out", out)
	if err == nil || !strings.Contains(err.Error(), `has no camera "nope": it configures bus-stop, pitch`) {
		t.Errorf("unknown --camera: %v", err)
	}
}

func TestCaptureFromFlags(t *testing.T) {
	photo := testfixture.ReadPhoto(t, "dog.jpg")
	srv := testfixture.SnapshotServer(t, photo, "admin", "pw", nil)
	out := filepath.Join(t.TempDir(), "frame.jpg")

	t.Setenv("EDGECAM_CAMERA_PASSWORD", "pw")
	stdout, stderr, err := runCLI(t, "capture", "--type", "http", "--url", srv.URL+"/snap.jpg", "--username", "admin",
		"--timeout", "5s", "--out", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, out+": 163759 bytes, 768x576, from camera capture (http)") {
		t.Errorf("stdout: %q", stdout)
	}
	if !strings.Contains(stderr, "deprecated environment variable") || !strings.Contains(stderr, "EDGECAM_CAMERAS__CAPTURE__PASSWORD") || strings.Contains(stderr, "=pw") {
		t.Errorf("no deprecation warning naming the new variable (and never the value): %q", stderr)
	}

	t.Setenv("EDGECAM_CAMERA_PASSWORD", "")
	t.Setenv("EDGECAM_CAMERAS__CAPTURE__PASSWORD", "wrong") // the configuration's name wins over the deprecated one
	_, stderr, err = runCLI(t, "capture", "--type", "http", "--url", srv.URL+"/snap.jpg", "--username", "admin", "--out", out)
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized: check the username and password") {
		t.Errorf("wrong password: %v", err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--type", "file", "--path", "x.jpg"}, "--out FILE is required"},
		{[]string{"--out", out}, "say which camera"},
		{[]string{"--type", "webcam", "--out", out}, `unknown type "webcam"`},
		{[]string{"--type", "file", "--path", "x.jpg", "--timeout", "soon", "--out", out}, `--timeout "soon"`},
		{[]string{"--type", "file", "--path", filepath.Join(t.TempDir(), "missing.jpg"), "--out", out}, "does not exist"},
	} {
		_, _, err := runCLI(t, append([]string{"capture"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("capture %q: %v, want an error saying %q", tc.args, err, tc.want)
		}
	}

	stdout, _, err = runCLI(t, "capture", "--help")
	if err != nil || !strings.Contains(stdout, "edgecam capture --config edgecam.yaml --camera garage --out frame.jpg") {
		t.Errorf("help: %v\n%s", err, stdout)
	}
}
