// Package testfixture locates the project's test fixtures, which live outside the repository
// (licenses, size): the model and photos in the shared folder, $EDGECAM_SHARED or ../shared
// beside the folder holding go.mod. Only tests import it.
package testfixture

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// RepoRoot is the folder holding go.mod, found upward from the test's working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory; set EDGECAM_SHARED")
		}
		dir = parent
	}
}

// SharedDir is the shared folder: $EDGECAM_SHARED, else ../shared beside the repository.
func SharedDir(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("EDGECAM_SHARED"); dir != "" {
		return dir
	}
	return filepath.Join(filepath.Dir(RepoRoot(t)), "shared")
}

// EnvEmulated is set to 1 by `make test-arm64` only, which runs the arm64 test binaries under
// qemu-user (scripts/test-arm64.sh). There yolov5n takes ~3 minutes a frame, and a built arm64
// binary cannot be executed by a test (no binfmt_misc): tests that need either skip, and the
// ONNX Runtime paths are exercised with the hand-made tiny models of the yolo tests.
const EnvEmulated = "EDGECAM_TEST_EMULATED"

// SkipIfEmulated skips the test when it runs under CPU emulation (EnvEmulated), saying why.
func SkipIfEmulated(t testing.TB, why string) {
	t.Helper()
	if os.Getenv(EnvEmulated) == "1" {
		t.Skipf("under CPU emulation (%s=1): %s; a real arm64 machine runs it", EnvEmulated, why)
	}
}

// ModelPath is the test model, shared/models/yolov5n.onnx; the test fails when it is missing and
// skips under CPU emulation (see EnvEmulated).
func ModelPath(t testing.TB) string {
	t.Helper()
	SkipIfEmulated(t, "the real model takes 15-90 s a frame emulated: TestBusUnderEmulation runs it once per model")
	return mustExist(t, filepath.Join(SharedDir(t), "models", "yolov5n.onnx"))
}

// Photo is a test photo, shared/testdata/images/name; the test fails when it is missing.
func Photo(t testing.TB, name string) string {
	t.Helper()
	return mustExist(t, filepath.Join(SharedDir(t), "testdata", "images", name))
}

func mustExist(t testing.TB, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("test fixture: %v (run `make deps`, or set EDGECAM_SHARED to the shared folder)", err)
	}
	return path
}

// ReadPhoto returns the bytes of the shared test photo name (see Photo).
func ReadPhoto(t testing.TB, name string) []byte {
	t.Helper()
	return ReadFile(t, Photo(t, name))
}

// ReadFile returns the content of path, failing the test when it cannot be read.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// WriteFile writes data to dir/name (mode 0644), failing the test when it cannot, and returns
// the path.
func WriteFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Context is a context that ends after d (generous: a loaded 2-core machine is slow, but nothing
// a test waits for should hang) or with the test.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
