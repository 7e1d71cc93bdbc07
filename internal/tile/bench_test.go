package tile

import (
	"syscall"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/yolo"
)

// BenchmarkTiledFrame measures the cost bound on a 2560x1920 far-away frame with YOLO11n:
// each iteration detects the whole frame once (single-ms) and then tiled 3 x 3 with the whole
// frame (tiled-ms, 10 detections). budget-ratio is tiled / (detections x single): at most 1.1
// means a tiled frame costs at most (tiles + 1) x one detection + 10 %. cpu-ratio is the same
// ratio of the process's CPU time (every ONNX Runtime thread counted), which other jobs on a
// shared machine disturb less than wall time. allocs/op counts both.
//
//	go test -run '^$' -bench TiledFrame -benchtime 10x ./internal/tile/
func BenchmarkTiledFrame(b *testing.B) {
	base := yolo11n(b)
	dir, photos := coco128(b)
	c := buildComposite(b, dir, photos[:photosPerFrame])
	defer c.img.Close()
	tiled := New(base, Options{Cols: 3, Rows: 3, Overlap: 0.2, Full: true})
	var res yolo.Result
	// Warm-up: the first run of each input size allocates the detector's scratch.
	if err := base.Detect(c.img, &res); err != nil {
		b.Fatal(err)
	}
	if err := tiled.Detect(c.img, &res); err != nil {
		b.Fatal(err)
	}
	var single, multi time.Duration
	var singleInf, multiInf time.Duration
	var singleCPU, multiCPU time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c0 := cpuTime()
		t0 := time.Now()
		if err := base.Detect(c.img, &res); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		c1 := cpuTime()
		singleInf += res.Timings.Inference
		if err := tiled.Detect(c.img, &res); err != nil {
			b.Fatal(err)
		}
		multiInf += res.Timings.Inference
		singleCPU += c1 - c0
		multiCPU += cpuTime() - c1
		single += t1.Sub(t0)
		multi += time.Since(t1)
	}
	n := float64(b.N)
	s, m := single.Seconds()*1000/n, multi.Seconds()*1000/n
	b.ReportMetric(s, "single-ms")
	b.ReportMetric(m, "tiled-ms")
	b.ReportMetric(float64(res.Tiles), "detections")
	b.ReportMetric(m/(float64(res.Tiles)*s), "budget-ratio")
	// The same ratio for the inferences alone: how much of the difference is ONNX Runtime's.
	b.ReportMetric(multiInf.Seconds()/(float64(res.Tiles)*singleInf.Seconds()), "inference-ratio")
	b.ReportMetric(multiCPU.Seconds()/(float64(res.Tiles)*singleCPU.Seconds()), "cpu-ratio")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
