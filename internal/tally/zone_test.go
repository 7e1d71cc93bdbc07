package tally

import (
	"maps"
	"testing"

	"github.com/edgecam/edgecam/internal/zone"
)

// poly builds a polygon from x, y pairs.
func poly(xy ...float64) zone.Polygon {
	var pg zone.Polygon
	for i := 0; i+1 < len(xy); i += 2 {
		pg = append(pg, zone.Point{X: xy[i], Y: xy[i+1]})
	}
	return pg
}

// box returns a box of width w and height h whose bottom-centre is (x, y).
func box(x, y, w, h float64) [4]float64 { return [4]float64{x - w/2, y - h, x + w/2, y} }

var (
	leftHalf     = poly(0, 0, 0.5, 0, 0.5, 1, 0, 1)
	rightQuarter = poly(0.75, 0, 1, 0, 1, 1, 0.75, 1)
	// busScene is bus.jpg as yolov5n sees it: people standing at x = 0.35, 0.16 and 0.92 of the
	// width, a bus scoring 0.53, a person cut by the left edge scoring 0.45.
	busScene = []Prediction{
		{Label: "person", Score: 0.86, Box: box(0.35, 0.85, 0.2, 0.45)},
		{Label: "person", Score: 0.84, Box: box(0.16, 0.86, 0.2, 0.45)},
		{Label: "person", Score: 0.80, Box: box(0.92, 0.81, 0.16, 0.45)},
		{Label: "bus", Score: 0.53, Box: [4]float64{0.02, 0.21, 0.99, 0.74}},
		{Label: "person", Score: 0.45, Box: box(0.03, 0.81, 0.06, 0.3)},
	}
)

func TestZonesMasksFilters(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Rules
		want map[string]int
		send bool
	}{
		{"the issue's example: mask, zone, bus filter",
			Rules{Threshold: 0.5, Minimum: []string{"car"}, Masks: []Mask{{Polygon: rightQuarter}},
				Zones:   []Zone{{Name: "left", Polygon: leftHalf}},
				Filters: map[string]Filter{"bus": {MinScore: 0.6}}},
			map[string]int{"person": 2, "car": 0, "left_person": 2, "left_car": 0}, true},
		{"no mask, no filter",
			Rules{Threshold: 0.5, Zones: []Zone{{Name: "left", Polygon: leftHalf}}},
			// the bus's bottom-centre (0.505, 0.74) is just right of the half
			map[string]int{"person": 3, "bus": 1, "left_person": 2}, true},
		{"centre anchor puts the bus in the zone",
			Rules{Threshold: 0.5, Zones: []Zone{{Name: "left", Polygon: poly(0, 0, 0.51, 0, 0.51, 1, 0, 1), Anchor: zone.Center}}},
			map[string]int{"person": 3, "bus": 1, "left_person": 2, "left_bus": 1}, true},
		{"zone labels filter and pad",
			Rules{Threshold: 0.5, Minimum: []string{"car"}, Zones: []Zone{{Name: "left", Polygon: leftHalf, Labels: []string{"bus", "dog"}}}},
			map[string]int{"person": 3, "bus": 1, "car": 0, "left_bus": 0, "left_dog": 0}, true},
		{"a lower per-label minScore admits the weak person",
			Rules{Threshold: 0.5, Filters: map[string]Filter{"person": {MinScore: 0.4}}, Zones: []Zone{{Name: "left", Polygon: leftHalf}}},
			map[string]int{"person": 4, "bus": 1, "left_person": 3}, true},
		{"area filter drops the bus (0.51 of the frame)",
			Rules{Threshold: 0.5, Filters: map[string]Filter{"bus": {MaxArea: 0.5}, "person": {MinArea: 0.05}}},
			map[string]int{"person": 3}, true},
		{"interest is judged on the frame, after masks",
			Rules{Threshold: 0.5, Interest: []string{"person"}, Masks: []Mask{{Polygon: poly(0, 0, 1, 0, 1, 1, 0, 1)}},
				Zones: []Zone{{Name: "left", Polygon: leftHalf}}},
			map[string]int{}, false},
		{"safe names in zone keys",
			Rules{Threshold: 0.5, SafeNames: true, Minimum: []string{"traffic light"}, Zones: []Zone{{Name: "kerb", Polygon: leftHalf}}},
			map[string]int{"person": 3, "bus": 1, "traffic_light": 0, "kerb_person": 2, "kerb_traffic_light": 0}, true},
	} {
		body, send := tc.r.Tally(busScene)
		if send != tc.send || !maps.Equal(body, tc.want) {
			t.Errorf("%s: Tally = %v, %v; want %v, %v", tc.name, body, send, tc.want, tc.send)
		}
	}
}

// TestCounterReuse checks that a Counter forgets the previous frame and follows changed rules.
func TestCounterReuse(t *testing.T) {
	var c Counter
	body := map[string]int{}
	r := Rules{Threshold: 0.5, Zones: []Zone{{Name: "a", Polygon: leftHalf}, {Name: "b", Polygon: rightQuarter}}}
	c.TallyInto(r, body, busScene)
	if want := map[string]int{"person": 3, "bus": 1, "a_person": 2, "b_person": 1}; !maps.Equal(body, want) {
		t.Fatalf("first = %v, want %v", body, want)
	}
	r.Zones = r.Zones[1:]
	c.TallyInto(r, body, busScene[2:3])
	if want := map[string]int{"person": 1, "b_person": 1}; !maps.Equal(body, want) {
		t.Fatalf("second = %v, want %v", body, want)
	}
}

func TestZoneTallyNoAllocs(t *testing.T) {
	r := Rules{Threshold: 0.5, Minimum: []string{"car"}, SafeNames: true, Masks: []Mask{{Polygon: rightQuarter}},
		Zones:   []Zone{{Name: "left", Polygon: leftHalf}, {Name: "right", Polygon: rightQuarter, Anchor: zone.Center}},
		Filters: map[string]Filter{"bus": {MinScore: 0.6}}}
	var c Counter
	var e Encoder
	body := map[string]int{}
	tick := func() {
		if c.TallyInto(r, body, busScene) {
			e.Encode(body)
		}
	}
	tick()
	if n := testing.AllocsPerRun(100, tick); n != 0 {
		t.Fatalf("a tick with zones allocates %v times", n)
	}
}

func BenchmarkZoneTally(b *testing.B) {
	r := Rules{Threshold: 0.5, Minimum: []string{"car"}, Masks: []Mask{{Polygon: rightQuarter}},
		Zones: []Zone{{Name: "left", Polygon: leftHalf}, {Name: "right", Polygon: rightQuarter}}}
	var c Counter
	body := map[string]int{}
	b.ReportAllocs()
	for b.Loop() {
		c.TallyInto(r, body, busScene)
	}
}
