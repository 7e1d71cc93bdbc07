// Package testfixture locates the project's test fixtures, which live outside the repository
// (licenses, size): the model and photos in the shared folder, $EDGECAM_SHARED or ../shared
// beside the folder holding go.mod. Only tests import it.
package testfixture

import (
	"os"
	"path/filepath"
	"testing"
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

// ModelPath is the test model, shared/models/yolov5n.onnx; the test fails when it is missing.
func ModelPath(t testing.TB) string {
	t.Helper()
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
