package cli

import (
	"fmt"
	"image"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/onnxmodel/onnxtest"
)

// detect --config --camera counts bus.jpg as the camera would (zone, mask, bus filter), says
// why each object is or is not counted, and --annotate outlines the zone and shades the mask.
func TestDetectWithCameraZones(t *testing.T) {
	dir := t.TempDir()
	cfgFile := configFile(t, dir, fmt.Sprintf(`
model: {path: %q}
detection:
  scoreThreshold: 0.5
  labelsMinimum: [car]
  filters: {bus: {minScore: 0.6}}
cameras:
  - id: bus-stop
    type: file
    path: %q
    zones:
      - {name: left, polygon: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}
    masks:
      - {polygon: [[0.75, 0], [1, 0], [1, 1], [0.75, 1]]}
`, testModel(t), testPhoto(t, "bus.jpg")))
	annotated := filepath.Join(dir, "out")
	out, errOut, code := detect(t, "--config", cfgFile, "--camera", "bus-stop", "--json", "--annotate", annotated, testPhoto(t, "bus.jpg"))
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	reps := parseLines(t, out)
	if len(reps) != 1 {
		t.Fatalf("output: %s", out)
	}
	r := reps[0]
	want := map[string]int{"person": 2, "car": 0, "left_person": 2, "left_car": 0}
	if !maps.Equal(r.Tally, want) || r.Send == nil || !*r.Send {
		t.Errorf("tally = %v, send %v; want %v, sent", r.Tally, r.Send, want)
	}
	var why []string
	for _, d := range r.Detections {
		why = append(why, fmt.Sprintf("%s:%s:%s", d.Label, d.Dropped, strings.Join(d.Zones, ",")))
	}
	slices.Sort(why)
	if w := []string{"bus:score 0.53 < 0.6:", "person::left", "person::left", "person:in mask 0:"}; !slices.Equal(why, w) {
		t.Errorf("detections = %q, want %q", why, w)
	}

	// The mask is shaded (60 % dark grey over the photo); the rest is not.
	orig := gocv.IMRead(testPhoto(t, "bus.jpg"), gocv.IMReadColor)
	defer orig.Close()
	img := gocv.IMRead(filepath.Join(annotated, "bus.annotated.jpg"), gocv.IMReadColor)
	defer img.Close()
	if img.Cols() != 810 || img.Rows() != 1080 {
		t.Fatalf("annotated image is %dx%d", img.Cols(), img.Rows())
	}
	mean := func(m gocv.Mat, r image.Rectangle) float64 {
		roi := m.Region(r)
		defer roi.Close()
		s := roi.Mean()
		return (s.Val1 + s.Val2 + s.Val3) / 3
	}
	masked := image.Rect(640, 100, 800, 1000)
	if a, o := mean(img, masked), mean(orig, masked); math.Abs(a-(0.6*64+0.4*o)) > 8 {
		t.Errorf("mask region mean %.0f, photo %.0f: not shaded", a, o)
	}
	plain := image.Rect(420, 900, 600, 1070) // between the zone's edge and the mask, no box
	if a, o := mean(img, plain), mean(orig, plain); a < 0.9*o || a > 1.1*o {
		t.Errorf("unmasked region mean %.0f, photo %.0f: changed", a, o)
	}
	// The zone's right edge (x = 405) is outlined in amber (BGR: blue low, red high).
	edge := img.Region(image.Rect(402, 950, 409, 1050))
	defer edge.Close()
	if s := edge.Mean(); !(s.Val3 > 150 && s.Val1 < 100) {
		t.Errorf("zone edge colour %v, want amber", s)
	}

	// The table says the same in words.
	out, _, code = detect(t, "--config", cfgFile, "--camera", "bus-stop", testPhoto(t, "bus.jpg"))
	for _, s := range []string{"counted", "yes, in left", "no: in mask 0", "no: score 0.53 < 0.6",
		`tally: {"car":0,"left_car":0,"left_person":2,"person":2} (sent)`} {
		if code != 0 || !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}

	// Mistakes say what to do.
	_, errOut, code = detect(t, "--config", cfgFile, "--camera", "nope", testPhoto(t, "bus.jpg"))
	if code == 0 || !strings.Contains(errOut, `--camera "nope": no such camera`) || !strings.Contains(errOut, "bus-stop") {
		t.Errorf("unknown camera: exit %d, %q", code, errOut)
	}
	_, errOut, code = detect(t, "--config", cfgFile, testPhoto(t, "bus.jpg"))
	if code == 0 || !strings.Contains(errOut, "--config and --camera go together") {
		t.Errorf("no camera: exit %d, %q", code, errOut)
	}
}

// `config check` explains every mistake in a zone with its key.
func TestConfigCheckZoneMistakes(t *testing.T) {
	dir := t.TempDir()
	cfgFile := configFile(t, dir, fmt.Sprintf(`
model: {path: %q}
azure: {connectionString: "HostName=h.azure-devices.net;SharedAccessKeyName=o;SharedAccessKey=c2VjcmV0"}
state: {dir: %q}
cameras:
  - id: bus-stop
    type: file
    path: %q
    zones:
      - {name: two, polygon: [[0, 0], [1, 1]]}
      - {name: wide, polygon: [[0, 0], [810, 0], [1, 1]]}
      - {name: bowtie, polygon: [[0, 0], [1, 1], [1, 0], [0, 1]]}
      - {name: shelf, polygon: [[0, 0], [1, 0], [1, 1]], labels: [forklift]}
`, testModel(t), dir, testPhoto(t, "bus.jpg")))
	_, errOut, err := runCLI(t, "config", "check", "--config", cfgFile)
	for _, want := range []string{
		"cameras[0].zones[0].polygon: has 2 point(s): a zone needs at least 3 [x, y] points",
		"cameras[0].zones[1].polygon[1]: x = 810 is outside 0..1",
		"if 810 is a pixel, divide it by the frame width",
		"cameras[0].zones[2].polygon: crosses itself (edge 1, from point 0, meets edge 3, from point 2",
		`cameras[0].zones[3].labels: unknown label "forklift"`,
	} {
		if err == nil || !strings.Contains(errOut, want) {
			t.Errorf("config check: %v\n%s\nwant it to contain %q", err, errOut, want)
		}
	}
}

// config check says which classes the labels were checked against.
func TestConfigCheckSaysTheModelClasses(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "warehouse.onnx")
	if err := os.WriteFile(model, onnxtest.YOLOv5Model(320, 2, []string{"forklift", "pallet"}), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgFile := configFile(t, dir, fmt.Sprintf(`
model: {path: %q}
detection: {labelsMinimum: [pallet]}
azure: {connectionString: "HostName=h.azure-devices.net;SharedAccessKeyName=o;SharedAccessKey=c2VjcmV0"}
state: {dir: %q}
cameras: [{id: dock, type: file, path: %q}]
`, model, dir, testPhoto(t, "bus.jpg")))
	_, errOut, err := runCLI(t, "config", "check", "--config", cfgFile)
	if err != nil || !strings.Contains(errOut, "model classes: 2 from the model's names metadata") {
		t.Errorf("config check: %v\n%s", err, errOut)
	}
}
