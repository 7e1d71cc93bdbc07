package yolo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/onnxmodel"
	"github.com/edgecam/edgecam/internal/onnxmodel/onnxtest"
)

// planted is one detection planted in a model's output, in network-input pixels.
type planted struct {
	cx, cy, w, h float32
	score        float32
	class        int
}

// The planted detections, for a 320x320 input fed a 640x480 frame (scale 0.5, 40 px of padding
// above and below): a pallet, a weaker copy of it that NMS must drop, a forklift, and one below
// the confidence threshold.
var plants = []planted{
	{160, 160, 64, 32, 0.9, 1},
	{162, 160, 64, 32, 0.8, 1},
	{80, 200, 40, 80, 0.6, 0},
	{250, 100, 20, 20, 0.1, 0},
}

// wantPlanted are the detections expected in the 640x480 frame's pixels.
var wantPlanted = []Detection{
	{ClassID: 1, Label: "pallet", Score: 0.9, Box: [4]float32{256, 208, 384, 272}},
	{ClassID: 0, Label: "forklift", Score: 0.6, Box: [4]float32{120, 240, 200, 400}},
}

// v5Output lays plants out as YOLOv5 rows [n, 5+classes]: cx, cy, w, h, objectness 1, scores.
func v5Output(n, classes int) []float32 {
	out := make([]float32, n*(5+classes))
	for i, p := range plants {
		row := out[i*(5+classes):]
		copy(row, []float32{p.cx, p.cy, p.w, p.h, 1})
		row[5+p.class] = p.score
	}
	return out
}

// v8Output lays plants out as YOLOv8 columns [4+classes, n], placed at the end of the candidates.
func v8Output(n, classes int) []float32 {
	out := make([]float32, (4+classes)*n)
	for i, p := range plants {
		j := n - 1 - i
		out[j], out[n+j], out[2*n+j], out[3*n+j] = p.cx, p.cy, p.w, p.h
		out[(4+p.class)*n+j] = p.score
	}
	return out
}

// e2eOutput lays plants out as end-to-end rows [n, 6]: corners, score, class; without the copy
// NMS would have removed, and with padding rows of zeros after them.
func e2eOutput(n int, class func(int) int) []float32 {
	out := make([]float32, n*6)
	k := 0
	for i, p := range plants {
		if i == 1 {
			continue
		}
		copy(out[k*6:], []float32{p.cx - p.w/2, p.cy - p.h/2, p.cx + p.w/2, p.cy + p.h/2, p.score, float32(class(p.class))})
		k++
	}
	return out
}

// TestLayouts runs generated models of every output layout, at input sizes other than 640, with
// planted detections and class names from each source (metadata, the model's labels file, the
// folder's labels.txt, COCO-80 by default), and checks the detections in frame pixels.
func TestLayouts(t *testing.T) {
	initRuntime(t)
	frame := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(90, 120, 150, 0), 480, 640, gocv.MatTypeCV8UC3)
	defer frame.Close()
	same := func(c int) int { return c }
	for _, tc := range []struct {
		name     string
		in, out  []int64
		data     []float32
		meta     map[string]string
		files    map[string]string // file name -> contents, beside the model
		layout   onnxmodel.Layout
		want     []Detection
		nClasses int
	}{
		{name: "yolov5-320-metadata", in: []int64{1, 3, 320, 320}, out: []int64{1, 6300, 7}, data: v5Output(6300, 2),
			meta: map[string]string{"names": "{0: 'forklift', 1: 'pallet'}"}, layout: onnxmodel.YOLOv5, want: wantPlanted, nClasses: 2},
		{name: "yolov8-320-labels-file", in: []int64{1, 3, 320, 320}, out: []int64{1, 6, 2100}, data: v8Output(2100, 2),
			files: map[string]string{"yolov8-320-labels-file.labels": "forklift\npallet\n"}, layout: onnxmodel.YOLOv8, want: wantPlanted, nClasses: 2},
		{name: "end2end-320-labels-txt", in: []int64{1, 3, 320, 320}, out: []int64{1, 300, 6}, data: e2eOutput(300, same),
			files: map[string]string{"labels.txt": "forklift\n\npallet\n"}, layout: onnxmodel.EndToEnd, want: wantPlanted, nClasses: 2},
		{name: "end2end-640-coco", in: []int64{1, 3, 640, 640}, out: []int64{1, 100, 6},
			// the same boxes at twice the input size, classes bus (5) and truck (7)
			data:   scaled(e2eOutput(100, func(c int) int { return 5 + 2*c }), 2),
			layout: onnxmodel.EndToEnd, nClasses: 80,
			want: []Detection{
				{ClassID: 7, Label: "truck", Score: 0.9, Box: [4]float32{256, 208, 384, 272}},
				{ClassID: 5, Label: "bus", Score: 0.6, Box: [4]float32{120, 240, 200, 400}},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tc.name+".onnx")
			if err := os.WriteFile(path, onnxtest.ConstantModel(tc.in, tc.out, tc.data, tc.meta), 0o644); err != nil {
				t.Fatal(err)
			}
			for name, body := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			d, err := New(Options{ModelPath: path, Runtime: RuntimeOptions{Threads: 1}})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if w, h := d.InputSize(); w != int(tc.in[3]) || h != int(tc.in[2]) || d.Layout() != tc.layout || len(d.Classes()) != tc.nClasses {
				t.Fatalf("input %dx%d, layout %v, %d classes", w, h, d.Layout(), len(d.Classes()))
			}
			var res Result
			for range 2 { // the second run reuses every buffer
				if err := d.Detect(frame, &res); err != nil {
					t.Fatal(err)
				}
			}
			if len(res.Detections) != len(tc.want) {
				t.Fatalf("detections %+v, want %+v", res.Detections, tc.want)
			}
			for i, w := range tc.want {
				g := res.Detections[i]
				if g.ClassID != w.ClassID || g.Label != w.Label || g.Score != w.Score || !near(g.Box, w.Box, 0.01) {
					t.Errorf("detection %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func scaled(out []float32, f float32) []float32 {
	for i := range out {
		if i%6 < 4 {
			out[i] *= f
		}
	}
	return out
}

func near(a, b [4]float32, tol float32) bool {
	for i := range a {
		if d := a[i] - b[i]; d > tol || d < -tol {
			return false
		}
	}
	return true
}

// TestRefusesOtherTasks: a segmentation export (its Ultralytics task metadata) is refused with
// an error that names the model and says what to export, before any session is made.
func TestRefusesOtherTasks(t *testing.T) {
	initRuntime(t)
	path := filepath.Join(t.TempDir(), "yolo11n-seg.onnx")
	meta := map[string]string{"task": "segment", "imgsz": "[320, 320]", "names": "{0: 'forklift', 1: 'pallet'}"}
	if err := os.WriteFile(path, onnxtest.ConstantModel([]int64{1, 3, 320, 320}, []int64{1, 6, 2100}, v8Output(2100, 2), meta), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := New(Options{ModelPath: path})
	if err == nil {
		d.Close()
		t.Fatal("a segmentation model was accepted")
	}
	if want := "model " + path + ": is a segmentation model"; !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "export a detection model") {
		t.Errorf("error %q, want it to start with %q", err, want)
	}
}
