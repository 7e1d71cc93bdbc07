package yolo

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/testfixture"
)

// Tolerances of busModels' detections, natively and under emulation (the emulated yolov5n check's
// own). Measured, the arm64 run under qemu differs from x86's by at most 8e-6 of score and
// 0.0003 px, every model (docs/models.md): the table's rounding (0.0005, 0.05 px) is all the
// difference either run shows.
const (
	busScoreTol = 0.02
	busBoxTol   = 2
)

// envEmulatedModels set to "all" makes TestBusUnderEmulation run every model of busModels, the
// optIn ones too (docs/models.md):
//
//	EDGECAM_TEST_EMULATED_MODELS=all make test-arm64
const envEmulatedModels = "EDGECAM_TEST_EMULATED_MODELS"

// busModel is one shared model's detections of bus.jpg (default options) as the native x86 run
// finds them: TestBusModels holds the table to the native run (make test), TestBusUnderEmulation
// holds the arm64 ONNX Runtime, letterbox and JPEG decoder to it under qemu (make test-arm64).
type busModel struct {
	name  string // ../shared/models/NAME.onnx
	optIn bool   // under emulation only with EDGECAM_TEST_EMULATED_MODELS=all
	want  []refDet
}

// Rounded to 3 decimals and 0.1 px. Under qemu a frame costs 6 s to 90 s (docs/models.md): the
// four whose operators differ run by default (yolo11n-int8's integer convolutions, yolo26n's
// end-to-end head with TopK and GatherElements); yolo11n, exactly yolo11n-320's operators at 640,
// is opt-in.
var busModels = []busModel{
	{"yolov5n", false, reference["bus.jpg"]},
	{"yolo11n-320", false, []refDet{
		{"person", 0.872, [4]float32{47.8, 393.7, 245.2, 906.0}},
		{"bus", 0.841, [4]float32{29.4, 226.5, 804.5, 741.6}},
		{"person", 0.794, [4]float32{219.4, 400.5, 343.8, 853.1}},
		{"person", 0.774, [4]float32{669.8, 397.6, 810.0, 874.3}},
		{"person", 0.353, [4]float32{0.4, 578.8, 76.0, 866.5}},
	}},
	{"yolo11n-int8", false, []refDet{
		{"person", 0.903, [4]float32{47.3, 399.3, 244.5, 902.1}},
		{"bus", 0.890, [4]float32{21.9, 230.6, 799.8, 738.9}},
		{"person", 0.837, [4]float32{221.8, 405.2, 346.0, 858.8}},
		{"person", 0.822, [4]float32{671.0, 392.6, 809.8, 878.7}},
		{"person", 0.605, [4]float32{0.6, 553.0, 68.5, 870.0}},
	}},
	{"yolo26n", false, []refDet{
		{"bus", 0.927, [4]float32{12.8, 219.7, 810.0, 774.1}},
		{"person", 0.919, [4]float32{49.9, 397.1, 242.2, 904.5}},
		{"person", 0.831, [4]float32{675.2, 392.9, 810.0, 882.1}},
		{"person", 0.826, [4]float32{227.5, 403.9, 346.1, 867.8}},
		{"person", 0.414, [4]float32{0.0, 562.7, 65.8, 874.2}},
	}},
	{"yolo11n", true, []refDet{
		{"bus", 0.905, [4]float32{19.0, 230.3, 801.2, 740.3}},
		{"person", 0.903, [4]float32{46.9, 399.1, 243.8, 902.4}},
		{"person", 0.836, [4]float32{221.7, 403.5, 345.8, 860.0}},
		{"person", 0.832, [4]float32{670.5, 393.4, 809.8, 880.1}},
		{"person", 0.592, [4]float32{0.1, 551.2, 68.0, 871.6}},
	}},
}

// TestBusModels holds busModels to the native run: the table TestBusUnderEmulation compares the
// emulated arm64 run with is what this machine finds.
func TestBusModels(t *testing.T) {
	testfixture.SkipIfEmulated(t, "TestBusUnderEmulation runs these models once each")
	initRuntime(t)
	for _, m := range busModels {
		t.Run(m.name, func(t *testing.T) { detectBus(t, m) })
	}
}

// TestBusUnderEmulation runs each model of busModels once, on bus.jpg, where the other
// real-model tests skip (make test-arm64: each costs dozens of frames at up to a minute and a half
// a frame under qemu): the arm64 ONNX Runtime, letterbox and JPEG decoder find the native run's
// detections.
// The models marked optIn run only with EDGECAM_TEST_EMULATED_MODELS=all.
func TestBusUnderEmulation(t *testing.T) {
	if os.Getenv(testfixture.EnvEmulated) != "1" {
		t.Skip("only under CPU emulation (make test-arm64); TestBusModels checks the same table natively")
	}
	initRuntime(t)
	all := os.Getenv(envEmulatedModels) == "all"
	for _, m := range busModels {
		t.Run(m.name, func(t *testing.T) {
			if m.optIn && !all {
				t.Skipf("under CPU emulation %s is opt-in (about a minute a frame): set %s=all to run it", m.name, envEmulatedModels)
			}
			detectBus(t, m)
		})
	}
}

// detectBus runs m's model once on bus.jpg and checks its detections against m.want (the same
// labels and counts, each within busScoreTol and busBoxTol), logging the times (cpu: the process's
// CPU time over the detect, qemu's own under emulation) and the largest differences.
func detectBus(t *testing.T, m busModel) {
	path := filepath.Join(sharedDir(t), "models", m.name+".onnx")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no model %s (../shared/models/README.md): %v", path, err)
	}
	start := time.Now()
	d, err := New(Options{ModelPath: path})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	session := time.Since(start)
	var res Result
	start, cpu := time.Now(), cpuTime()
	if err := d.DetectEncoded(readImage(t, "bus.jpg"), &res); err != nil {
		t.Fatal(err)
	}
	wall, cpu := time.Since(start), cpuTime()-cpu
	matchWithin(t, res.Detections, m.want, busScoreTol, busBoxTol)
	score, box := worstDiff(res.Detections, m.want)
	t.Logf("%s on bus.jpg: session %v, detect %v (inference %v, cpu %v); largest difference from the table: score %.4f, box %.2f px",
		m.name, session.Round(time.Millisecond), wall.Round(time.Millisecond), res.Timings.Inference.Round(time.Millisecond),
		cpu.Round(time.Millisecond), score, box)
}

// worstDiff pairs each detection of want with the nearest box of its label in got and returns the
// largest score and corner differences of those pairs (0 for a want without such a box).
func worstDiff(got []Detection, want []refDet) (score, box float64) {
	for _, w := range want {
		nearest, ds := math.Inf(1), 0.0
		for _, g := range got {
			if g.Label != w.label {
				continue
			}
			db := 0.0
			for k := range 4 {
				db = math.Max(db, math.Abs(float64(g.Box[k]-w.box[k])))
			}
			if db < nearest {
				nearest, ds = db, math.Abs(float64(g.Score-w.score))
			}
		}
		if !math.IsInf(nearest, 1) {
			score, box = math.Max(score, ds), math.Max(box, nearest)
		}
	}
	return score, box
}
