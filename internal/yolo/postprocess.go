package yolo

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/edgecam/edgecam/internal/box"
)

// candidate is one output row that passed the confidence filters, in network-input pixels.
type candidate struct {
	Box   [4]float32 // x1, y1, x2, y2
	Score float32
	Class int
}

// decodeRows appends to dst the rows of a YOLOv5 output ([N, 5+classes] row-major: cx, cy, w, h,
// objectness, class scores) whose objectness is above conf and whose confidence, objectness x
// best class score, is above conf too. Boxes come out as corners.
func decodeRows(out []float32, cols int, conf float32, dst []candidate) []candidate {
	if cols < 6 {
		return dst
	}
	for off := 0; off+cols <= len(out); off += cols {
		row := out[off : off+cols : off+cols]
		obj := row[4]
		if !(obj > conf) {
			continue
		}
		best, cls := row[5], 0
		for c, s := range row[6:] {
			if s > best {
				best, cls = s, c+1
			}
		}
		score := obj * best
		if !(score > conf) {
			continue
		}
		cx, cy, hw, hh := row[0], row[1], row[2]/2, row[3]/2
		dst = append(dst, candidate{Box: [4]float32{cx - hw, cy - hh, cx + hw, cy + hh}, Score: score, Class: cls})
	}
	return dst
}

// columnScratch holds the best score and class of every candidate while a YOLOv8 output is
// scanned class row by class row (memory order), reused across frames.
type columnScratch struct {
	best []float32
	cls  []int32
}

// decodeColumns appends to dst the candidates of a YOLOv8-style output ([rows, n] row-major,
// rows = 4 + classes: row 0..3 are cx, cy, w, h of every candidate, then one row of scores per
// class; no objectness) whose best class score is above conf (the first class wins a tie).
func decodeColumns(out []float32, rows, n int, conf float32, s *columnScratch, dst []candidate) []candidate {
	if rows < 5 || len(out) < rows*n {
		return dst
	}
	if cap(s.best) < n {
		s.best, s.cls = make([]float32, n), make([]int32, n)
	}
	best, cls := s.best[:n], s.cls[:n]
	copy(best, out[4*n:5*n])
	clear(cls)
	for c := 1; c < rows-4; c++ {
		row := out[(4+c)*n : (5+c)*n]
		for j, v := range row {
			if v > best[j] {
				best[j], cls[j] = v, int32(c)
			}
		}
	}
	for j, b := range best {
		if !(b > conf) {
			continue
		}
		cx, cy, hw, hh := out[j], out[n+j], out[2*n+j]/2, out[3*n+j]/2
		dst = append(dst, candidate{Box: [4]float32{cx - hw, cy - hh, cx + hw, cy + hh}, Score: b, Class: int(cls[j])})
	}
	return dst
}

// decodeEndToEnd appends to dst the rows of an end-to-end output ([N, 6] row-major: x1, y1, x2,
// y2, score, class index, NMS already done) whose score is above conf. Rows with a negative or
// non-integral class index (padding) are skipped.
func decodeEndToEnd(out []float32, conf float32, dst []candidate) []candidate {
	for off := 0; off+6 <= len(out); off += 6 {
		row := out[off : off+6 : off+6]
		cls := row[5]
		if !(row[4] > conf) || !(cls >= 0) || cls != float32(int(cls)) || cls > 1e6 {
			continue
		}
		dst = append(dst, candidate{Box: [4]float32{row[0], row[1], row[2], row[3]}, Score: row[4], Class: int(cls)})
	}
	return dst
}

// classLabel names a class the model's names do not cover.
func classLabel(i int) string { return "class" + strconv.Itoa(i) }

// nms sorts cands by score, highest first, and keeps in place those not overlapping a
// higher-scoring kept box of the same class by more than iou (greedy per-class NMS, as
// torchvision's batched NMS), at most maxDet of them. It returns the kept prefix.
func nms(cands []candidate, iou float32, maxDet int) []candidate {
	slices.SortStableFunc(cands, func(a, b candidate) int { return cmp.Compare(b.Score, a.Score) })
	kept := 0
	for i := range cands {
		if kept >= maxDet {
			break
		}
		c := cands[i]
		suppressed := false
		for j := 0; j < kept; j++ {
			if cands[j].Class == c.Class && box.IoU(cands[j].Box, c.Box) > iou {
				suppressed = true
				break
			}
		}
		if !suppressed {
			cands[kept] = c
			kept++
		}
	}
	return cands[:kept]
}
