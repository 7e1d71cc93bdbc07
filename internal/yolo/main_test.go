package yolo

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/edgecam/edgecam/internal/testfixture"
)

func sharedDir(t testing.TB) string { return testfixture.SharedDir(t) }
func modelPath(t testing.TB) string { return testfixture.ModelPath(t) }

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
