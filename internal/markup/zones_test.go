package markup

import (
	"image"
	"testing"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/tally"
	"github.com/edgecam/edgecam/internal/zone"
)

// shadeFullFrame is the former mask shading (a clone of the whole frame per call), kept as the
// reference shade must match and the baseline of BenchmarkShade.
func shadeFullFrame(img *gocv.Mat, polys [][]image.Point) {
	pv := gocv.NewPointsVectorFromPoints(polys)
	defer pv.Close()
	overlay := img.Clone()
	defer overlay.Close()
	gocv.FillPoly(&overlay, pv, maskColour)
	gocv.AddWeighted(overlay, 0.6, *img, 0.4, 0, img)
}

// testMasks are two masks on bus.jpg (810x1080): a quadrilateral at the top left and a triangle
// touching the right and bottom edges; overlapMasks adds one crossing the first.
var (
	testMasks = []tally.Mask{
		{Polygon: zone.Polygon{{X: 0.05, Y: 0.1}, {X: 0.3, Y: 0.05}, {X: 0.35, Y: 0.3}, {X: 0.1, Y: 0.25}}},
		{Polygon: zone.Polygon{{X: 0.7, Y: 1}, {X: 1, Y: 0.6}, {X: 1, Y: 1}}},
	}
	overlapMasks = append(testMasks[:2:2], tally.Mask{Polygon: zone.Polygon{{X: 0.2, Y: 0.2}, {X: 0.5, Y: 0.2}, {X: 0.5, Y: 0.5}}})
)

func maskPixels(img gocv.Mat, masks []tally.Mask) [][]image.Point {
	polys := make([][]image.Point, len(masks))
	for i, m := range masks {
		polys[i] = pixels(m.Polygon, img.Cols(), img.Rows())
	}
	return polys
}

// TestShadeMatchesFullFrame: shading only the masks' bounding rectangle gives the picture the
// full-frame shading gave, within 1 per channel, on a real photo; pixels outside the masks
// are untouched.
func TestShadeMatchesFullFrame(t *testing.T) {
	for name, masks := range map[string][]tally.Mask{"two": testMasks, "one": testMasks[:1], "edge": testMasks[1:], "overlapping": overlapMasks} {
		t.Run(name, func(t *testing.T) {
			orig := decodeBus(t)
			defer orig.Close()
			want, got := orig.Clone(), orig.Clone()
			defer want.Close()
			defer got.Close()
			polys := maskPixels(orig, masks)
			shadeFullFrame(&want, polys)
			shade(&got, polys)

			diff := gocv.NewMat()
			defer diff.Close()
			gocv.AbsDiff(want, got, &diff)
			_, maxDiff, _, _ := gocv.MinMaxLoc(diff.Reshape(1, 0))
			if maxDiff > 1 {
				t.Errorf("region shading differs from full-frame shading by up to %g per channel", maxDiff)
			}
			gocv.AbsDiff(orig, got, &diff)
			if gocv.CountNonZero(diff.Reshape(1, 0)) == 0 {
				t.Error("nothing was shaded")
			}
		})
	}
}

func TestShadeOutsideFrame(t *testing.T) {
	img := gocv.NewMatWithSize(20, 30, gocv.MatTypeCV8UC3)
	defer img.Close()
	shade(&img, [][]image.Point{{{-5, -5}, {10, -5}, {10, 10}}}) // clipped, no panic
	shade(&img, [][]image.Point{{{40, 40}, {50, 40}, {50, 50}}}) // wholly outside: nothing
	shade(&img, nil)
}

// BenchmarkShade compares shading two masks on bus.jpg on the whole frame (before) and on the
// masks' bounding rectangle (after).
func BenchmarkShade(b *testing.B) {
	img := decodeBus(b)
	defer img.Close()
	polys := maskPixels(img, testMasks)
	for _, c := range []struct {
		name string
		f    func(*gocv.Mat, [][]image.Point)
	}{{"fullFrame", shadeFullFrame}, {"region", shade}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			copied := img.Total() * img.Channels()
			if c.name == "region" {
				copied = 0
				for _, g := range shadeGroups(polys, image.Rect(0, 0, img.Cols(), img.Rows())) {
					copied += g.box.Dx() * g.box.Dy() * img.Channels()
				}
			}
			b.ReportMetric(float64(copied), "copiedB/op")
			for i := 0; i < b.N; i++ {
				c.f(&img, polys)
			}
		})
	}
}

// BenchmarkZones is the whole zones and masks mark-up of a tick on bus.jpg.
func BenchmarkZones(b *testing.B) {
	img := decodeBus(b)
	defer img.Close()
	zones := []tally.Zone{{Name: "road", Polygon: zone.Polygon{{X: 0, Y: 0.5}, {X: 1, Y: 0.5}, {X: 1, Y: 1}, {X: 0, Y: 1}}}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Zones(&img, zones, testMasks)
	}
}

func TestShadeGroups(t *testing.T) {
	frame := image.Rect(0, 0, 100, 100)
	a := []image.Point{{10, 10}, {20, 10}, {20, 20}}
	b := []image.Point{{15, 15}, {30, 15}, {30, 30}} // overlaps a's rectangle
	c := []image.Point{{60, 60}, {99, 60}, {99, 99}}
	d := []image.Point{{200, 200}, {210, 200}, {210, 210}} // outside the frame
	g := shadeGroups([][]image.Point{a, c, b, d}, frame)
	if len(g) != 2 {
		t.Fatalf("groups %v", g)
	}
	if g[0].box != image.Rect(60, 60, 100, 100) || len(g[0].polys) != 1 ||
		g[1].box != image.Rect(10, 10, 31, 31) || len(g[1].polys) != 2 {
		t.Errorf("groups %v", g)
	}
}
