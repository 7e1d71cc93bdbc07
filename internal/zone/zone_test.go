package zone

import "testing"

var (
	square   = Polygon{{0.2, 0.2}, {0.6, 0.2}, {0.6, 0.6}, {0.2, 0.6}}
	leftHalf = Polygon{{0, 0}, {0.5, 0}, {0.5, 1}, {0, 1}}
	// concave "U" open at the top: the notch x in (0.4,0.6), y < 0.6 is outside.
	uShape   = Polygon{{0.2, 0.2}, {0.4, 0.2}, {0.4, 0.6}, {0.6, 0.6}, {0.6, 0.2}, {0.8, 0.2}, {0.8, 0.8}, {0.2, 0.8}}
	triangle = Polygon{{0.5, 0.1}, {0.9, 0.9}, {0.1, 0.9}}
)

func TestContains(t *testing.T) {
	for _, tc := range []struct {
		name string
		pg   Polygon
		p    Point
		want bool
	}{
		{"square centre", square, Point{0.4, 0.4}, true},
		{"square outside left", square, Point{0.1, 0.4}, false},
		{"square outside right", square, Point{0.7, 0.4}, false},
		{"square outside above", square, Point{0.4, 0.1}, false},
		{"on an edge", square, Point{0.6, 0.4}, true},
		{"on the bottom edge", square, Point{0.4, 0.6}, true},
		{"on a vertex", square, Point{0.2, 0.2}, true},
		{"on the edge's line beyond the vertex", square, Point{0.7, 0.2}, false},
		{"ray through a vertex, inside", triangle, Point{0.3, 0.9 - 1e-6}, true},
		{"ray through the apex, outside", triangle, Point{0.2, 0.1}, false},
		{"ray through the apex from the left", triangle, Point{0.3, 0.1}, false},
		{"concave notch", uShape, Point{0.5, 0.4}, false},
		{"concave arm", uShape, Point{0.3, 0.4}, true},
		{"concave base", uShape, Point{0.5, 0.7}, true},
		{"ray through two notch vertices", uShape, Point{0.1, 0.6}, false},
		{"on the notch's floor", uShape, Point{0.5, 0.6}, true},
		{"left half, frame bottom", leftHalf, Point{0.35, 1}, true},
		{"left half, on the dividing line", leftHalf, Point{0.5, 0.7}, true},
		{"left half, right of it", leftHalf, Point{0.5001, 0.7}, false},
		{"left half, frame corner", leftHalf, Point{0, 1}, true},
		{"too few points", Polygon{{0, 0}, {1, 1}}, Point{0.5, 0.5}, false},
		{"clockwise or not", Polygon{{0.2, 0.6}, {0.6, 0.6}, {0.6, 0.2}, {0.2, 0.2}}, Point{0.4, 0.4}, true},
	} {
		if got := tc.pg.Contains(tc.p); got != tc.want {
			t.Errorf("%s: Contains(%v) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
}

func TestSelfIntersection(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pg     Polygon
		e1, e2 int
		want   bool
	}{
		{"square", square, 0, 0, false},
		{"triangle", triangle, 0, 0, false},
		{"concave", uShape, 0, 0, false},
		{"bow tie", Polygon{{0, 0}, {1, 1}, {1, 0}, {0, 1}}, 1, 3, true},
		{"bow tie, closing edge", Polygon{{0, 0}, {1, 0}, {0, 1}, {1, 1}}, 2, 4, true},
		{"vertex touching an edge", Polygon{{0, 0}, {1, 0}, {1, 1}, {0.5, 0}, {0, 1}}, 1, 3, true},
		{"repeated point", Polygon{{0, 0}, {1, 0}, {1, 0}, {0, 1}}, 2, 2, true},
		{"edge folding back", Polygon{{0, 0}, {1, 0}, {0.5, 0}, {0.5, 1}}, 1, 2, true},
		{"closing edge folding back", Polygon{{0, 0}, {1, 0}, {1, 1}, {0, 0.5}, {0, 1}}, 3, 5, true},
		{"straight through a vertex", Polygon{{0.5, 0}, {1, 0}, {1, 1}, {0, 0}}, 0, 0, false},
		{"too few points", Polygon{{0, 0}, {1, 1}}, 0, 0, false},
	} {
		e1, e2, ok := tc.pg.SelfIntersection()
		if ok != tc.want || ok && (e1 != tc.e1 || e2 != tc.e2) {
			t.Errorf("%s: SelfIntersection() = %d, %d, %v; want %d, %d, %v", tc.name, e1, e2, ok, tc.e1, tc.e2, tc.want)
		}
	}
}

func TestAnchor(t *testing.T) {
	box := [4]float64{0.2, 0.1, 0.4, 0.9}
	if got := BottomCenter.Of(box); got != (Point{0.30000000000000004, 0.9}) {
		t.Errorf("bottom-centre = %v", got)
	}
	if got := Center.Of(box); got != (Point{0.30000000000000004, 0.5}) {
		t.Errorf("centre = %v", got)
	}
	for s, want := range map[string]Anchor{"": BottomCenter, "bottom-center": BottomCenter, "center": Center} {
		if a, err := ParseAnchor(s); err != nil || a != want {
			t.Errorf("ParseAnchor(%q) = %v, %v", s, a, err)
		}
	}
	if _, err := ParseAnchor("top"); err == nil {
		t.Error("ParseAnchor(top) accepted")
	}
}

func TestArea(t *testing.T) {
	if a := leftHalf.Area(); a != 0.5 {
		t.Errorf("left half area = %v", a)
	}
	if a := (Polygon{{0, 0}, {0.5, 0.5}, {1, 1}}).Area(); a != 0 {
		t.Errorf("collinear area = %v", a)
	}
	if !(Polygon{{0, 0}, {0.5, 0.5}, {1, 1}}).Collinear() || leftHalf.Collinear() {
		t.Error("Collinear wrong")
	}
	// A repeated first point is a repeated point, not a line: the triangle still encloses area.
	if (Polygon{{0, 0}, {0, 0}, {1, 0}, {1, 1}}).Collinear() {
		t.Error("a triangle whose first point repeats is reported collinear")
	}
	if !(Polygon{{0.2, 0.2}, {0.2, 0.2}, {0.2, 0.2}}).Collinear() {
		t.Error("one point three times encloses nothing")
	}
}

func BenchmarkContains(b *testing.B) {
	p := Point{0.5, 0.7}
	for i := 0; i < b.N; i++ {
		uShape.Contains(p)
	}
}
