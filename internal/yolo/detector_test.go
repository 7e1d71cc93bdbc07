package yolo

import (
	"errors"
	"image"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/onnxmodel/onnxtest"
	"github.com/edgecam/edgecam/internal/testfixture"
)

func TestNewErrors(t *testing.T) {
	initRuntime(t)
	dir := t.TempDir()
	write := func(name string, data []byte) string { return testfixture.WriteFile(t, dir, name, data) }
	model, err := os.ReadFile(modelPath(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		opts Options
		err  string
	}{
		"missing": {Options{ModelPath: filepath.Join(dir, "nope.onnx")},
			"nope.onnx: no such file; run `make deps` or pass --model PATH"},
		"empty": {Options{ModelPath: write("empty.onnx", nil)},
			"empty.onnx: not a valid ONNX model: the file is empty"},
		"text": {Options{ModelPath: write("readme.onnx", []byte("# not a model\nhello\n"))},
			"readme.onnx: not a valid ONNX model: the file is text, not an ONNX protobuf"},
		"truncated": {Options{ModelPath: write("cut.onnx", model[:len(model)/3])},
			"cut.onnx: not a valid ONNX model: the file is truncated"},
		"wrong output": {Options{ModelPath: write("cls.onnx", onnxtest.ReshapeModel([]int64{1, 3, 32, 32}, []int64{1, 3072}, nil))},
			`cls.onnx: output "output0" is float32 [1,3072]: want a YOLO detection output: float32 [1,N,5+classes] (YOLOv5), [1,4+classes,N] (YOLOv8, YOLOv9, YOLO11) or [1,N,6] (end-to-end with NMS)`},
		"labels file of another model": {Options{ModelPath: write("two.onnx", onnxtest.ReshapeModel([]int64{1, 3, 32, 32}, []int64{1, 6, 512}, nil))},
			"labels file " + write("two.labels", []byte("a\nb\nc\n")) + " has 3 names but the model predicts 2 classes"},
		"wrong input": {Options{ModelPath: write("nhwc.onnx", onnxtest.ReshapeModel([]int64{1, 32, 32, 3}, []int64{1, 512, 6}, nil))},
			`nhwc.onnx: input "images" is float32 [1,32,32,3], want float32 [1,3,H,W]`},
		"bad threshold": {Options{ModelPath: modelPath(t), Confidence: 1.5}, "confidence threshold 1.5: want a value between 0 and 1"},
		"bad iou":       {Options{ModelPath: modelPath(t), IoU: -1}, "IoU threshold -1: want a value between 0 and 1"},
		"no model":      {Options{}, "no model file given"},
	} {
		t.Run(name, func(t *testing.T) {
			d, err := New(tc.opts)
			if err == nil {
				d.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err = %q\nwant it to contain %q", err, tc.err)
			}
		})
	}
}

// A hand-made model that ONNX Runtime runs: its output is the input reshaped to [1, 384, 8], the
// YOLOv5 layout with three classes named by its metadata.
func TestHandmadeModel(t *testing.T) {
	initRuntime(t)
	p := filepath.Join(t.TempDir(), "tiny.onnx")
	meta := map[string]string{"names": "{0: 'widget', 1: 'gadget', 2: 'gizmo'}"}
	if err := os.WriteFile(p, onnxtest.ReshapeModel([]int64{1, 3, 32, 32}, []int64{1, 384, 8}, meta), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := New(Options{ModelPath: p, Runtime: RuntimeOptions{Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if w, h := d.InputSize(); w != 32 || h != 32 {
		t.Errorf("InputSize = %d, %d", w, h)
	}
	if got := d.Classes(); len(got) != 3 || got[0] != "widget" {
		t.Errorf("Classes = %q", got)
	}
	// All-gray input: every row is 114/255 = 0.447, so objectness passes and 0.447^2 = 0.2 does not.
	img := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(114, 114, 114, 0), 20, 30, gocv.MatTypeCV8UC3)
	defer img.Close()
	var res Result
	if err := d.Detect(img, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Detections) != 0 || res.Width != 30 || res.Height != 20 {
		t.Errorf("gray image: %+v", res)
	}
	// White: every row scores 1 with a box at (1,1) 1x1 in network pixels; NMS keeps one.
	white := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(255, 255, 255, 0), 32, 32, gocv.MatTypeCV8UC3)
	defer white.Close()
	if err := d.Detect(white, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Detections) != 1 || res.Detections[0].Label != "widget" || res.Detections[0].Score != 1 ||
		res.Detections[0].Box != [4]float32{0.5, 0.5, 1.5, 1.5} {
		t.Errorf("white image: %+v", res.Detections)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Detect(white, &res); !errors.Is(err, errClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestDetectEncodedErrors(t *testing.T) {
	d := sharedDetector(t)
	bus := readImage(t, "bus.jpg")
	for name, tc := range map[string]struct {
		data []byte
		err  string
	}{
		"empty":        {nil, "empty image (0 bytes)"},
		"text":         {[]byte("GET / HTTP/1.1\r\nHost: camera\r\n\r\n"), "not a JPEG, PNG, BMP or WebP image"},
		"truncated":    {bus[:len(bus)*2/3], "truncated JPEG (no end-of-image marker)"},
		"huge jpeg":    {testfixture.JPEGHeaderOnly(20000, 10000), "image is 20000x10000 (200 megapixels), more than the limit of 100 megapixels"},
		"huge png":     {testfixture.PNGHeaderOnly(100000, 100000), "image is 100000x100000 (10000 megapixels)"},
		"corrupt body": {testfixture.JPEGHeaderOnly(64, 64), "cannot decode image"},
	} {
		t.Run(name, func(t *testing.T) {
			var res Result
			err := d.DetectEncoded(tc.data, &res)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err = %v, want %q", err, tc.err)
			}
		})
	}
}

// Gray and BGRA images are accepted, and a PNG decodes like the JPEG it came from.
func TestDetectFormats(t *testing.T) {
	d := sharedDetector(t)
	img, err := gocv.IMDecode(readImage(t, "person.jpg"), gocv.IMReadColor)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	buf, err := gocv.IMEncode(gocv.PNGFileExt, img)
	if err != nil {
		t.Fatal(err)
	}
	png := append([]byte(nil), buf.GetBytes()...)
	buf.Close()
	var res Result
	if err := d.DetectEncoded(png, &res); err != nil {
		t.Fatal(err)
	}
	matchReference(t, res.Detections, reference["person.jpg"])

	bgra := gocv.NewMat()
	defer bgra.Close()
	gocv.CvtColor(img, &bgra, gocv.ColorBGRToBGRA)
	if err := d.Detect(bgra, &res); err != nil {
		t.Fatal(err)
	}
	matchReference(t, res.Detections, reference["person.jpg"])

	gray := gocv.NewMat()
	defer gray.Close()
	gocv.CvtColor(img, &gray, gocv.ColorBGRToGray)
	if err := d.Detect(gray, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Detections) == 0 || res.Detections[0].Label != "person" {
		t.Errorf("gray person.jpg: %+v", res.Detections)
	}

	// A region of a bigger image (not continuous in memory) that needs no resize.
	big := gocv.NewMatWithSize(1000, 1000, gocv.MatTypeCV8UC3)
	defer big.Close()
	roi := big.Region(image.Rect(100, 100, 100+img.Cols(), 100+img.Rows()))
	defer roi.Close()
	img.CopyTo(&roi)
	if err := d.Detect(roi, &res); err != nil {
		t.Fatal(err)
	}
	matchReference(t, res.Detections, reference["person.jpg"])

	// A strip that letterboxes to less than one row.
	strip := gocv.NewMatWithSize(10, 20000, gocv.MatTypeCV8UC3)
	defer strip.Close()
	if err := d.Detect(strip, &res); err != nil || res.Width != 20000 {
		t.Errorf("20000x10 strip: %v %+v", err, res)
	}

	empty := gocv.NewMat()
	defer empty.Close()
	if err := d.Detect(empty, &res); err == nil || err.Error() != "empty image" {
		t.Errorf("empty Mat: %v", err)
	}
}

// A big JPEG takes the reduced-decode path and still finds the reference objects, in the
// original image's pixels.
func TestReducedDecode(t *testing.T) {
	d := sharedDetector(t)
	img, err := gocv.IMDecode(readImage(t, "bus.jpg"), gocv.IMReadColor)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	big := gocv.NewMat()
	defer big.Close()
	gocv.Resize(img, &big, image.Pt(1620, 2160), 0, 0, gocv.InterpolationCubic)
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, big, []int{gocv.IMWriteJpegQuality, 95})
	if err != nil {
		t.Fatal(err)
	}
	data := append([]byte(nil), buf.GetBytes()...)
	buf.Close()
	if s := reducedScale(1620, 2160, 640, 640); s != 2 {
		t.Fatalf("reducedScale = %d, want 2", s)
	}
	var res Result
	if err := d.DetectEncoded(data, &res); err != nil {
		t.Fatal(err)
	}
	if res.Width != 1620 || res.Height != 2160 {
		t.Errorf("size %dx%d", res.Width, res.Height)
	}
	// Compare with the reference at the original scale. Upscaling and re-encoding alone move
	// the weakest detection (the bus) by 0.02.
	for i := range res.Detections {
		for k := range 4 {
			res.Detections[i].Box[k] /= 2
		}
	}
	matchWithin(t, res.Detections, reference["bus.jpg"], 0.03, 2)
}

// Detections from concurrent callers equal those of one caller, and twelve callers at once
// leave at most framesInFlight decoded frames behind.
func TestDetectConcurrent(t *testing.T) {
	d := sharedDetector(t)
	names := []string{"bus.jpg", "dog.jpg", "person.jpg", "horses.jpg"}
	var wg sync.WaitGroup
	errs := make(chan error, len(names)*3)
	for _, name := range names {
		data := readImage(t, name)
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var res Result
				if err := d.DetectEncoded(data, &res); err != nil {
					errs <- err
					return
				}
				if len(res.Detections) != len(reference[name]) {
					errs <- errors.New(name + ": detection count differs")
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	d.frameMu.Lock()
	defer d.frameMu.Unlock()
	if n := len(d.frames); n > framesInFlight {
		t.Errorf("%d decoded frames kept after 12 concurrent calls, want at most %d", n, framesInFlight)
	}
}

// Steady-state detection from a Mat allocates nothing on the Go heap.
func TestDetectAllocs(t *testing.T) {
	d := sharedDetector(t)
	img, err := gocv.IMDecode(readImage(t, "bus.jpg"), gocv.IMReadColor)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	var res Result
	allocs := testing.AllocsPerRun(3, func() {
		if err := d.Detect(img, &res); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Detect allocates %v times per frame, want 0", allocs)
	}
}
