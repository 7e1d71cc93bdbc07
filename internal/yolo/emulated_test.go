package yolo

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/testfixture"
)

// TestBusUnderEmulation runs the real model once, on bus.jpg, where the other real-model tests
// skip (make test-arm64: each costs dozens of frames at tens of seconds a frame under qemu): the
// arm64 ONNX Runtime, letterbox and JPEG decoder find the reference detections within 0.02 of
// score and 2 pixels. It runs only under emulation; on x86 TestReferencePhotos covers it.
func TestBusUnderEmulation(t *testing.T) {
	if os.Getenv(testfixture.EnvEmulated) != "1" {
		t.Skip("only under CPU emulation (make test-arm64); TestReferencePhotos checks every photo natively")
	}
	initRuntime(t)
	d, err := New(Options{ModelPath: filepath.Join(testfixture.SharedDir(t), "models", "yolov5n.onnx")})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var res Result
	start := time.Now()
	if err := d.DetectEncoded(readImage(t, "bus.jpg"), &res); err != nil {
		t.Fatal(err)
	}
	t.Logf("bus.jpg under emulation: %v (inference %v)", time.Since(start).Round(time.Millisecond), res.Timings.Inference.Round(time.Millisecond))
	want := reference["bus.jpg"]
	for _, w := range want {
		found := false
		for _, g := range res.Detections {
			if g.Label == w.label && math.Abs(float64(g.Score-w.score)) <= 0.02 && boxNear(g.Box, w.box, 2) {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s %.3f at %v among %+v", w.label, w.score, w.box, res.Detections)
		}
	}
}

func boxNear(a, b [4]float32, tol float64) bool {
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > tol {
			return false
		}
	}
	return true
}
