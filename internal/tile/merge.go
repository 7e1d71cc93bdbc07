package tile

import (
	"cmp"
	"slices"

	"github.com/edgecam/edgecam/internal/box"
	"github.com/edgecam/edgecam/internal/yolo"
)

// Sides of a box that a tile's edge cut (the edge is inside the frame, and the box reaches it):
// the object goes on beyond it, into the neighbouring tile.
const (
	cutLeft uint8 = 1 << iota
	cutTop
	cutRight
	cutBottom
)

// Box is one detection in frame pixels, with the sides a tile edge cut.
type Box struct {
	yolo.Detection
	Cut  uint8
	gone bool
}

// Thresholds of Merge.
const (
	// nmsIoU: boxes of one class overlapping more than this are one object (the detector's
	// own NMS threshold): the lower-scoring one goes.
	nmsIoU = 0.45
	// cutIoS: a box cut by a tile edge that lies this much inside another box of its class (its
	// intersection over the smaller area, SAHI's IoS) is part of that object: they are joined.
	cutIoS = 0.5
	// alongCut: two boxes cut by the same tile boundary, one on each side, whose extents along
	// the cut overlap this much (1-D IoU) are the two halves of one object: they are joined.
	alongCut = 0.5
)

// Merge joins the boxes that are one object and returns the kept ones, highest score first, in
// place at the start of boxes. Per class, in score order (greedy non-maximum merging, as SAHI's
// GREEDYNMM, but only cut boxes are merged; whole boxes are suppressed as NMS does):
//
//   - boxes overlapping by IoU > 0.45 are one object: the weaker is dropped, or, when one of
//     them was cut by a tile edge, the kept box grows to hold both;
//   - a cut box lying mostly inside another (intersection over its own area > 0.5) is part of
//     it: joined;
//   - two boxes cut by one tile boundary from its two sides (left part cut on its right, right
//     part cut on its left), overlapping across the boundary and spanning the same rows (1-D
//     IoU > 0.5; columns for a horizontal boundary), are the halves of one object: joined.
//
// A joined box takes the higher score and, side by side, the cut marks of the box that gave it
// that side, so a third part can still join it.
func Merge(boxes []Box) []Box {
	slices.SortStableFunc(boxes, func(a, b Box) int { return cmp.Compare(b.Score, a.Score) })
	for i := range boxes {
		k := &boxes[i]
		if k.gone {
			continue
		}
		for changed := true; changed; {
			changed = false
			for j := i + 1; j < len(boxes); j++ {
				b := &boxes[j]
				if b.gone || b.ClassID != k.ClassID {
					continue
				}
				join, same := match(k, b)
				if !same {
					continue
				}
				b.gone = true
				if join {
					grow(k, b)
					changed = true // a grown box may now meet boxes it did not before
				}
			}
		}
	}
	kept := boxes[:0]
	for _, b := range boxes {
		if !b.gone {
			kept = append(kept, b)
		}
	}
	return kept
}

// match reports whether a and b are one object (same) and whether their boxes are joined
// (join) rather than the weaker dropped.
func match(a, b *Box) (join, same bool) {
	cut := a.Cut|b.Cut != 0
	if box.IoU(a.Box, b.Box) > nmsIoU {
		return cut, true
	}
	if !cut {
		return false, false
	}
	inter := box.Intersection(a.Box, b.Box)
	if inter <= 0 {
		return false, false
	}
	// The smaller box, when cut, lies mostly inside the other.
	small, sa := b, box.Area(b.Box)
	if aa := box.Area(a.Box); aa < sa {
		small, sa = a, aa
	}
	if small.Cut != 0 && sa > 0 && inter/sa > cutIoS {
		return true, true
	}
	// Two parts cut by one boundary, one on each side.
	l, r := a, b
	if r.Box[0] < l.Box[0] {
		l, r = r, l
	}
	if l.Cut&cutRight != 0 && r.Cut&cutLeft != 0 && overlap1D(l.Box[1], l.Box[3], r.Box[1], r.Box[3]) > alongCut {
		return true, true
	}
	t, btm := a, b
	if btm.Box[1] < t.Box[1] {
		t, btm = btm, t
	}
	if t.Cut&cutBottom != 0 && btm.Cut&cutTop != 0 && overlap1D(t.Box[0], t.Box[2], btm.Box[0], btm.Box[2]) > alongCut {
		return true, true
	}
	return false, false
}

// grow makes k the union of k and b, with the higher score.
func grow(k, b *Box) {
	k.Score = max(k.Score, b.Score)
	side := func(kv, bv float32, outer bool, flag uint8) float32 {
		switch {
		case kv == bv:
			k.Cut |= b.Cut & flag
		case (bv < kv) == !outer: // b's side is further out
			k.Cut = k.Cut&^flag | b.Cut&flag
			return bv
		}
		return kv
	}
	k.Box[0] = side(k.Box[0], b.Box[0], false, cutLeft)
	k.Box[1] = side(k.Box[1], b.Box[1], false, cutTop)
	k.Box[2] = side(k.Box[2], b.Box[2], true, cutRight)
	k.Box[3] = side(k.Box[3], b.Box[3], true, cutBottom)
}

// overlap1D is the IoU of the intervals [a1, a2] and [b1, b2].
func overlap1D(a1, a2, b1, b2 float32) float32 {
	inter := min(a2, b2) - max(a1, b1)
	union := max(a2, b2) - min(a1, b1)
	if inter <= 0 || union <= 0 {
		return 0
	}
	return inter / union
}
