package camera

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/config"
)

// fakeTool writes an executable shell script named name into dir.
func fakeTool(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// fakePath puts only dir on PATH (the scripts call tools by absolute path), so a real
// rpicam-still on the machine cannot interfere.
func fakePath(t *testing.T) string {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	return dir
}

func readArgs(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

func TestRPiCapture(t *testing.T) {
	dir := fakePath(t)
	argsFile := filepath.Join(dir, "args")
	fakeTool(t, dir, "rpicam-still", `echo "$@" > `+argsFile+`; echo "[0:00:01] INFO Camera camera_manager.cpp" >&2; exec /bin/cat `+photo(t, "dog.jpg"))
	src, err := New(config.Camera{ID: "pi", Type: "rpi", Rotation: 180, Width: 768, Height: 576, Args: []string{"--awb", "indoor"}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := src.Capture(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	m := decodeFrame(t, f, 768, 576)
	m.Close()
	want := "-o - --nopreview -t 1000 --encoding jpg --rotation 180 --width 768 --height 576 --awb indoor"
	if got := readArgs(t, argsFile); got != want {
		t.Errorf("rpicam-still args %q, want %q", got, want)
	}
}

func TestRPiFallback(t *testing.T) {
	dir := fakePath(t)
	argsFile := filepath.Join(dir, "args")
	src, err := New(config.Camera{ID: "pi", Type: "rpi"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Capture(testCtx(t))
	wantErr(t, err, "camera pi", "none of rpicam-still, libcamera-still, libcamera-jpeg found on PATH")

	fakeTool(t, dir, "libcamera-jpeg", `echo "$@" > `+argsFile+`; exec /bin/cat `+photo(t, "dog.jpg"))
	if _, err := src.Capture(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got, want := readArgs(t, argsFile), "-o - --nopreview -t 1000"; got != want {
		t.Errorf("libcamera-jpeg args %q, want %q (it has no --encoding)", got, want)
	}

	fakeTool(t, dir, "libcamera-still", `echo "$@" > `+argsFile+`; exec /bin/cat `+photo(t, "dog.jpg"))
	if _, err := src.Capture(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got, want := readArgs(t, argsFile), "-o - --nopreview -t 1000 --encoding jpg"; got != want {
		t.Errorf("libcamera-still args %q, want %q", got, want)
	}

	// An explicit command wins over PATH lookup.
	custom := filepath.Join(t.TempDir(), "my-still")
	fakeTool(t, filepath.Dir(custom), "my-still", `echo custom "$@" > `+argsFile+`; exec /bin/cat `+photo(t, "dog.jpg"))
	src, err = New(config.Camera{ID: "pi", Type: "rpi", Command: custom})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Capture(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := readArgs(t, argsFile); !strings.HasPrefix(got, "custom -o -") {
		t.Errorf("custom command args %q", got)
	}
}

func TestRPiFailure(t *testing.T) {
	dir := fakePath(t)
	fakeTool(t, dir, "rpicam-still", `echo "[0:00:00.1] INFO RPI pipeline_base.cpp:1121 Using configuration file" >&2
echo "ERROR: *** no cameras available ***" >&2
exit 255`)
	src, err := New(config.Camera{ID: "pi", Type: "rpi"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Capture(testCtx(t))
	wantErr(t, err, "camera pi", "rpicam-still failed", "exit status 255", "ERROR: *** no cameras available ***")

	fakeTool(t, dir, "rpicam-still", `echo "not a jpeg"`)
	_, err = src.Capture(testCtx(t))
	wantErr(t, err, "camera pi", "rpicam-still output", "not a JPEG or PNG image")

	fakeTool(t, dir, "rpicam-still", `exec /bin/cat `+photo(t, "kite.jpg"))
	src, err = New(config.Camera{ID: "pi", Type: "rpi", MaxBytes: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Capture(testCtx(t))
	wantErr(t, err, "camera pi", "larger than 100000 bytes")
}

func TestRPiHungIsKilled(t *testing.T) {
	dir := fakePath(t)
	pidFile := filepath.Join(dir, "child.pid")
	// The tool starts a child that keeps stdout open, then hangs: both must die at the timeout.
	fakeTool(t, dir, "rpicam-still", `/bin/sleep 300 &
echo $! > `+pidFile+`
echo "waiting for camera" >&2
/bin/sleep 300`)
	src, err := New(config.Camera{ID: "pi", Type: "rpi", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Capture(testCtx(t))
	wantErr(t, err, "camera pi", "rpicam-still did not finish within 1s: killed", "waiting for camera")

	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// The child was killed with its process group: gone, or a zombie waiting for its reaper.
	deadline := time.Now().Add(30 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child %d of the hung rpicam-still still runs: %s", pid, stat)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRPiChildEnvironment: rpicam-still gets PATH, HOME, LIBCAMERA_* and the like, never the
// configuration's secrets that edgecam's own environment carries.
func TestRPiChildEnvironment(t *testing.T) {
	dir := fakePath(t)
	envFile := filepath.Join(dir, "env")
	t.Setenv("EDGECAM_AZURE__DPS__GROUPENROLLMENTKEY", "hunter2-key")
	t.Setenv("EDGECAM_CAMERAS__0__PASSWORD", "hunter2-pw")
	t.Setenv("CREDENTIALS_DIRECTORY", "/run/credentials/edgecam.service")
	t.Setenv("LIBCAMERA_LOG_LEVELS", "*:ERROR")
	t.Setenv("HOME", "/var/lib/edgecam") // hermetic-ok: a value passed on to the child, never opened
	fakeTool(t, dir, "rpicam-still", `/usr/bin/env > `+envFile+`; exec /bin/cat `+photo(t, "dog.jpg"))
	src, err := New(config.Camera{ID: "pi", Type: "rpi"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Capture(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	env := string(b)
	for _, bad := range []string{"hunter2", "EDGECAM_", "CREDENTIALS_DIRECTORY"} {
		if strings.Contains(env, bad) {
			t.Errorf("child environment holds %q:\n%s", bad, env)
		}
	}
	for _, good := range []string{"PATH=" + dir, "LIBCAMERA_LOG_LEVELS=*:ERROR", "HOME=/var/lib/edgecam"} {
		if !strings.Contains(env, good) {
			t.Errorf("child environment lacks %q:\n%s", good, env)
		}
	}
}
