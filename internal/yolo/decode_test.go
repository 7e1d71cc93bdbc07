package yolo

import (
	"image"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/testfixture"
)

// imdecode decodes data with OpenCV's imdecode at 1/scale, the decoder DetectEncoded replaced.
func imdecode(t *testing.T, data []byte, scale int) gocv.Mat {
	t.Helper()
	flag := map[int]gocv.IMReadFlag{1: gocv.IMReadColor, 2: gocv.IMReadReducedColor2,
		4: gocv.IMReadReducedColor4, 8: gocv.IMReadReducedColor8}[scale]
	m, err := gocv.IMDecode(data, flag)
	if err != nil || m.Empty() {
		t.Fatalf("IMDecode: %v", err)
	}
	return m
}

// DetectEncoded finds exactly what it found when it decoded with gocv.IMDecode: for every photo,
// a reduced decode of a big one, and EXIF-turned ones at full and reduced scale (boxes in the
// turned image's pixels).
func TestDetectEncodedAsIMDecode(t *testing.T) {
	d := sharedDetector(t)
	inputs := map[string][]byte{}
	for name := range reference {
		inputs[name] = readImage(t, name)
	}
	bus := imdecode(t, readImage(t, "bus.jpg"), 1)
	defer bus.Close()
	big := gocv.NewMat()
	defer big.Close()
	gocv.Resize(bus, &big, image.Pt(1620, 2160), 0, 0, gocv.InterpolationCubic)
	buf, err := gocv.IMEncode(gocv.JPEGFileExt, big)
	if err != nil {
		t.Fatal(err)
	}
	inputs["bus 1620x2160"] = append([]byte(nil), buf.GetBytes()...)
	buf.Close()
	for _, o := range []uint16{3, 6, 8} {
		inputs["bus orientation "+string(rune('0'+o))] = testfixture.JPEGWithAPP1(readImage(t, "bus.jpg"), testfixture.ExifOrientation(o, false))
		inputs["big bus orientation "+string(rune('0'+o))] = testfixture.JPEGWithAPP1(inputs["bus 1620x2160"], testfixture.ExifOrientation(o, true))
	}
	var got, want Result
	for name, data := range inputs {
		if err := d.DetectEncoded(data, &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		format, w, h, err := imageHeader(data)
		if err != nil {
			t.Fatal(err)
		}
		scale := 1
		if format == formatJPEG {
			scale = reducedScale(w, h, d.inW, d.inH)
		}
		img := imdecode(t, data, scale)
		origW, origH := w, h
		if img.Cols() > img.Rows() != (w > h) { // turned by 90 degrees
			origW, origH = h, w
		}
		if err := d.detect(img, origW, origH, time.Now(), 0, &want); err != nil {
			t.Fatal(err)
		}
		img.Close()
		if got.Width != want.Width || got.Height != want.Height || len(got.Detections) != len(want.Detections) {
			t.Errorf("%s (1/%d): %dx%d %d detections, with IMDecode %dx%d %d", name, scale,
				got.Width, got.Height, len(got.Detections), want.Width, want.Height, len(want.Detections))
			continue
		}
		for i := range got.Detections {
			if got.Detections[i] != want.Detections[i] {
				t.Errorf("%s (1/%d): detection %d %+v, with IMDecode %+v", name, scale, i, got.Detections[i], want.Detections[i])
			}
		}
	}
}

// Steady-state DetectEncoded of a JPEG allocates nothing on the Go heap: the decoded frame and
// the decoder are reused.
func TestDetectEncodedAllocs(t *testing.T) {
	d := sharedDetector(t)
	data := readImage(t, "bus.jpg")
	var res Result
	allocs := testing.AllocsPerRun(3, func() {
		if err := d.DetectEncoded(data, &res); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("DetectEncoded allocates %v times per frame, want 0", allocs)
	}
}
