// Package dettest opens real YOLO detectors (ONNX Runtime and a model from the shared folder)
// for the tests of the packages above yolo. Only tests import it.
package dettest

import (
	"testing"

	"github.com/edgecam/edgecam/internal/testfixture"
	"github.com/edgecam/edgecam/internal/yolo"
)

// InitRuntime finds and loads the ONNX Runtime library (EDGECAM_ORT_LIB or the usual places),
// failing the test when it cannot.
func InitRuntime(t testing.TB) {
	t.Helper()
	lib, err := yolo.FindRuntimeLibrary("")
	if err != nil {
		t.Fatalf("ONNX Runtime library (run `make deps`): %v", err)
	}
	if err := yolo.InitRuntime(lib); err != nil {
		t.Fatal(err)
	}
}

// Open loads the runtime and opens a detector with o (ModelPath empty: the shared YOLOv5n
// model), failing the test when it cannot; the detector is closed when the test ends.
func Open(t testing.TB, o yolo.Options) *yolo.Detector {
	t.Helper()
	InitRuntime(t)
	if o.ModelPath == "" {
		o.ModelPath = testfixture.ModelPath(t)
	}
	det, err := yolo.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { det.Close() })
	return det
}
