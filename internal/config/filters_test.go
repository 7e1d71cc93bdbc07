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

// Filters can be set from the environment, globally and per camera, like any other key:
// EDGECAM_DETECTION__FILTERS__<LABEL>__MINSCORE.
func TestFiltersFromEnvironment(t *testing.T) {
	f := newFixture(t)
	cfg, err := f.load(t, baseYAML+"detection:\n  filters: {bus: {minScore: 0.6}}\n",
		"EDGECAM_DETECTION__FILTERS__BUS__MAXAREA=0.5",
		"EDGECAM_DETECTION__FILTERS__PERSON__MIN_AREA=0.01",
		"EDGECAM_CAMERAS__CAM1__DETECTION__FILTERS__CAR__MINSCORE=0.3")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Filter{"bus": {MinScore: 0.6, MaxArea: 0.5}, "person": {MinArea: 0.01}}
	if !maps.Equal(cfg.Detection.Filters, want) {
		t.Errorf("global filters = %v, want %v", cfg.Detection.Filters, want)
	}
	want["car"] = Filter{MinScore: 0.3}
	if got := cfg.CameraDetection(0).Filters; !maps.Equal(got, want) {
		t.Errorf("camera filters = %v, want %v", got, want)
	}
	_, err = f.load(t, baseYAML, "EDGECAM_DETECTION__FILTERS__BUSS__MINSCORE=0.5")
	if err == nil || !strings.Contains(err.Error(), `detection.filters.buss: unknown label "buss" (did you mean "bus"?)`) {
		t.Errorf("unknown label from the environment: %v", err)
	}
}

// FuzzParseFilters feeds the text IoT Central may send: never a panic, and whatever is accepted
// reads back the same from its formatted form.
func FuzzParseFilters(f *testing.F) {
	f.Add("bus: minScore=0.6; person: minArea=0.01, maxArea=0.5")
	f.Add("traffic_light:;;")
	f.Add("bus: minScore=NaN")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseFilters(classes.COCO(), s)
		if err != nil {
			return
		}
		again, err := ParseFilters(classes.COCO(), FormatFilters(got))
		if err != nil || !maps.Equal(got, again) {
			t.Fatalf("%q -> %q -> %v, %v", s, FormatFilters(got), again, err)
		}
	})
}
