package config

import (
	"maps"
	"strings"
	"testing"

	"github.com/edgecam/edgecam/internal/classes"
)

func TestFiltersText(t *testing.T) {
	got, err := ParseFilters(classes.COCO(), " Bus: minScore=0.6 ;person: minArea=0.01, MAXAREA=0.5; traffic_light:")
	want := map[string]Filter{"bus": {MinScore: 0.6}, "person": {MinArea: 0.01, MaxArea: 0.5}, "traffic light": {}}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("ParseFilters = %v, %v", got, err)
	}
	s := FormatFilters(got)
	if s != "bus: minScore=0.6; person: minArea=0.01, maxArea=0.5; traffic light: " {
		t.Fatalf("FormatFilters = %q", s)
	}
	again, err := ParseFilters(classes.COCO(), s)
	if err != nil || !maps.Equal(again, want) {
		t.Fatalf("round trip = %v, %v", again, err)
	}
	if got, err := ParseFilters(classes.COCO(), ""); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("empty = %v, %v", got, err)
	}
	for in, msg := range map[string]string{
		"bus minScore=0.6":              "write label: key=value",
		"bus: score=0.6":                `unknown key "score"`,
		"bus: minScore=high":            "is not key=number",
		"buss: minScore=0.6":            `unknown label "buss" (did you mean "bus"?)`,
		"bus: minScore=1.5":             "bus.minScore: 1.5 is outside 0..1",
		"bus: x=1; bus: x=1":            `unknown key "x"`,
		"bus: minArea=0.2, maxArea=0.1": "below minArea",
	} {
		if _, err := ParseFilters(classes.COCO(), in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseFilters(%q) = %v, want %q", in, err, msg)
		}
	}
}
