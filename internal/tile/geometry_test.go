package tile

import (
	"image"
	"testing"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/yolo"
	"github.com/edgecam/edgecam/internal/zone"
)

func TestGrid(t *testing.T) {
	got := Grid(nil, 2560, 1920, 3, 3, 0.2)
	if len(got) != 9 {
		t.Fatalf("%d tiles, want 9", len(got))
	}
	// 2560 / (3 - 2*0.2) = 984.6 -> 985 wide; 1920 / 2.6 -> 739 high.
	want := []image.Rectangle{image.Rect(0, 0, 985, 739), image.Rect(788, 0, 1773, 739), image.Rect(1575, 0, 2560, 739)}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("tile %d = %v, want %v", i, got[i], w)
		}
	}
	if last := got[8]; last != image.Rect(1575, 1181, 2560, 1920) {
		t.Errorf("last tile = %v", last)
	}
	// Neighbours share about 20 % of a tile; together the tiles cover the frame.
	if shared := got[0].Intersect(got[1]).Dx(); shared < 190 || shared > 200 {
		t.Errorf("neighbours share %d px, want ~197", shared)
	}
	cover := image.Rectangle{}
	for _, r := range got {
		cover = cover.Union(r)
	}
	if cover != image.Rect(0, 0, 2560, 1920) {
		t.Errorf("tiles cover %v", cover)
	}
	// No overlap: the frame split exactly.
	if g := Grid(nil, 100, 50, 2, 1, 0); g[0] != image.Rect(0, 0, 50, 50) || g[1] != image.Rect(50, 0, 100, 50) {
		t.Errorf("2x1 without overlap = %v", g)
	}
	if g := Grid(nil, 0, 50, 2, 2, 0.2); len(g) != 0 {
		t.Errorf("empty frame: %v", g)
	}
	// A frame too small for its grid is detected whole.
	if r := (Options{Cols: 8, Rows: 2, Overlap: 0.2}).Regions(nil, 40, 300); len(r) != 0 {
		t.Errorf("40x300 in 8 x 2: %v, want no tiles", r)
	}
	if r := (Options{Cols: 2, Rows: 2, Overlap: 0.2}).Regions(nil, 40, 300); len(r) != 4 {
		t.Errorf("40x300 in 2 x 2: %v", r)
	}
}

func TestZoneRegions(t *testing.T) {
	o := Options{Overlap: 0.2, Zones: []zone.Polygon{
		{{X: 0.5, Y: 0.5}, {X: 0.75, Y: 0.5}, {X: 0.75, Y: 1}}, // grown by 10 % of its size on each side, clipped below
		{{X: 0, Y: 0}, {X: 0.001, Y: 0}, {X: 0.001, Y: 0.001}}, // too small to detect
		{{X: 0.1, Y: 0.1}, {X: 0.2, Y: 0.1}, {X: 0.2, Y: 0.2}, {X: 0.1, Y: 0.2}},
	}}
	got := o.Regions(nil, 1000, 800)
	want := []image.Rectangle{image.Rect(475, 360, 775, 800), image.Rect(90, 72, 210, 168)}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("zone regions = %v, want %v", got, want)
	}
}

func TestFromConfig(t *testing.T) {
	yes, no := true, false
	ov := 0.3
	if _, on := FromConfig(nil, nil); on {
		t.Error("nil tiles tile")
	}
	if _, on := FromConfig(&config.Tiles{Mode: config.TilesOff}, nil); on {
		t.Error("off tiles tile")
	}
	o, on := FromConfig(&config.Tiles{Mode: config.TilesGrid, Cols: 3, Rows: 2, Overlap: &ov, Full: &no}, nil)
	if !on || o.Cols != 3 || o.Rows != 2 || o.Overlap != 0.3 || o.Full {
		t.Errorf("grid = %+v", o)
	}
	z := []zone.Polygon{{{X: 0, Y: 0}, {X: 1, Y: 0}, {X: 1, Y: 1}}}
	o, on = FromConfig(&config.Tiles{Mode: config.TilesZones, Full: &yes}, z)
	if !on || len(o.Zones) != 1 || !o.Full || o.Overlap != config.DefaultTileOverlap {
		t.Errorf("zones = %+v", o)
	}
}

func cutBox(class int, score float32, x1, y1, x2, y2 float32, cut uint8) Box {
	return Box{Detection: yolo.Detection{ClassID: class, Label: "c", Score: score, Box: [4]float32{x1, y1, x2, y2}}, Cut: cut}
}

func TestMerge(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []Box
		want [][4]float32
	}{
		{
			// A car across the vertical boundary of two tiles (overlap 400..500): each tile sees
			// the part on its side, cut at its edge; they join into one box.
			name: "halves across a boundary",
			in:   []Box{cutBox(2, 0.6, 350, 100, 500, 160, cutRight), cutBox(2, 0.7, 400, 102, 620, 158, cutLeft)},
			want: [][4]float32{{350, 100, 620, 160}},
		},
		{
			name: "halves across a horizontal boundary",
			in:   []Box{cutBox(0, 0.6, 100, 300, 140, 500, cutBottom), cutBox(0, 0.5, 98, 400, 142, 560, cutTop)},
			want: [][4]float32{{98, 300, 142, 560}},
		},
		{
			// The same object whole in the next tile (or the whole frame) and cut in this one:
			// the cut part lies inside the whole box.
			name: "part inside the whole",
			in:   []Box{cutBox(0, 0.9, 380, 100, 460, 300, 0), cutBox(0, 0.5, 400, 100, 460, 300, cutLeft)},
			want: [][4]float32{{380, 100, 460, 300}},
		},
		{
			// Seen whole by two overlapping tiles: plain NMS.
			name: "whole twice",
			in:   []Box{cutBox(0, 0.8, 410, 100, 450, 200, 0), cutBox(0, 0.7, 411, 101, 451, 202, 0)},
			want: [][4]float32{{410, 100, 450, 200}},
		},
		{
			// Two people side by side, one crossing the boundary: the other is whole, not a half.
			name: "neighbours stay apart",
			in:   []Box{cutBox(0, 0.8, 350, 100, 500, 300, cutRight), cutBox(0, 0.7, 470, 100, 560, 300, 0)},
			want: [][4]float32{{350, 100, 500, 300}, {470, 100, 560, 300}},
		},
		{
			// A child inside an adult's box, both whole: not merged (nested boxes are NMS's).
			name: "nested whole boxes",
			in:   []Box{cutBox(0, 0.9, 100, 100, 300, 400, 0), cutBox(0, 0.8, 150, 250, 220, 390, 0)},
			want: [][4]float32{{100, 100, 300, 400}, {150, 250, 220, 390}},
		},
		{
			name: "other class",
			in:   []Box{cutBox(2, 0.6, 350, 100, 500, 160, cutRight), cutBox(7, 0.7, 400, 102, 620, 158, cutLeft)},
			want: [][4]float32{{400, 102, 620, 158}, {350, 100, 500, 160}},
		},
		{
			// A bus over three tiles: the middle part (cut on both sides) joins both ends.
			name: "three parts",
			in: []Box{cutBox(5, 0.5, 100, 50, 300, 150, cutRight), cutBox(5, 0.9, 250, 52, 600, 148, cutLeft|cutRight),
				cutBox(5, 0.6, 550, 49, 800, 151, cutLeft)},
			want: [][4]float32{{100, 49, 800, 151}},
		},
		{
			// Halves whose rows do not match are different objects.
			name: "halves of different rows",
			in:   []Box{cutBox(2, 0.6, 350, 100, 500, 160, cutRight), cutBox(2, 0.7, 400, 150, 620, 260, cutLeft)},
			want: [][4]float32{{400, 150, 620, 260}, {350, 100, 500, 160}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Merge(append([]Box(nil), tc.in...))
			if len(got) != len(tc.want) {
				t.Fatalf("%d boxes %v, want %d", len(got), got, len(tc.want))
			}
			for i, w := range tc.want {
				if got[i].Box != w {
					t.Errorf("box %d = %v, want %v", i, got[i].Box, w)
				}
			}
		})
	}
	// The joined box keeps the higher score.
	got := Merge([]Box{cutBox(2, 0.6, 350, 100, 500, 160, cutRight), cutBox(2, 0.7, 400, 102, 620, 158, cutLeft)})
	if got[0].Score != 0.7 {
		t.Errorf("score = %v, want 0.7", got[0].Score)
	}
}
