package yolo

import (
	"image"
	"image/color"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/tally"
	"github.com/edgecam/edgecam/internal/zone"
)

// Predictions appends to dst the detections of res as tally predictions, boxes in fractions of
// the image (what zones, masks and area filters are written in), one per detection in order.
func Predictions(dst []tally.Prediction, res *Result) []tally.Prediction {
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

// AnnotateZones shades the masks (dark, half transparent) and outlines the zones with their
// names on img, a BGR image; call it before Annotate so the boxes stay on top.
func AnnotateZones(img *gocv.Mat, zones []tally.Zone, masks []tally.Mask) {
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
		pv := gocv.NewPointsVectorFromPoints(polys)
		overlay := img.Clone()
		gocv.FillPoly(&overlay, pv, maskColour)
		gocv.AddWeighted(overlay, 0.6, *img, 0.4, 0, img)
		overlay.Close()
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
