package config

import (
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/edgecam/edgecam/internal/classes"
	"github.com/edgecam/edgecam/internal/tally"
	"github.com/edgecam/edgecam/internal/zone"
)

const zonesYAML = baseYAML + `    zones:
      - {name: left, polygon: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}
      - name: door
        polygon: [[0.6, 0.2], [0.8, 0.2], [0.8, 0.9], [0.6, 0.9]]
        labels: [Person]
        anchor: center
    masks:
      - {name: tv, polygon: [[0.75, 0], [1, 0], [1, 1], [0.75, 1]]}
    detection:
      filters: {person: {minArea: 0.01}, Traffic_Light: {minScore: 0.3}}
detection:
  scoreThreshold: 0.5
  labelsMinimum: [car]
  filters:
    bus: {minScore: 0.6}
    person: {minScore: 0.4, maxArea: 0.5}
`

func TestLoadZones(t *testing.T) {
	f := newFixture(t)
	cfg, err := f.load(t, zonesYAML)
	if err != nil {
		t.Fatal(err)
	}
	cam := cfg.Cameras[0]
	if len(cam.Zones) != 2 || cam.Zones[0].Anchor != zone.AnchorBottomCenter || cam.Zones[1].Anchor != zone.AnchorCenter ||
		!reflect.DeepEqual(cam.Zones[1].Labels, []string{"person"}) || len(cam.Masks) != 1 {
		t.Fatalf("zones = %+v, masks = %+v", cam.Zones, cam.Masks)
	}
	wantGlobal := map[string]Filter{"bus": {MinScore: 0.6}, "person": {MinScore: 0.4, MaxArea: 0.5}}
	if !maps.Equal(cfg.Detection.Filters, wantGlobal) {
		t.Errorf("global filters = %v", cfg.Detection.Filters)
	}
	// The camera's filters replace the global ones label by label.
	d := cfg.CameraDetection(0)
	wantCam := map[string]Filter{"bus": {MinScore: 0.6}, "person": {MinArea: 0.01}, "traffic light": {MinScore: 0.3}}
	if !maps.Equal(d.Filters, wantCam) {
		t.Errorf("camera filters = %v", d.Filters)
	}
	if !maps.Equal(cfg.Detection.Filters, wantGlobal) {
		t.Errorf("CameraDetection changed the global filters: %v", cfg.Detection.Filters)
	}

	r := TallyRules(d, &cfg.Cameras[0], true)
	if len(r.Zones) != 2 || r.Zones[1].Anchor != zone.Center || len(r.Masks) != 1 || r.Filters["bus"].MinScore != 0.6 ||
		r.Zones[0].Polygon[2] != (zone.Point{X: 0.5, Y: 1}) || !r.SafeNames {
		t.Fatalf("rules = %+v", r)
	}
	body, send := r.Tally([]tally.Prediction{
		{Label: "person", Score: 0.9, Box: [4]float64{0.3, 0.4, 0.4, 0.9}},   // left
		{Label: "person", Score: 0.9, Box: [4]float64{0.65, 0.3, 0.75, 0.8}}, // door (centre anchor)
		{Label: "person", Score: 0.9, Box: [4]float64{0.8, 0.3, 0.9, 0.8}},   // masked
		{Label: "bus", Score: 0.55, Box: [4]float64{0.1, 0.1, 0.4, 0.5}},     // below its minScore
	})
	want := map[string]int{"person": 2, "car": 0, "left_person": 1, "left_car": 0, "door_person": 1}
	if !send || !maps.Equal(body, want) {
		t.Fatalf("tally = %v, want %v", body, want)
	}

	// The effective configuration renders the new keys and reads back the same.
	out, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"filters:\n    bus:\n      minScore: 0.6", "polygon: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]", "anchor: center"} {
		if !strings.Contains(string(out), s) {
			t.Errorf("rendering lacks %q:\n%s", s, out)
		}
	}
	again, err := f.load(t, string(out))
	if err != nil {
		t.Fatalf("rendered configuration does not load: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(again.Cameras[0].Zones, cam.Zones) || !maps.Equal(again.CameraDetection(0).Filters, wantCam) {
		t.Fatalf("round trip differs:\n%+v\n%+v", again.Cameras[0], cam)
	}
}

// TestZoneMistakes checks that every mistake in a zone, a mask or a filter is explained with its key.
func TestZoneMistakes(t *testing.T) {
	f := newFixture(t)
	_, err := f.load(t, baseYAML+`    zones:
      - {name: two, polygon: [[0, 0], [1, 1]]}
      - {name: big, polygon: [[0, 0], [1.5, 0], [1, 1], [0, -0.1]]}
      - {name: bowtie, polygon: [[0, 0], [1, 1], [1, 0], [0, 1]]}
      - {name: persons, polygon: [[0, 0], [1, 0], [1, 1]], labels: [persn, Forklift]}
      - {name: left, polygon: [[0, 0], [0.5, 0], [0.5, 1]]}
      - {name: left, polygon: [[0, 0], [0.5, 0], [0.5, 1]]}
      - {name: "front door", polygon: [[0, 0], [0.5, 0], [0.5, 1]]}
      - {polygon: [[0, 0], [0.5, 0], [0.5, 1]], anchor: top}
      - {name: line, polygon: [[0, 0], [0.5, 0.5], [1, 1]]}
      - {name: threes, polygon: [[0, 0, 0], [0.5, 0], [0.5, 1]]}
      - {name: rep, polygon: [[0, 0], [0.5, 0], [0.5, 0], [0.5, 1]]}
      - {name: x, polygon: [[0, 0], [1, 0], [1, 1]], lables: [car]}
      - {name: rep0, polygon: [[0, 0], [0, 0], [0.5, 0], [0.5, 1]]}
      - {name: hot, polygon: [[0, 0], [1, 0], [1, 1]]}
      - {name: y, polygon: [[0, 0], [1, 0], [1, 1]], labels: [hot dog]}
      - {name: y_hot, polygon: [[0, 0], [1, 0], [1, 1]], labels: [dog]}
    masks:
      - {polygon: [[0.75, 0], [1, 0]]}
    detection:
      filters: {buss: {minScore: 0.6}, car: {minScore: 2, minArea: 0.5, maxArea: 0.1}, dog: 3}
`)
	got := wantProblems(t, err, map[string]string{
		"cameras[0].zones[0].polygon":               "has 2 point(s): a zone needs at least 3 [x, y] points",
		"cameras[0].zones[1].polygon[1]":            "x = 1.5 is outside 0..1",
		"cameras[0].zones[1].polygon[3]":            "y = -0.1 is outside 0..1",
		"cameras[0].zones[2].polygon":               "crosses itself (edge 1, from point 0, meets edge 3, from point 2",
		"cameras[0].zones[3].labels":                `unknown label "persn" (did you mean "person"?)`,
		"cameras[0].zones[5].name":                  `"left" is also the name of zones[4]`,
		"cameras[0].zones[6].name":                  `"front door" is not DTDL-safe`,
		"cameras[0].zones[7].name":                  "missing",
		"cameras[0].zones[7].anchor":                `unknown anchor "top"`,
		"cameras[0].zones[8].polygon":               "encloses no area",
		"cameras[0].zones[9].polygon[0]":            "has 3 value(s): write each point as [x, y]",
		"cameras[0].zones[10].polygon":              "point 2 repeats the point before it",
		"cameras[0].zones[12].polygon":              "point 1 repeats the point before it",
		"cameras[0].zones[13].name":                 `"hot" counting "dog" sends the key "hot_dog", which is also the key of the label "hot dog": rename the zone`,
		"cameras[0].zones[15].name":                 `"y_hot" counting "dog" sends the key "y_hot_dog", which is also the key of zones[14] ("y") counting "hot dog"`,
		"cameras[0].zones[11].lables":               `unknown key (did you mean "cameras[0].zones[11].labels"?)`,
		"cameras[0].masks[0].polygon":               "a mask needs at least 3",
		"cameras[0].detection.filters.buss":         `unknown label "buss" (did you mean "bus"?)`,
		"cameras[0].detection.filters.car.minScore": "2 is outside 0..1",
		"cameras[0].detection.filters.car.maxArea":  "0.1 is below minArea 0.5",
		"cameras[0].detection.filters.dog":          "expected a mapping with the keys minScore, minArea, maxArea, got 3",
	})
	if !strings.Contains(got["cameras[0].zones[3].labels"], `unknown label "Forklift"`) {
		t.Errorf("forklift not reported: %q", got["cameras[0].zones[3].labels"])
	}
	if t.Failed() {
		t.Log(err)
	}
}

// A zone's keys stay within DTDL's 64 characters also for a custom model's long labels.
func TestZoneKeyLength(t *testing.T) {
	long := strings.Repeat("a", 40)
	set := classes.New([]string{long, "b"}, "test")
	var p problems
	checkZoneKeys(&p, "cameras[0]", []Zone{{Name: "b_zone"}, {Name: strings.Repeat("z", 30), Labels: []string{"b"}}, {Name: strings.Repeat("y", 30)}}, set)
	if len(p) != 1 || p[0].Key != "cameras[0].zones[2].name" ||
		!strings.Contains(p[0].Msg, "71 characters, more than DTDL's 64: shorten the zone name to at most 23 characters") {
		t.Fatalf("problems %v", p)
	}
}
