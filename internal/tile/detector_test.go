package tile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/imagecodec"
	"github.com/edgecam/edgecam/internal/testfixture"
	"github.com/edgecam/edgecam/internal/yolo"
	"github.com/edgecam/edgecam/internal/zone"
)

// TestTilingFindsFarAwayObjects: on two far-away frames (32 coco128 photos, 4 x 4 each, at
// 2560x1920) YOLO11n with a 3 x 3 grid finds more of the true person, bicycle, car, motorcycle,
// bus and truck boxes than on the whole frame, and counts them closer to the truth; the encoded
// frame (DetectEncoded, the daemon's path) gives what the decoded one does.
func TestTilingFindsFarAwayObjects(t *testing.T) {
	base := yolo11n(t)
	dir, photos := coco128(t)
	tiled := New(base, Options{Cols: 3, Rows: 3, Overlap: 0.2, Full: true})
	const thr = 0.35
	var plain, tl score
	var res yolo.Result
	for f := 0; f < 2; f++ {
		c := buildComposite(t, dir, photos[f*photosPerFrame:(f+1)*photosPerFrame])
		defer c.img.Close()
		if err := base.Detect(c.img, &res); err != nil {
			t.Fatal(err)
		}
		plain.add(c.evaluate(res.Detections, thr))
		if err := tiled.Detect(c.img, &res); err != nil {
			t.Fatal(err)
		}
		if res.Tiles != 10 || res.Width != compW || res.Height != compH {
			t.Errorf("tiles %d, size %dx%d; want 10 tiles on 2560x1920", res.Tiles, res.Width, res.Height)
		}
		s := c.evaluate(res.Detections, thr)
		tl.add(s)
		if f == 0 {
			// The daemon's path: the same frame as a JPEG.
			data, err := imagecodec.EncodeJPEG(c.img, 95)
			if err != nil {
				t.Fatal(err)
			}
			var enc yolo.Result
			if err := tiled.DetectEncoded(data, &enc); err != nil {
				t.Fatal(err)
			}
			if e := c.evaluate(enc.Detections, thr); enc.Tiles != 10 || enc.Width != compW ||
				e.matched < s.matched*9/10 || e.matched > s.matched*11/10+1 {
				t.Errorf("encoded: %d tiles, %dx%d, %d boxes matched; decoded: %d", enc.Tiles, enc.Width, enc.Height, e.matched, s.matched)
			}
		}
	}
	t.Logf("whole frame: recall %.2f, count error %.2f; 3x3 tiles: recall %.2f, count error %.2f (threshold %.2f, %d true boxes)",
		plain.recall(), plain.countError(), tl.recall(), tl.countError(), thr, tl.truth)
	if tl.matched <= plain.matched {
		t.Errorf("tiles matched %d true boxes, the whole frame %d: tiling should find more", tl.matched, plain.matched)
	}
	if tl.countError() >= plain.countError() {
		t.Errorf("count error with tiles %.2f, without %.2f", tl.countError(), plain.countError())
	}
}

// TestZonesTiles detects only in a zone's box: objects elsewhere are not found, and boxes come
// back in frame pixels inside the zone's box.
func TestZonesTiles(t *testing.T) {
	base := yolo11n(t)
	dir, photos := coco128(t)
	c := buildComposite(t, dir, photos[:photosPerFrame])
	defer c.img.Close()
	// The zone is the top-left photo's cell.
	o := Options{Overlap: 0, Zones: []zone.Polygon{{{X: 0, Y: 0}, {X: 0.25, Y: 0}, {X: 0.25, Y: 0.25}, {X: 0, Y: 0.25}}}}
	d := New(base, o)
	var res yolo.Result
	if err := d.Detect(c.img, &res); err != nil {
		t.Fatal(err)
	}
	if res.Tiles != 1 || len(res.Detections) == 0 {
		t.Fatalf("%d tiles, %d detections", res.Tiles, len(res.Detections))
	}
	for _, det := range res.Detections {
		if det.Box[2] > cellW+1 || det.Box[3] > cellH+1 {
			t.Errorf("%s at %v: outside the zone's box", det.Label, det.Box)
		}
	}
}

// TestTilesMeasure prints the count error on all of coco128 as 2560x1920 frames, with
// and without 3 x 3 tiles, at thresholds from 0.2 to 0.7 (docs/tiling.md). It runs only with
// EDGECAM_TILE_MEASURE=1 (about 90 detections); EDGECAM_TILE_FRAMES=DIR also writes the frames
// and their labels there as a YOLO folder for edgecam eval.
func TestTilesMeasure(t *testing.T) {
	if os.Getenv("EDGECAM_TILE_MEASURE") != "1" {
		t.Skip("set EDGECAM_TILE_MEASURE=1 to measure the count error on all of coco128 (docs/tiling.md)")
	}
	yolo11n(t) // the runtime
	// Confidence 0.1, so that thresholds below the default 0.25 can be measured.
	base, err := yolo.New(yolo.Options{ModelPath: filepath.Join(testfixture.SharedDir(t), "models", "yolo11n.onnx"), Confidence: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	dir, photos := coco128(t)
	out := os.Getenv("EDGECAM_TILE_FRAMES")
	thresholds := []float32{0.1, 0.15, 0.2, 0.22, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7}
	configs := []struct {
		name string
		det  interface {
			Detect(gocv.Mat, *yolo.Result) error
		}
	}{
		{"whole frame", base},
		{"tiles 3x3 (overlap 0.2, full)", New(base, Options{Cols: 3, Rows: 3, Overlap: 0.2, Full: true})},
		{"tiles 3x3 (overlap 0.2, no full)", New(base, Options{Cols: 3, Rows: 3, Overlap: 0.2})},
		{"tiles 3x3 (overlap 0.1, full)", New(base, Options{Cols: 3, Rows: 3, Overlap: 0.1, Full: true})},
		{"tiles 3x3 (overlap 0.3, full)", New(base, Options{Cols: 3, Rows: 3, Overlap: 0.3, Full: true})},
		{"tiles 4x4 (overlap 0.2, full)", New(base, Options{Cols: 4, Rows: 4, Overlap: 0.2, Full: true})},
	}
	scores := make([][]score, len(configs))
	for i := range scores {
		scores[i] = make([]score, len(thresholds))
	}
	var res yolo.Result
	for f := 0; f*photosPerFrame < len(photos); f++ {
		c := buildComposite(t, dir, photos[f*photosPerFrame:min(len(photos), (f+1)*photosPerFrame)])
		if out != "" {
			c.writeYOLO(t, out, fmt.Sprintf("frame%d", f), base.Classes())
		}
		for i, cf := range configs {
			if err := cf.det.Detect(c.img, &res); err != nil {
				t.Fatal(err)
			}
			for j, thr := range thresholds {
				scores[i][j].add(c.evaluate(res.Detections, thr))
			}
		}
		c.img.Close()
	}
	if out != "" {
		if err := os.WriteFile(filepath.Join(out, "names.txt"), []byte(strings.Join(base.Classes(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\ncount error per frame / per photo (recall at IoU 0.5, counted), by threshold")
	for i, cf := range configs {
		fmt.Fprintf(&b, "\n%s", cf.name)
		for j, s := range scores[i] {
			fmt.Fprintf(&b, "\n  %.2f  %.3f / %.3f  (%.2f, %d)", thresholds[j], s.frameError(), s.countError(), s.recall(), s.counted)
		}
	}
	fmt.Fprintf(&b, "\n%d true boxes of %s on %d photos", scores[0][0].truth, strings.Join(countedLabels, ", "), len(photos))
	t.Log(b.String())
}
