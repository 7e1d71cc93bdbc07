package yolo

import (
	"image"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	ort "github.com/yalue/onnxruntime_go"
	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/imagecodec"
)

// Benchmarks use edgecam's default runtime options (RuntimeOptions{}: one thread per physical
// core, spinning off, arena on, no memory pattern); cpu-ms/op is the process CPU per operation
// (every ONNX Runtime thread counted), what a timer daemon pays. Compare
// BenchmarkSessionRun (ONNX Runtime alone, its own session) with BenchmarkInference (the
// Detector's session) and BenchmarkDetectBus (decode + letterbox + inference + NMS; its
// total/infer metric is the whole detect over the inference of the same runs). Two sessions
// are never run interleaved: each has its own spinning thread pool, and they slow each other.
//
//	go test -run '^$' -bench . -benchmem ./internal/yolo/

// BenchmarkSessionRun is the bare ONNX Runtime run of the model, outside the Detector.
func BenchmarkSessionRun(b *testing.B) {
	initRuntime(b)
	in, err := ort.NewEmptyTensor[float32](ort.NewShape(1, 3, 640, 640))
	if err != nil {
		b.Fatal(err)
	}
	defer in.Destroy()
	fillPad(in.GetData())
	out, err := ort.NewEmptyTensor[float32](ort.NewShape(1, 25200, 85))
	if err != nil {
		b.Fatal(err)
	}
	defer out.Destroy()
	so, err := sessionOptions(RuntimeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer so.Destroy()
	s, err := ort.NewAdvancedSession(modelPath(b), []string{"images"}, []string{"output0"},
		[]ort.Value{in}, []ort.Value{out}, so)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Destroy()
	if err := s.Run(); err != nil { // warm-up
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for range b.N {
		if err := s.Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// reportCPU starts counting the process's CPU time; the returned func reports it per operation.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() { b.ReportMetric(float64((cpuTime()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op") }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkInference is the Detector's own session run on a letterboxed bus.jpg.
func BenchmarkInference(b *testing.B) {
	d := sharedDetector(b)
	img := decodeBus(b)
	defer img.Close()
	if _, err := d.preprocess(img); err != nil {
		b.Fatal(err)
	}
	if err := d.session.Run(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for range b.N {
		if err := d.session.Run(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPreprocess(b *testing.B) {
	d := sharedDetector(b)
	img := decodeBus(b)
	defer img.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := d.preprocess(img); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPostprocess(b *testing.B) {
	d := sharedDetector(b)
	img := decodeBus(b)
	defer img.Close()
	lb, err := d.preprocess(img)
	if err != nil {
		b.Fatal(err)
	}
	if err := d.session.Run(); err != nil {
		b.Fatal(err)
	}
	var res Result
	d.postprocess(lb, 1, 1, 810, 1080, &res)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		d.postprocess(lb, 1, 1, 810, 1080, &res)
	}
}

// BenchmarkDecodeBus is DetectEncoded's decode of bus.jpg (imagecodec into a reused Mat);
// package jpeg's BenchmarkDecode compares it with gocv.IMDecode.
func BenchmarkDecodeBus(b *testing.B) {
	data := readImage(b, "bus.jpg")
	var dec imagecodec.Decoder
	defer dec.Close()
	img := gocv.NewMat()
	defer img.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := dec.Decode(data, 1, &img); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDetectBus is the whole pipeline on bus.jpg's JPEG bytes.
func BenchmarkDetectBus(b *testing.B) {
	benchDetectEncoded(b, readImage(b, "bus.jpg"))
}

// BenchmarkDetectBusMat is the pipeline on an already decoded bus.jpg (a camera frame).
func BenchmarkDetectBusMat(b *testing.B) {
	d := sharedDetector(b)
	img := decodeBus(b)
	defer img.Close()
	var res Result
	if err := d.Detect(img, &res); err != nil {
		b.Fatal(err)
	}
	var sum Timings
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := d.Detect(img, &res); err != nil {
			b.Fatal(err)
		}
		sum = addTimings(sum, res.Timings)
	}
	reportTimings(b, sum)
}

// BenchmarkDetect1080p is the whole pipeline on a synthetic 1920x1080 JPEG (kite.jpg resized),
// which takes the 1/2-scale decode path.
func BenchmarkDetect1080p(b *testing.B) {
	src, err := gocv.IMDecode(readImage(b, "kite.jpg"), gocv.IMReadColor)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	big := gocv.NewMat()
	defer big.Close()
	gocv.Resize(src, &big, image.Pt(1920, 1080), 0, 0, gocv.InterpolationLinear)
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, big, []int{gocv.IMWriteJpegQuality, 90})
	if err != nil {
		b.Fatal(err)
	}
	data := append([]byte(nil), buf.GetBytes()...)
	buf.Close()
	b.Run("reduced", func(b *testing.B) { benchDetectEncoded(b, data) })
	b.Run("full-decode", func(b *testing.B) {
		d := sharedDetector(b)
		var res Result
		var sum Timings
		var dec imagecodec.Decoder
		defer dec.Close()
		img := gocv.NewMat()
		defer img.Close()
		b.ReportAllocs()
		for range b.N {
			start := time.Now()
			if err := dec.Decode(data, 1, &img); err != nil {
				b.Fatal(err)
			}
			decode := time.Since(start)
			if err := d.Detect(img, &res); err != nil {
				b.Fatal(err)
			}
			res.Timings.Decode = decode
			res.Timings.Total += decode
			sum = addTimings(sum, res.Timings)
		}
		reportTimings(b, sum)
	})
}

func benchDetectEncoded(b *testing.B, data []byte) {
	d := sharedDetector(b)
	var res Result
	if err := d.DetectEncoded(data, &res); err != nil {
		b.Fatal(err)
	}
	var sum Timings
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for range b.N {
		if err := d.DetectEncoded(data, &res); err != nil {
			b.Fatal(err)
		}
		sum = addTimings(sum, res.Timings)
	}
	reportTimings(b, sum)
}

func decodeBus(b testing.TB) gocv.Mat {
	b.Helper()
	img, err := gocv.IMDecode(readImage(b, "bus.jpg"), gocv.IMReadColor)
	if err != nil || img.Empty() {
		b.Fatalf("decode bus.jpg: %v", err)
	}
	return img
}

func addTimings(a, b Timings) Timings {
	return Timings{a.Decode + b.Decode, a.Preprocess + b.Preprocess, a.Inference + b.Inference,
		a.Postprocess + b.Postprocess, a.Total + b.Total}
}

// reportTimings adds the mean time per stage, in ms, to the benchmark's output.
func reportTimings(b *testing.B, sum Timings) {
	n := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / n }
	b.ReportMetric(ms(sum.Decode), "decode-ms/op")
	b.ReportMetric(ms(sum.Preprocess), "pre-ms/op")
	b.ReportMetric(ms(sum.Inference), "infer-ms/op")
	b.ReportMetric(ms(sum.Postprocess), "post-ms/op")
	if sum.Inference > 0 {
		// The whole detect against its own inference, from the same runs: the performance
		// target (<= 1.3) that load changes on a shared machine cannot skew.
		b.ReportMetric(float64(sum.Total)/float64(sum.Inference), "total/infer")
	}
}

// BenchmarkModels is the inference of each shared model on a letterboxed bus.jpg, for the model
// table of docs/models.md. One intra-op thread, so that cpu-ms/op is the cost of a frame even
// on a machine other work shares (its ns/op then depends on that work):
//
//	go test -run '^$' -bench Models -benchtime 20x ./internal/yolo/
func BenchmarkModels(b *testing.B) {
	for _, name := range []string{"yolov5n", "yolo11n", "yolo11n-int8", "yolo11n-320", "yolo26n"} {
		b.Run(name, func(b *testing.B) {
			initRuntime(b)
			d, err := New(Options{ModelPath: filepath.Join(sharedDir(b), "models", name+".onnx"), Runtime: RuntimeOptions{Threads: 1}})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			img := decodeBus(b)
			defer img.Close()
			if _, err := d.preprocess(img); err != nil {
				b.Fatal(err)
			}
			for range 2 { // warm-up
				if err := d.session.Run(); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			defer reportCPU(b)()
			for range b.N {
				if err := d.session.Run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
