package onnxmodel_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	. "github.com/edgecam/edgecam/internal/onnxmodel"
	"github.com/edgecam/edgecam/internal/onnxmodel/onnxtest"
)

func TestParseModel(t *testing.T) {
	data := onnxtest.ReshapeModel([]int64{-1, 3, 32, 32}, []int64{1, 512, 6}, map[string]string{"names": "{0: 'widget'}"})
	m, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	want := &Info{
		IRVersion: 7,
		Inputs:    []ValueInfo{{Name: "images", ElemType: Float, Dims: []int64{-1, 3, 32, 32}}},
		Outputs:   []ValueInfo{{Name: "output0", ElemType: Float, Dims: []int64{1, 512, 6}}},
		Metadata:  map[string]string{"names": "{0: 'widget'}"},
		Ops:       map[string]int{"Reshape": 1},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got %+v\nwant %+v", m, want)
	}
}

func TestParseModelRejects(t *testing.T) {
	good := onnxtest.ReshapeModel([]int64{1, 3, 32, 32}, []int64{1, 512, 6}, nil)
	for name, data := range map[string][]byte{
		"empty":     nil,
		"text":      []byte("hello, this is not a model\n"),
		"truncated": good[:len(good)-10],
		"jpeg":      {0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F'},
		"no graph":  onnxtest.PB{}.Varint(FieldModelIRVersion, 7),
	} {
		if _, err := Parse(data); err == nil || !strings.Contains(err.Error(), "not a valid ONNX model") {
			t.Errorf("%s: err = %v, want not a valid ONNX model", name, err)
		}
	}
}

func TestSpec(t *testing.T) {
	for _, tc := range []struct {
		in, out []int64
		layout  Layout
		classes int
		err     string
	}{
		{in: []int64{1, 3, 640, 640}, out: []int64{1, 25200, 85}, layout: YOLOv5, classes: 80},
		{in: []int64{1, 3, 640, 640}, out: []int64{1, 25200, 6}, layout: YOLOv5, classes: 1}, // one class, not end-to-end
		{in: []int64{1, 3, 320, 320}, out: []int64{1, 6300, 7}, layout: YOLOv5, classes: 2},
		{in: []int64{1, 3, 640, 640}, out: []int64{1, 84, 8400}, layout: YOLOv8, classes: 80},
		{in: []int64{1, 3, 320, 320}, out: []int64{1, 6, 2100}, layout: YOLOv8, classes: 2},
		{in: []int64{1, 3, 320, 256}, out: []int64{1, 5, 1680}, layout: YOLOv8, classes: 1},
		{in: []int64{1, 3, 640, 640}, out: []int64{1, 300, 6}, layout: EndToEnd},
		{in: []int64{-1, 3, 320, 256}, out: []int64{-1, 100, 6}, layout: EndToEnd},
		{in: []int64{1, 3, 32, 32}, out: []int64{1, 384, 8}, layout: YOLOv5, classes: 3}, // not a standard grid: longer side
		{in: []int64{1, 3, 32, 32}, out: []int64{1, 8, 384}, layout: YOLOv8, classes: 4}, // idem
		{in: []int64{1, 3, 32, 32}, out: []int64{1, 3, 32, 32}, err: `output "output0" is float32 [1,3,32,32]: want a YOLO detection output`},
		{in: []int64{1, 3, 32, 32}, out: []int64{1, 8400, 5}, err: `output "output0" is float32 [1,8400,5]`},
		{in: []int64{1, 3, 32, 32}, out: []int64{1, -1, 85}, err: `output "output0" is float32 [1,?,85]`},
		{in: []int64{1, 32, 32, 3}, out: []int64{1, 512, 6}, err: `input "images" is float32 [1,32,32,3], want float32 [1,3,H,W]`},
		{in: []int64{1, 3, -1, -1}, out: []int64{1, 512, 6}, err: `input "images" is float32 [1,3,?,?]`},
	} {
		m, err := Parse(onnxtest.ReshapeModel(tc.in, tc.out, nil))
		if err != nil {
			t.Fatal(err)
		}
		s, err := m.Spec()
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("in %v out %v: err = %v, want %q", tc.in, tc.out, err, tc.err)
			}
		case err != nil:
			t.Errorf("in %v out %v: %v", tc.in, tc.out, err)
		case s.Layout != tc.layout || s.Classes != tc.classes || s.InW != int(tc.in[3]) || s.InH != int(tc.in[2]):
			t.Errorf("in %v out %v: %v, %d classes, %dx%d; want %v, %d", tc.in, tc.out, s.Layout, s.Classes, s.InW, s.InH, tc.layout, tc.classes)
		}
	}
}

func TestParseNames(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"{0: 'person', 1: 'bicycle'}", []string{"person", "bicycle"}},
		{"{1: 'b', 0: 'a',}", []string{"a", "b"}},
		{` { "0" : "traffic light" , "1": "it's" } `, []string{"traffic light", "it's"}},
		{`{0: 'it\'s', 1: "say \"hi\""}`, []string{"it's", `say "hi"`}},
		{"['a', 'b', \"c\"]", []string{"a", "b", "c"}},
	} {
		got, err := ParseNames(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseNames(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "{}", "person", "{0: 'a', 2: 'c'}", "{0: 'a', 0: 'b'}", "{0: 'a'", "{0: a}", "{0 'a'}", "{x: 'a'}", "{0: 'a'} junk", "{-1: 'a'}"} {
		if got, err := ParseNames(bad); err == nil {
			t.Errorf("ParseNames(%q) = %q, want an error", bad, got)
		}
	}
}

func FuzzParseNames(f *testing.F) {
	f.Add("{0: 'person', 1: 'bicycle'}")
	f.Add(`["a", "b"]`)
	f.Fuzz(func(t *testing.T, s string) {
		names, err := ParseNames(s)
		if err == nil && len(names) == 0 {
			t.Fatal("no error and no names")
		}
	})
}

func FuzzParseModel(f *testing.F) {
	f.Add(onnxtest.ReshapeModel([]int64{1, 3, 32, 32}, []int64{1, 512, 6}, map[string]string{"names": "{0: 'x'}"}))
	f.Add([]byte("not a model"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err == nil {
			m.Spec()
		}
	})
}

func TestUltralyticsMetadata(t *testing.T) {
	v8 := []int64{1, 84, 8400}
	for _, tc := range []struct {
		in, out []int64
		meta    map[string]string
		layout  Layout
		inW     int
		dims    [2]int
		err     string
	}{
		{in: []int64{1, 3, 640, 640}, out: v8, meta: map[string]string{"task": "detect", "imgsz": "[640, 640]", "stride": "32"}, layout: YOLOv8, inW: 640, dims: [2]int{84, 8400}},
		{in: []int64{1, 3, 640, 640}, out: v8, meta: map[string]string{"task": "segment"}, err: `is a segmentation model (Ultralytics task metadata "segment"): edgecam counts the boxes of detection models only; export a detection model instead (e.g. yolo11n.pt, not yolo11n-seg.pt)`},
		{in: []int64{1, 3, 640, 640}, out: v8, meta: map[string]string{"task": "pose"}, err: `is a pose model`},
		{in: []int64{1, 3, 640, 640}, out: v8, meta: map[string]string{"task": "obb"}, err: `is a oriented-box (OBB) model`},
		{in: []int64{1, 3, 224, 224}, out: []int64{1, 1000}, meta: map[string]string{"task": "classify"}, err: `not yolo11n-cls.pt`},
		{in: []int64{1, 3, 640, 640}, out: v8, meta: map[string]string{"task": "depth"}, err: `task metadata "depth"`},
		// dynamic=True exports run at the size they were exported at
		{in: []int64{-1, 3, -1, -1}, out: []int64{-1, 84, -1}, meta: map[string]string{"imgsz": "[320, 320]"}, layout: YOLOv8, inW: 320, dims: [2]int{84, 2100}},
		{in: []int64{1, 3, -1, -1}, out: []int64{1, -1, 85}, meta: map[string]string{"imgsz": "[256, 320]"}, layout: YOLOv5, inW: 320, dims: [2]int{3 * 1680, 85}},
		{in: []int64{1, 3, -1, -1}, out: []int64{1, 300, 6}, meta: map[string]string{"imgsz": "640", "end2end": "True"}, layout: EndToEnd, inW: 640, dims: [2]int{300, 6}},
		// end2end decides the layout
		{in: []int64{1, 3, 640, 640}, out: []int64{1, 25200, 6}, meta: map[string]string{"end2end": "True"}, layout: EndToEnd, inW: 640, dims: [2]int{25200, 6}},
		{in: []int64{1, 3, 640, 640}, out: v8, meta: map[string]string{"end2end": "True"}, err: `the end2end metadata says the model does its own NMS: want [1,N,6]`},
		{in: []int64{1, 3, 640, 640}, out: []int64{1, 300, 6}, meta: map[string]string{"end2end": "False"}, layout: YOLOv5, inW: 640, dims: [2]int{300, 6}},
		// a stride-64 (P6) model has a fourth head
		{in: []int64{1, 3, 640, 640}, out: []int64{1, 84, 8500}, meta: map[string]string{"stride": "64"}, layout: YOLOv8, inW: 640, dims: [2]int{84, 8500}},
		{in: []int64{1, 3, 640, 640}, out: v8, meta: map[string]string{"imgsz": "[big]"}, err: `imgsz metadata "[big]"`},
		{in: []int64{1, 3, 640, 640}, out: v8, meta: map[string]string{"stride": "0"}, err: `stride metadata "0"`},
		{in: []int64{1, 3, 640, 640}, out: v8, meta: map[string]string{"end2end": "maybe"}, err: `end2end metadata "maybe"`},
	} {
		m, err := Parse(onnxtest.ReshapeModel(tc.in, tc.out, tc.meta))
		if err != nil {
			t.Fatal(err)
		}
		s, err := m.Spec()
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: err = %v, want %q", tc.meta, err, tc.err)
			}
		case err != nil:
			t.Errorf("%v: %v", tc.meta, err)
		case s.Layout != tc.layout || s.InW != tc.inW || s.Dims != tc.dims:
			t.Errorf("%v: %v, input %d wide, dims %v; want %v, %d, %v", tc.meta, s.Layout, s.InW, s.Dims, tc.layout, tc.inW, tc.dims)
		}
	}
}

func TestUltralyticsParse(t *testing.T) {
	m := &Info{Metadata: map[string]string{"task": "detect", "imgsz": "[480, 640]", "stride": "32", "end2end": "True"}}
	u, err := m.Ultralytics()
	if err != nil || u.Task != "detect" || u.ImgH != 480 || u.ImgW != 640 || u.Stride != 32 || u.EndToEnd == nil || !*u.EndToEnd {
		t.Errorf("%+v, %v", u, err)
	}
	if u, err := (&Info{Metadata: map[string]string{}}).Ultralytics(); err != nil || u != (Ultralytics{}) {
		t.Errorf("no metadata: %+v, %v", u, err)
	}
}

// TestSharedModels reads the real Ultralytics exports of ../shared/models: their metadata and
// layouts.
func TestSharedModels(t *testing.T) {
	dir := os.Getenv("EDGECAM_SHARED")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared")
	}
	for _, tc := range []struct {
		file   string
		layout Layout
		u      Ultralytics
	}{
		{"yolov5n.onnx", YOLOv5, Ultralytics{Stride: 32}},
		{"yolo11n.onnx", YOLOv8, Ultralytics{Task: "detect", ImgW: 640, ImgH: 640, Stride: 32}},
		{"yolo11n-int8.onnx", YOLOv8, Ultralytics{Task: "detect", ImgW: 640, ImgH: 640, Stride: 32}},
		{"yolo11n-320.onnx", YOLOv8, Ultralytics{Task: "detect", ImgW: 320, ImgH: 320, Stride: 32}},
		{"yolo26n.onnx", EndToEnd, Ultralytics{Task: "detect", ImgW: 640, ImgH: 640, Stride: 32}},
	} {
		data, err := os.ReadFile(filepath.Join(dir, "models", tc.file))
		if err != nil {
			t.Fatalf("test fixture: %v (set EDGECAM_SHARED to the shared folder)", err)
		}
		m, err := Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		u, err := m.Ultralytics()
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		e2e := u.EndToEnd
		u.EndToEnd = nil
		if u != tc.u || (tc.layout == EndToEnd) != (e2e != nil && *e2e) {
			t.Errorf("%s: %+v (end2end %v), want %+v", tc.file, u, e2e, tc.u)
		}
		s, err := m.Spec()
		if err != nil || s.Layout != tc.layout || s.InW != max(tc.u.ImgW, 640*boolInt(tc.u.ImgW == 0)) {
			t.Errorf("%s: %v, %v", tc.file, s.Layout, err)
		}
		int8 := strings.Contains(tc.file, "int8")
		if m.DynamicInt8() != int8 || (m.Ops["Conv"] > 0) == int8 {
			t.Errorf("%s: dynamic int8 %v, ops %v", tc.file, m.DynamicInt8(), m.Ops)
		}
		t.Logf("%s: %v", tc.file, m.Ops)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
