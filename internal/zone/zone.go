// Package zone is the plane geometry of edgecam's zones and masks: polygons in fractions of the
// frame (0..1 of its width and height, so a resolution change keeps them), the anchor point of a
// detection box, whether a polygon contains a point, and whether a polygon crosses itself.
//
// It has no cgo dependency: the tally and the configuration use it, and it is tested with -race.
package zone

import (
	"fmt"
	"math"
)

// Point is a position in fractions of the frame: X from the left edge (0) to the right edge (1),
// Y from the top edge (0) to the bottom edge (1).
type Point struct{ X, Y float64 }

// Polygon is a closed polygon: the last point joins the first. It needs at least 3 points.
type Polygon []Point

// Anchor is the point of a detection box that decides whether the object is in a zone or a mask.
type Anchor int

const (
	// BottomCenter is the middle of the box's bottom edge: where a person or a car stands on the
	// ground, so an object is in a zone drawn on the floor even when its body rises above it.
	BottomCenter Anchor = iota
	// Center is the middle of the box, for zones that are not on the ground (a shelf, a window).
	Center
)

// Anchor names as written in the configuration.
const (
	AnchorBottomCenter = "bottom-center"
	AnchorCenter       = "center"
)

// ParseAnchor reads an anchor name; "" is BottomCenter.
func ParseAnchor(s string) (Anchor, error) {
	switch s {
	case "", AnchorBottomCenter:
		return BottomCenter, nil
	case AnchorCenter:
		return Center, nil
	}
	return 0, fmt.Errorf("unknown anchor %q: use %s (the default) or %s", s, AnchorBottomCenter, AnchorCenter)
}

func (a Anchor) String() string {
	if a == Center {
		return AnchorCenter
	}
	return AnchorBottomCenter
}

// Of returns the anchor point of box (x1, y1, x2, y2, in fractions of the frame).
func (a Anchor) Of(box [4]float64) Point {
	x := (box[0] + box[2]) / 2
	if a == Center {
		return Point{x, (box[1] + box[3]) / 2}
	}
	return Point{x, max(box[1], box[3])}
}

// Contains reports whether p is inside the polygon or on its boundary. Points on an edge or a
// vertex count as inside, so a zone covering the left half ([0,0] [0.5,0] [0.5,1] [0,1])
// contains an object standing exactly on its edge x = 0.5 or on the bottom edge of the frame
// y = 1, where the bottom-centre anchor of an object cut by the frame edge lies. Inside a
// self-intersecting polygon the even-odd rule applies (the configuration refuses those).
func (pg Polygon) Contains(p Point) bool {
	n := len(pg)
	if n < 3 {
		return false
	}
	inside := false
	for i, j := 0, n-1; i < n; j, i = i, i+1 {
		a, b := pg[j], pg[i]
		if onSegment(a, b, p) {
			return true
		}
		// Ray casting to the right: count the edges crossing the horizontal line through p whose
		// crossing lies right of p. Half-open in y so a vertex on the line counts once.
		if (a.Y > p.Y) != (b.Y > p.Y) {
			x := a.X + (p.Y-a.Y)*(b.X-a.X)/(b.Y-a.Y)
			if p.X < x {
				inside = !inside
			}
		}
	}
	return inside
}

// eps absorbs rounding in the boundary tests; coordinates are fractions of a frame, so 1e-9 is
// far below a pixel of any real camera.
const eps = 1e-9

func cross(o, a, b Point) float64 { return (a.X-o.X)*(b.Y-o.Y) - (a.Y-o.Y)*(b.X-o.X) }

// onSegment reports whether p lies on the segment ab.
func onSegment(a, b, p Point) bool {
	if math.Abs(cross(a, b, p)) > eps*math.Max(1, math.Hypot(b.X-a.X, b.Y-a.Y)) {
		return false
	}
	return p.X >= math.Min(a.X, b.X)-eps && p.X <= math.Max(a.X, b.X)+eps &&
		p.Y >= math.Min(a.Y, b.Y)-eps && p.Y <= math.Max(a.Y, b.Y)+eps
}

func sign(v float64) int {
	switch {
	case v > eps:
		return 1
	case v < -eps:
		return -1
	}
	return 0
}

// segmentsIntersect reports whether the closed segments ab and cd share a point.
func segmentsIntersect(a, b, c, d Point) bool {
	d1, d2 := sign(cross(c, d, a)), sign(cross(c, d, b))
	d3, d4 := sign(cross(a, b, c)), sign(cross(a, b, d))
	if d1*d2 < 0 && d3*d4 < 0 {
		return true
	}
	return d1 == 0 && onSegment(c, d, a) || d2 == 0 && onSegment(c, d, b) ||
		d3 == 0 && onSegment(a, b, c) || d4 == 0 && onSegment(a, b, d)
}

// SelfIntersection reports the first pair of edges (numbered from 1: edge k joins point k to
// point k+1, the last edge joins the last point to the first) that cross or touch, other than
// neighbours meeting at their shared point; ok is false for a simple polygon. Repeated points
// and an edge folding back over its neighbour count as intersections too: such a polygon has
// no well-defined inside.
func (pg Polygon) SelfIntersection() (e1, e2 int, ok bool) {
	n := len(pg)
	if n < 3 {
		return 0, 0, false
	}
	for i := 0; i < n; i++ {
		if pg[i] == pg[(i+1)%n] {
			return i + 1, i + 1, true // zero-length edge: a repeated point
		}
	}
	for i := 0; i < n; i++ {
		a, b := pg[i], pg[(i+1)%n]
		for j := i + 1; j < n; j++ {
			c, d := pg[j], pg[(j+1)%n]
			switch {
			case j == i+1: // neighbours share b == c
				if collinearOverlap(a, b, d) {
					return i + 1, j + 1, true
				}
			case i == 0 && j == n-1: // the closing edge shares a == d
				if collinearOverlap(b, a, c) {
					return i + 1, j + 1, true
				}
			default:
				if segmentsIntersect(a, b, c, d) {
					return i + 1, j + 1, true
				}
			}
		}
	}
	return 0, 0, false
}

// collinearOverlap reports whether the edges a->b and b->d, which meet at b, fold back over each
// other (d lies on the line through a and b, on a's side of b).
func collinearOverlap(a, b, d Point) bool {
	if sign(cross(a, b, d)) != 0 {
		return false
	}
	return (a.X-b.X)*(d.X-b.X)+(a.Y-b.Y)*(d.Y-b.Y) > 0
}

// Area is the polygon's area in fractions of the frame (1 is the whole frame), by the shoelace
// formula; for a self-intersecting polygon it is not meaningful.
func (pg Polygon) Area() float64 {
	var s float64
	for i, j := 0, len(pg)-1; i < len(pg); j, i = i, i+1 {
		s += pg[j].X*pg[i].Y - pg[i].X*pg[j].Y
	}
	return math.Abs(s) / 2
}

// Collinear reports whether every point of the polygon lies on one line (it encloses nothing).
// Repeated points do not make it collinear: the line runs through the first two distinct points.
func (pg Polygon) Collinear() bool {
	k := 1
	for k < len(pg) && pg[k] == pg[0] {
		k++
	}
	for i := k + 1; i < len(pg); i++ {
		if sign(cross(pg[0], pg[k], pg[i])) != 0 {
			return false
		}
	}
	return true
}
