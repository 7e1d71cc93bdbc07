package markup

import (
	"image"
	"image/color"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/tally"
	"github.com/edgecam/edgecam/internal/yolo"
	"github.com/edgecam/edgecam/internal/zone"
)

// Predictions appends to dst the detections of res as tally predictions, boxes in fractions of
// the image (what zones, masks and area filters are written in), one per detection in order.
func Predictions(dst []tally.Prediction, res *yolo.Result) []tally.Prediction {
	w, h := float64(max(res.Width, 1)), float64(max(res.Height, 1))
	for _, d := range res.Detections {
		dst = append(dst, tally.Prediction{
			Label: d.Label,
			Score: float64(d.Score),
			Box:   [4]float64{float64(d.Box[0]) / w, float64(d.Box[1]) / h, float64(d.Box[2]) / w, float64(d.Box[3]) / h},
		})
	}
	return dst
}

var (
	zoneColour = color.RGBA{0xFF, 0xC8, 0x00, 0} // amber
	maskColour = color.RGBA{0x40, 0x40, 0x40, 0}
)

// Zones shades the masks (dark, half transparent) and outlines the zones with their names on
// img, a BGR image; call it before Boxes so the boxes stay on top.
func Zones(img *gocv.Mat, zones []tally.Zone, masks []tally.Mask) {
	if img == nil || img.Empty() || len(zones)+len(masks) == 0 {
		return
	}
	w, h := img.Cols(), img.Rows()
	thick := max(1, (w+h)/600)
	if len(masks) > 0 {
		polys := make([][]image.Point, len(masks))
		for i, m := range masks {
			polys[i] = pixels(m.Polygon, w, h)
		}
		shade(img, polys)
		pv := gocv.NewPointsVectorFromPoints(polys)
		gocv.Polylines(img, pv, true, maskColour, thick)
		pv.Close()
		for _, p := range polys {
			label(img, "mask", p[0], maskColour, color.RGBA{255, 255, 255, 0}, thick)
		}
	}
	for _, z := range zones {
		pts := pixels(z.Polygon, w, h)
		pv := gocv.NewPointsVectorFromPoints([][]image.Point{pts})
		gocv.Polylines(img, pv, true, zoneColour, thick+1)
		pv.Close()
		name := z.Name
		if z.Anchor == zone.Center {
			name += " (center)"
		}
		label(img, name, pts[0], zoneColour, color.RGBA{0, 0, 0, 0}, thick)
	}
}

// shade darkens the polygons polys (pixel positions on img) half-transparently. It works on
// bounding rectangles only: for each group of masks (see shadeGroups) a Region of img, a copy
// of just that region to fill, and the blend written back into the region, so small masks
// cost small copies, not a copy of the whole frame per tick.
func shade(img *gocv.Mat, polys [][]image.Point) {
	for _, g := range shadeGroups(polys, image.Rect(0, 0, img.Cols(), img.Rows())) {
		shadeIn(img, g)
	}
}

func shadeIn(img *gocv.Mat, g shadeGroup) {
	region := img.Region(g.box)
	defer region.Close()
	overlay := region.Clone()
	defer overlay.Close()
	shifted := make([][]image.Point, len(g.polys))
	for i, p := range g.polys {
		shifted[i] = make([]image.Point, len(p))
		for j, q := range p {
			shifted[i][j] = q.Sub(g.box.Min)
		}
	}
	pv := gocv.NewPointsVectorFromPoints(shifted)
	defer pv.Close()
	gocv.FillPoly(&overlay, pv, maskColour)
	gocv.AddWeighted(overlay, 0.6, region, 0.4, 0, &region)
}

// shadeGroup is polygons filled together in one region of the frame.
type shadeGroup struct {
	box   image.Rectangle
	polys [][]image.Point
}

// shadeGroups splits polys into groups whose bounding rectangles do not overlap, each with
// the rectangle holding its polygons, clipped to frame (groups wholly outside are left out).
// Polygons whose rectangles overlap are filled together, in one FillPoly, as all masks were
// when the whole frame was shaded at once, so overlaps look the same; separate groups cannot
// touch the same pixel.
func shadeGroups(polys [][]image.Point, frame image.Rectangle) []shadeGroup {
	groups := make([]shadeGroup, 0, len(polys))
	for _, p := range polys {
		if len(p) == 0 {
			continue
		}
		g := shadeGroup{box: bounds(p), polys: [][]image.Point{p}}
		for merged := true; merged; {
			merged = false
			for i := range groups {
				if groups[i].box.Overlaps(g.box) {
					g.box = g.box.Union(groups[i].box)
					g.polys = append(groups[i].polys, g.polys...)
					groups = append(groups[:i], groups[i+1:]...)
					merged = true
					break
				}
			}
		}
		groups = append(groups, g)
	}
	kept := groups[:0]
	for _, g := range groups {
		if g.box = g.box.Intersect(frame); !g.box.Empty() {
			kept = append(kept, g)
		}
	}
	return kept
}

// bounds is the smallest rectangle holding every point of poly (end-exclusive, so a point on
// the last row or column is inside).
func bounds(poly []image.Point) image.Rectangle {
	r := image.Rectangle{Min: poly[0], Max: poly[0].Add(image.Pt(1, 1))}
	for _, q := range poly[1:] {
		r = r.Union(image.Rectangle{Min: q, Max: q.Add(image.Pt(1, 1))})
	}
	return r
}

// pixels maps a polygon in fractions of the frame onto pixel positions of a w x h image.
func pixels(pg zone.Polygon, w, h int) []image.Point {
	pts := make([]image.Point, len(pg))
	for i, p := range pg {
		pts[i] = image.Pt(min(int(p.X*float64(w)+0.5), w-1), min(int(p.Y*float64(h)+0.5), h-1))
	}
	return pts
}

// label writes text on a filled background at p, kept inside the image.
func label(img *gocv.Mat, text string, p image.Point, bg, fg color.RGBA, thick int) {
	scale := float64(thick) / 3
	textThick := max(1, thick-1)
	size, baseline := gocv.GetTextSizeWithBaseline(text, gocv.FontHersheySimplex, scale, textThick)
	x := min(max(p.X, 0), max(0, img.Cols()-size.X-2))
	y := min(max(p.Y, 0), max(0, img.Rows()-size.Y-baseline-2))
	gocv.Rectangle(img, image.Rect(x, y, x+size.X+2, y+size.Y+baseline+2), bg, -1)
	gocv.PutTextWithParams(img, text, image.Pt(x+1, y+size.Y+1), gocv.FontHersheySimplex, scale,
		fg, textThick, gocv.LineAA, false)
}
