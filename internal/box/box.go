// Package box is the arithmetic of axis-aligned boxes given by their corners, x1, y1, x2, y2,
// in any unit (pixels, or fractions of the frame): the overlap measures that the detector's NMS,
// the merging of tiles, the tracker and the evaluation of counts share. float32 boxes (the
// detector's) and float64 boxes (the tally's) both work.
package box

// Float is the coordinate type of a box.
type Float interface{ ~float32 | ~float64 }

// Area is the area of b; 0 for a box whose corners are the wrong way round.
func Area[T Float](b [4]T) T { return max(0, b[2]-b[0]) * max(0, b[3]-b[1]) }

// Intersection is the area a and b share.
func Intersection[T Float](a, b [4]T) T {
	iw := min(a[2], b[2]) - max(a[0], b[0])
	ih := min(a[3], b[3]) - max(a[1], b[1])
	if iw <= 0 || ih <= 0 {
		return 0
	}
	return iw * ih
}

// IoU is the intersection over union of a and b: 1 for the same box, 0 for boxes that do not
// overlap (or have no area).
func IoU[T Float](a, b [4]T) T {
	inter := Intersection(a, b)
	if inter <= 0 {
		return 0
	}
	union := Area(a) + Area(b) - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}
