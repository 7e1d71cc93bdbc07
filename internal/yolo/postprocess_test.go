package yolo

import (
	"math"
	"reflect"
	"testing"
)

// row builds one output row of a 3-class model.
func row(cx, cy, w, h, obj float32, cls ...float32) []float32 {
	return append([]float32{cx, cy, w, h, obj}, cls...)
}

// mul multiplies in float32 as the decoder does (a constant expression would be exact).
func mul(a, b float32) float32 { return a * b }

func TestDecodeRows(t *testing.T) {
	var out []float32
	out = append(out, row(100, 100, 20, 40, 0.9, 0.1, 0.8, 0.3)...)     // class 1, 0.72
	out = append(out, row(50, 50, 10, 10, 0.25, 1, 1, 1)...)            // objectness not above 0.25
	out = append(out, row(50, 50, 10, 10, 0.26, 0.1, 0.2, 0.95)...)     // 0.247: confidence not above 0.25
	out = append(out, row(10, 20, 4, 6, 0.5, 0.2, 0.2, 0.6)...)         // class 2, 0.3
	out = append(out, row(10, 20, 4, 6, 0.5, 0.7, 0.7, 0.1)...)         // tie: first class wins
	out = append(out, row(1, 1, 1, 1, float32(math.NaN()), 1, 1, 1)...) // NaN never passes
	got := decodeRows(out, 8, 0.25, nil)
	want := []candidate{
		{Box: [4]float32{90, 80, 110, 120}, Score: mul(0.9, 0.8), Class: 1},
		{Box: [4]float32{8, 17, 12, 23}, Score: mul(0.5, 0.6), Class: 2},
		{Box: [4]float32{8, 17, 12, 23}, Score: mul(0.5, 0.7), Class: 0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decodeRows = %+v\nwant %+v", got, want)
	}
	// Reuses dst's storage.
	buf := make([]candidate, 0, 8)
	if got := decodeRows(out, 8, 0.25, buf); &got[0] != &buf[:1][0] {
		t.Error("decodeRows did not reuse dst")
	}
	if got := decodeRows(out, 5, 0.25, nil); len(got) != 0 {
		t.Errorf("5 columns (no classes): %v", got)
	}
}

func TestNMS(t *testing.T) {
	box := func(x1, y1, x2, y2 float32) [4]float32 { return [4]float32{x1, y1, x2, y2} }
	cands := []candidate{
		{Box: box(0, 0, 10, 10), Score: 0.5, Class: 0},
		{Box: box(1, 0, 11, 10), Score: 0.9, Class: 0},    // IoU with the first 0.818: keeps this one
		{Box: box(1, 0, 11, 10), Score: 0.8, Class: 1},    // same place, other class: kept
		{Box: box(100, 0, 110, 10), Score: 0.3, Class: 0}, // far away: kept
		{Box: box(5, 0, 15, 10), Score: 0.7, Class: 0},    // IoU with 0.9 box: 6/14 = 0.43, kept
		{Box: box(20, 0, 30, 10), Score: 0.6, Class: 2},
		{Box: box(20, 0, 29, 10), Score: 0.4, Class: 2}, // IoU 0.9: dropped
	}
	got := nms(cands, 0.45, 300)
	want := []float32{0.9, 0.8, 0.7, 0.6, 0.3}
	var scores []float32
	for _, c := range got {
		scores = append(scores, c.Score)
	}
	if !reflect.DeepEqual(scores, want) {
		t.Errorf("kept scores %v, want %v", scores, want)
	}

	// IoU exactly at the threshold is kept (suppression needs IoU above it).
	edge := []candidate{
		{Box: box(0, 0, 10, 10), Score: 0.9},
		{Box: box(0, 0, 10, 5), Score: 0.8}, // IoU 0.5
	}
	if got := nms(edge, 0.5, 300); len(got) != 2 {
		t.Errorf("IoU == threshold: kept %d, want 2", len(got))
	}
	edge = []candidate{{Box: box(0, 0, 10, 10), Score: 0.9}, {Box: box(0, 0, 10, 5), Score: 0.8}}
	if got := nms(edge, 0.49, 300); len(got) != 1 {
		t.Errorf("IoU above threshold: kept %d, want 1", len(got))
	}

	// At most maxDet, the best ones.
	many := make([]candidate, 50)
	for i := range many {
		many[i] = candidate{Box: box(float32(20*i), 0, float32(20*i+10), 10), Score: float32(i) / 100}
	}
	if got := nms(many, 0.45, 3); len(got) != 3 || got[0].Score != 0.49 || got[2].Score != 0.47 {
		t.Errorf("maxDet 3: %+v", got)
	}
	if got := nms(nil, 0.45, 300); len(got) != 0 {
		t.Errorf("empty: %v", got)
	}
}

func TestDecodeColumns(t *testing.T) {
	// 3 candidates, 2 classes: rows cx, cy, w, h, score0, score1.
	out := []float32{
		100, 10, 1, // cx
		100, 20, 1, // cy
		20, 4, 1, // w
		40, 6, 1, // h
		0.1, 0.9, 0.25, // class 0
		0.7, 0.2, 0.2, // class 1
	}
	got := decodeColumns(out, 6, 3, 0.25, &columnScratch{}, nil)
	want := []candidate{
		{Box: [4]float32{90, 80, 110, 120}, Score: 0.7, Class: 1},
		{Box: [4]float32{8, 17, 12, 23}, Score: 0.9, Class: 0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decodeColumns = %+v\nwant %+v", got, want)
	}
	if got := decodeColumns(out[:10], 6, 3, 0.25, &columnScratch{}, nil); len(got) != 0 {
		t.Errorf("short output: %v", got)
	}
}

func TestDecodeEndToEnd(t *testing.T) {
	out := []float32{
		10, 20, 30, 40, 0.9, 2,
		1, 2, 3, 4, 0.2, 0, // below conf
		1, 2, 3, 4, 0.8, -1, // padding class
		1, 2, 3, 4, 0.8, 1.5, // not a class index
		5, 6, 7, 8, 0.5, 0,
		0, 0, 0, 0, 0, 0, // padding row
	}
	got := decodeEndToEnd(out, 0.25, nil)
	want := []candidate{{Box: [4]float32{10, 20, 30, 40}, Score: 0.9, Class: 2}, {Box: [4]float32{5, 6, 7, 8}, Score: 0.5, Class: 0}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decodeEndToEnd = %+v\nwant %+v", got, want)
	}
}

// BenchmarkDecodeColumns decodes a YOLOv8 COCO output at 640 (84 x 8400) with a few candidates.
func BenchmarkDecodeColumns(b *testing.B) {
	const n = 8400
	out := make([]float32, 84*n)
	for j := 0; j < n; j += 400 {
		out[j], out[n+j], out[2*n+j], out[3*n+j], out[(4+j%80)*n+j] = 320, 320, 50, 80, 0.6
	}
	var dst []candidate
	var s columnScratch
	b.ReportAllocs()
	for b.Loop() {
		dst = decodeColumns(out, 84, n, 0.25, &s, dst[:0])
	}
}
