package tally

import (
	"slices"
	"testing"

	"github.com/edgecam/edgecam/internal/zone"
)

func TestExplain(t *testing.T) {
	left := zone.Polygon{{X: 0, Y: 0}, {X: 0.5, Y: 0}, {X: 0.5, Y: 1}, {X: 0, Y: 1}}
	all := zone.Polygon{{X: 0, Y: 0}, {X: 1, Y: 0}, {X: 1, Y: 1}, {X: 0, Y: 1}}
	r := Rules{
		Threshold: 0.5,
		Filters:   map[string]Filter{"car": {MinScore: 0.7}},
		Zones:     []Zone{{Name: "left", Polygon: left}, {Name: "all", Polygon: all}, {Name: "cars", Polygon: all, Labels: []string{"car"}}},
		Masks:     []Mask{{Polygon: zone.Polygon{{X: 0.9, Y: 0.9}, {X: 1, Y: 0.9}, {X: 1, Y: 1}, {X: 0.9, Y: 1}}}},
	}
	for _, c := range []struct {
		p       Prediction
		dropped string
		zones   []string
	}{
		{Prediction{Label: "person", Score: 0.9, Box: [4]float64{0.1, 0.1, 0.2, 0.2}}, "", []string{"left", "all"}},
		{Prediction{Label: "person", Score: 0.9, Box: [4]float64{0.6, 0.1, 0.7, 0.2}}, "", []string{"all"}},
		{Prediction{Label: "car", Score: 0.9, Box: [4]float64{0.6, 0.1, 0.7, 0.2}}, "", []string{"all", "cars"}},
		{Prediction{Label: "car", Score: 0.6, Box: [4]float64{0.6, 0.1, 0.7, 0.2}}, "score 0.60 < 0.7", nil},
		{Prediction{Label: "person", Score: 0.9, Box: [4]float64{0.92, 0.92, 0.98, 0.98}}, "in mask 0", nil},
	} {
		dropped, zones := r.Explain(c.p)
		if dropped != c.dropped || !slices.Equal(zones, c.zones) {
			t.Errorf("%+v: got %q %q, want %q %q", c.p, dropped, zones, c.dropped, c.zones)
		}
		if r.Keep(c.p) != (dropped == "") {
			t.Errorf("%+v: Keep disagrees with Explain", c.p)
		}
	}
}
