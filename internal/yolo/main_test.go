package yolo

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// sharedDir is the project's shared folder with the test model and photos: $EDGECAM_SHARED, else
// ../shared beside the folder holding go.mod.
func sharedDir(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("EDGECAM_SHARED"); dir != "" {
		return dir
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(dir), "shared")
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("no go.mod above the test directory; set EDGECAM_SHARED")
		}
	}
}

func modelPath(t testing.TB) string {
	t.Helper()
	p := filepath.Join(sharedDir(t), "models", "yolov5n.onnx")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("test model: %v (run `make deps`, or set EDGECAM_SHARED)", err)
	}
	return p
}

func imagePath(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(sharedDir(t), "testdata", "images", name)
}

func readImage(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(imagePath(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func initRuntime(t testing.TB) {
	t.Helper()
	lib, err := FindRuntimeLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	if err := InitRuntime(lib); err != nil {
		t.Fatal(err)
	}
}

var shared struct {
	once sync.Once
	det  *Detector
	err  error
}

// sharedDetector is one default Detector for the whole test binary (creating a session takes a while).
func sharedDetector(t testing.TB) *Detector {
	t.Helper()
	initRuntime(t)
	mp := modelPath(t)
	shared.once.Do(func() { shared.det, shared.err = New(Options{ModelPath: mp}) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.det
}
