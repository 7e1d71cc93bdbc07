package tile

import (
	"image"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgecam/edgecam/internal/imagecodec"
	"github.com/edgecam/edgecam/internal/testfixture"

	"github.com/edgecam/edgecam/internal/yolo"
)

// The yolo detector scores a region of a frame (a view into its rows, not continuous unless it
// spans the full width) exactly as a continuous copy of the same pixels: letterboxed from the
// region's own size and stride. Regions smaller than, equal to and larger than the model input.
func TestDetectRegionEqualsCopy(t *testing.T) {
	base := yolo11n(t)
	dir, photos := coco128(t)
	c := buildComposite(t, dir, photos[:photosPerFrame])
	defer c.img.Close()
	for _, r := range []image.Rectangle{
		image.Rect(300, 200, 940, 840),   // 640x640: no resize, so the detector copies it
		image.Rect(0, 480, 2560, 1440),   // full width: continuous
		image.Rect(788, 590, 1773, 1329), // a 3 x 3 tile
		image.Rect(1000, 1000, 1400, 1250),
	} {
		region := c.img.Region(r)
		copied := region.Clone()
		if region.IsContinuous() != (r.Dx() == compW) || !copied.IsContinuous() {
			t.Fatalf("%v: region continuous %v, copy %v", r, region.IsContinuous(), copied.IsContinuous())
		}
		var a, b yolo.Result
		errA, errB := base.Detect(region, &a), base.Detect(copied, &b)
		region.Close()
		copied.Close()
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		if a.Width != r.Dx() || a.Height != r.Dy() || len(a.Detections) != len(b.Detections) || len(a.Detections) == 0 {
			t.Fatalf("%v: region %dx%d, %d detections; copy %d", r, a.Width, a.Height, len(a.Detections), len(b.Detections))
		}
		for i := range a.Detections {
			if a.Detections[i] != b.Detections[i] {
				t.Errorf("%v: detection %d: region %+v, copy %+v", r, i, a.Detections[i], b.Detections[i])
			}
		}
	}
}

// Steady-state tiled detection allocates nothing on the Go heap, from a decoded frame (RTSP) and
// from JPEG bytes (file, HTTP, rpi cameras).
func TestTiledAllocs(t *testing.T) {
	base := yolo11n(t)
	data, err := os.ReadFile(filepath.Join(testfixture.SharedDir(t), "testdata", "images", "bus.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := imagecodec.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	d := New(base, Options{Cols: 2, Rows: 2, Overlap: 0.2, Full: true})
	var res yolo.Result
	if err := d.DetectEncoded(data, &res); err != nil { // warm-up: scratch grows to its size
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(2, func() {
		if err := d.Detect(img, &res); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("tiled Detect allocates %v times per frame, want 0", a)
	}
	if a := testing.AllocsPerRun(2, func() {
		if err := d.DetectEncoded(data, &res); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("tiled DetectEncoded allocates %v times per frame, want 0", a)
	}
}
