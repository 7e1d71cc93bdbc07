// Package tile detects far-away objects: it cuts a frame into overlapping tiles (or each zone's
// bounding box), runs the detector on each tile at the model's input size (regions of the frame,
// no copies), maps the boxes back to frame pixels and merges them, so that an object cut by a
// tile's edge, or seen by two tiles and the whole frame, is counted once.
//
// The geometry and merging here are pure Go; detector.go wraps a yolo.Detector.
package tile

import (
	"image"
	"math"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/zone"
)

// Options say how frames are cut. Grid (Cols x Rows, at least 2 tiles) and Zones are
// alternatives; with Zones set the regions are the zones' bounding boxes.
type Options struct {
	Cols, Rows int
	// Overlap is the fraction of a tile its neighbours share (0..0.5); with Zones, each zone's
	// box is grown by Overlap/2 of its size on every side.
	Overlap float64
	// Full detects on the whole frame too, for objects larger than a tile.
	Full bool
	// Zones, when set, are the regions (polygons in fractions of the frame).
	Zones []zone.Polygon
}

// FromConfig returns the options of a camera's effective detection.tiles and its zones, and
// false when t does not tile (nil or off).
func FromConfig(t *config.Tiles, zones []zone.Polygon) (Options, bool) {
	if !t.On() {
		return Options{}, false
	}
	o := Options{Overlap: t.OverlapOr(), Full: t.FullOr()}
	if t.Mode == config.TilesZones {
		o.Zones = zones
	} else {
		o.Cols, o.Rows = max(t.Cols, 1), max(t.Rows, 1)
	}
	return o, true
}

// Regions appends to dst the regions of a w x h frame that o detects one by one (the whole frame,
// with Full, is not among them). A frame too small for its grid (tiles under 8 pixels) has none:
// it is detected whole.
func (o Options) Regions(dst []image.Rectangle, w, h int) []image.Rectangle {
	if len(o.Zones) > 0 {
		for _, z := range o.Zones {
			if r := zoneBox(z, w, h, o.Overlap); r.Dx() >= minSide && r.Dy() >= minSide {
				dst = append(dst, r)
			}
		}
		return dst
	}
	if span(w, o.Cols, o.Overlap) < minSide || span(h, o.Rows, o.Overlap) < minSide {
		return dst
	}
	return Grid(dst, w, h, o.Cols, o.Rows, o.Overlap)
}

// minSide is the smallest region side detected: a sliver would only be upscaled noise.
const minSide = 8

// Grid appends to dst cols x rows tiles of a w x h frame, equal in size, neighbours sharing
// overlap of a tile, the outer ones on the frame's edges; row by row from the top left.
func Grid(dst []image.Rectangle, w, h, cols, rows int, overlap float64) []image.Rectangle {
	if cols < 1 || rows < 1 || w <= 0 || h <= 0 {
		return dst
	}
	tw, th := span(w, cols, overlap), span(h, rows, overlap)
	for r := 0; r < rows; r++ {
		y := start(h, th, r, rows)
		for c := 0; c < cols; c++ {
			x := start(w, tw, c, cols)
			dst = append(dst, image.Rect(x, y, x+tw, y+th))
		}
	}
	return dst
}

// span is the size of each of parts tiles covering n pixels with overlap between neighbours:
// n = size * (parts - (parts-1) * overlap).
func span(n, parts int, overlap float64) int {
	if parts <= 1 {
		return n
	}
	return min(n, int(math.Ceil(float64(n)/(float64(parts)-float64(parts-1)*overlap))))
}

// start is where tile i of parts, size pixels each, starts in n pixels: spread evenly from 0 to
// n-size.
func start(n, size, i, parts int) int {
	if parts <= 1 {
		return 0
	}
	return int(math.Round(float64(i) * float64(n-size) / float64(parts-1)))
}

// zoneBox is the bounding box of polygon z in a w x h frame, grown by grow/2 of its size on
// every side and clipped to the frame.
func zoneBox(z zone.Polygon, w, h int, grow float64) image.Rectangle {
	if len(z) == 0 {
		return image.Rectangle{}
	}
	x1, y1, x2, y2 := z[0].X, z[0].Y, z[0].X, z[0].Y
	for _, p := range z[1:] {
		x1, y1 = math.Min(x1, p.X), math.Min(y1, p.Y)
		x2, y2 = math.Max(x2, p.X), math.Max(y2, p.Y)
	}
	gx, gy := (x2-x1)*grow/2, (y2-y1)*grow/2
	const eps = 1e-9 // 0.21 * 1000 is 210, not 210.00000000000003
	r := image.Rect(int(math.Floor((x1-gx)*float64(w)+eps)), int(math.Floor((y1-gy)*float64(h)+eps)),
		int(math.Ceil((x2+gx)*float64(w)-eps)), int(math.Ceil((y2+gy)*float64(h)-eps)))
	return r.Intersect(image.Rect(0, 0, w, h))
}
