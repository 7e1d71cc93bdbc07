package dtdl

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/edgecam/edgecam/internal/coco"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current output")

const testModelID = "dtmi:com:example:edgecam;1"

func TestInterfaceGolden(t *testing.T) {
	got, err := Interface(Options{ModelID: testModelID})
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "default.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Interface output differs from %s (run go test ./internal/dtdl -update if the change is intended)\n%s",
			golden, firstDifference(got, want))
	}
}

func firstDifference(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return ""
}

// model is the part of an Interface the tests look at.
type model struct {
	Context  any    `json:"@context"`
	ID       string `json:"@id"`
	Type     string `json:"@type"`
	Contents []struct {
		Type        string          `json:"@type"`
		Name        string          `json:"name"`
		DisplayName string          `json:"displayName"`
		Schema      json.RawMessage `json:"schema"`
		Writable    bool            `json:"writable"`
		Response    *struct {
			Schema struct {
				Type     string            `json:"@type"`
				MapKey   map[string]string `json:"mapKey"`
				MapValue map[string]string `json:"mapValue"`
			} `json:"schema"`
		} `json:"response"`
	} `json:"contents"`
}

func decode(t *testing.T, doc []byte) model {
	t.Helper()
	var m model
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestInterfaceFollowsTheRules(t *testing.T) {
	for name, labels := range map[string][]string{
		"all":     nil,
		"minimum": {"person", "car"},
		"subset":  {"Traffic_Light", "teddy bear", "person", "person", "hair drier"},
		"single":  {"tv"},
	} {
		t.Run(name, func(t *testing.T) {
			doc, err := Interface(Options{ModelID: testModelID, Labels: labels})
			if err != nil {
				t.Fatal(err)
			}
			m := decode(t, doc)
			if m.Context != Context || m.ID != testModelID || m.Type != "Interface" {
				t.Errorf("header = %v %q %q", m.Context, m.ID, m.Type)
			}
			// Names unique, matching the DTDL rule (dtdlcheck's tests validate the whole document).
			seen := map[string]bool{}
			for _, c := range m.Contents {
				if !namePattern.MatchString(c.Name) || len(c.Name) > 64 {
					t.Errorf("name %q breaks the DTDL rule", c.Name)
				}
				if seen[c.Name] {
					t.Errorf("name %q repeated", c.Name)
				}
				seen[c.Name] = true
			}
		})
	}
}

// Every key the daemon can put in a tally (coco.SafeName of a label) has a matching integer
// Telemetry whose display name is the COCO label.
func TestEveryTallyKeyHasATelemetry(t *testing.T) {
	doc, err := Interface(Options{ModelID: testModelID})
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, doc)
	telemetry := map[string]string{}
	for _, c := range m.Contents {
		if c.Type == "Telemetry" {
			if string(c.Schema) != `"integer"` {
				t.Errorf("telemetry %q schema = %s, want integer", c.Name, c.Schema)
			}
			telemetry[c.Name] = c.DisplayName
		}
	}
	for _, label := range coco.Names {
		key := coco.SafeName(label)
		display, ok := telemetry[key]
		if !ok {
			t.Errorf("no Telemetry named %q for label %q", key, label)
		} else if display != label {
			t.Errorf("telemetry %q displayName = %q, want %q", key, display, label)
		}
	}
	if len(telemetry) != len(coco.Names) {
		t.Errorf("%d telemetries, want %d", len(telemetry), len(coco.Names))
	}
	names, err := TelemetryNames(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != len(coco.Names) || names[9] != "traffic_light" {
		t.Errorf("TelemetryNames = %d names, [9] = %q", len(names), names[9])
	}
}

func TestInterfaceLabelSubset(t *testing.T) {
	doc, err := Interface(Options{ModelID: testModelID, Labels: []string{"teddy_bear", "Person", "person", "TRAFFIC LIGHT"}})
	if err != nil {
		t.Fatal(err)
	}
	names, err := TelemetryNames(doc)
	if err != nil {
		t.Fatal(err)
	}
	// COCO order, duplicates merged.
	if want := []string{"person", "traffic_light", "teddy_bear"}; !slices.Equal(names, want) {
		t.Errorf("telemetry = %v, want %v", names, want)
	}
}

func TestInterfaceRejectsUnknownLabel(t *testing.T) {
	_, err := Interface(Options{ModelID: testModelID, Labels: []string{"person", "persn"}})
	if err == nil || !strings.Contains(err.Error(), `"persn"`) || !strings.Contains(err.Error(), `"person"`) {
		t.Errorf("err = %v, want it to name persn and suggest person", err)
	}
}

// The model declares exactly the property and command names the daemon uses, with the schemas
// the daemon reads and writes.
func TestInterfaceDeclaresDaemonNames(t *testing.T) {
	doc, err := Interface(Options{ModelID: testModelID, Labels: []string{"person"}})
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, doc)
	type decl struct {
		kind, schema string
		writable     bool
	}
	got := map[string]decl{}
	for _, c := range m.Contents {
		got[c.Name] = decl{c.Type, strings.Trim(string(c.Schema), `"`), c.Writable}
	}
	want := map[string]decl{
		ImageTimerDue:              {"Property", "duration", true},
		ImageTimerPeriod:           {"Property", "duration", true},
		PredictionScoreThreshold:   {"Property", "double", true},
		PredictionLabelsOfInterest: {"Property", "string", true},
		PredictionLabelsMinimum:    {"Property", "string", true},
		ApplicationVersion:         {"Property", "string", false},
		OSVersion:                  {"Property", "string", false},
		MachineName:                {"Property", "string", false},
		ModelPath:                  {"Property", "string", false},
		ModelClasses:               {"Property", "integer", false},
		CameraKind:                 {"Property", "string", false},
		ImageTimerStart:            {"Command", "", false},
		ImageTimerStop:             {"Command", "", false},
		CaptureNow:                 {"Command", "", false},
	}
	for name, w := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("%s not declared", name)
		} else if g != w {
			t.Errorf("%s = %+v, want %+v", name, g, w)
		}
	}
	for _, c := range m.Contents {
		if c.Name != CaptureNow {
			continue
		}
		r := c.Response
		if r == nil || r.Schema.Type != "Map" || r.Schema.MapKey["schema"] != "string" || r.Schema.MapValue["schema"] != "integer" {
			t.Errorf("CaptureNow response = %+v, want a Map of string to integer", r)
		}
	}
}

func TestValidateModelID(t *testing.T) {
	for _, id := range []string{
		"dtmi:com:example:edgecam;1",
		"dtmi:a;999999999",
		"dtmi:com:Example_Corp:Camera2:v_2;12",
	} {
		if err := ValidateModelID(id); err != nil {
			t.Errorf("ValidateModelID(%q) = %v", id, err)
		}
	}
	for id, want := range map[string]string{
		"":                                        "empty",
		"com:example:edgecam;1":                   `start with "dtmi:"`,
		"DTMI:com:example:edgecam;1":              `start with "dtmi:"`,
		"dtmi:com:example:edgecam":                "no version",
		"dtmi:com:example:edgecam;0":              "version",
		"dtmi:com:example:edgecam;01":             "leading zeros",
		"dtmi:com:example:edgecam;1234567890":     "version",
		"dtmi:com:example:edgecam;1a":             "version",
		"dtmi:com::edgecam;1":                     "empty",
		"dtmi:;1":                                 "no path",
		"dtmi:com:example:edgecam:;1":             "empty",
		"dtmi:com:9example:edgecam;1":             "starts with a digit",
		"dtmi:com:example_:edgecam;1":             "ends with an underscore",
		"dtmi:com:_example:edgecam;1":             "underscore",
		"dtmi:com:ex-ample:edgecam;1":             "letters, digits and underscores",
		"dtmi:com:example:edge cam;1":             "letters, digits and underscores",
		"dtmi:com:example:edgecam;1;2":            "version",
		"dtmi:com:example:edgecam;1#frag":         "fragment",
		"dtmi:dtdl:example;1":                     "reserved",
		"dtmi:standard:camera;1":                  "reserved",
		"dtmi:" + strings.Repeat("a", 130) + ";1": "more than the 128",
	} {
		err := ValidateModelID(id)
		if err == nil {
			t.Errorf("ValidateModelID(%q) = nil, want an error about %s", id, want)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateModelID(%q) = %v, want it to mention %q", id, err, want)
		}
	}
	if _, err := Interface(Options{ModelID: "dtmi:com:example:edgecam"}); err == nil || !strings.Contains(err.Error(), ";1") {
		t.Errorf("Interface with a bad model ID: err = %v, want a hint to add ;1", err)
	}
}

func TestInterfaceZones(t *testing.T) {
	doc, err := Interface(Options{ModelID: testModelID, Labels: []string{"person", "car", "traffic light"},
		Zones: []Zone{{Name: "left"}, {Name: "door", Labels: []string{"Person"}}, {Name: "left"}}})
	if err != nil {
		t.Fatal(err)
	}
	names, err := TelemetryNames(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"person", "car", "traffic_light", "left_person", "left_car", "left_traffic_light", "door_person"}
	if !slices.Equal(names, want) {
		t.Errorf("telemetry = %q, want %q", names, want)
	}
	m := decode(t, doc)
	for _, c := range m.Contents {
		if c.Name == "left_traffic_light" && c.DisplayName != "left: traffic light" {
			t.Errorf("display name %q", c.DisplayName)
		}
		if c.Name == PredictionFilters && (!c.Writable || string(c.Schema) != `"string"`) {
			t.Errorf("PredictionFilters = %+v", c)
		}
	}
	if _, err := Interface(Options{ModelID: testModelID, Zones: []Zone{{Name: "a"}, {Name: "b"}, {Name: "c"}}}); err == nil ||
		!strings.Contains(err.Error(), "more than the 300 DTDL allows: model fewer labels") {
		t.Errorf("4 x 80 labels: %v", err)
	}
	if _, err := Interface(Options{ModelID: testModelID, Zones: []Zone{{Name: "a", Labels: []string{"persn"}}}}); err == nil ||
		!strings.Contains(err.Error(), `zone a: unknown label "persn"`) {
		t.Errorf("unknown zone label: %v", err)
	}
}

// namePattern is the DTDL v2 rule for the name of contents.
var namePattern = regexp.MustCompile(`^[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?$`)
