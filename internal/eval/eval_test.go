package eval

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/edgecam/edgecam/internal/box"
	"github.com/edgecam/edgecam/internal/tally"
	"github.com/edgecam/edgecam/internal/zone"
)

func rect(x1, y1, x2, y2 float64) zone.Polygon {
	return zone.Polygon{{X: x1, Y: y1}, {X: x2, Y: y1}, {X: x2, Y: y2}, {X: x1, Y: y2}}
}

// handSet is three frames whose figures are worked out by hand in TestEvaluateByHand.
func handSet() (*Set, [][]tally.Prediction) {
	p1 := [4]float64{0.1, 0.1, 0.2, 0.4}
	p2 := [4]float64{0.5, 0.1, 0.6, 0.4}
	c1 := [4]float64{0.3, 0.6, 0.5, 0.8}
	p3 := [4]float64{0.2, 0.2, 0.3, 0.5}
	set := &Set{Images: []Image{
		{Path: "a.jpg", Boxes: []Box{{"person", p1}, {"person", p2}, {"car", c1}}},
		{Path: "b.jpg", Boxes: []Box{{"person", p3}, {"person", [4]float64{0.8, 0.8, 0.9, 0.95}}}}, // the second in the mask
		{Path: "c.jpg", Crowd: []string{"person"}},
	}}
	preds := [][]tally.Prediction{
		{
			{Label: "person", Score: 0.9, Box: p1},
			{Label: "person", Score: 0.6, Box: [4]float64{0.51, 0.11, 0.61, 0.41}}, // IoU with p2 ~0.68
			{Label: "person", Score: 0.4, Box: [4]float64{0.8, 0.8, 0.9, 0.9}},     // in the mask
			{Label: "car", Score: 0.3, Box: c1},
		},
		{
			{Label: "person", Score: 0.8, Box: p3},
			{Label: "person", Score: 0.75, Box: [4]float64{0.6, 0.6, 0.7, 0.7}}, // nothing there
			{Label: "person", Score: 0.2, Box: [4]float64{0.4, 0.4, 0.5, 0.5}},  // below the floor
		},
		{{Label: "person", Score: 0.95, Box: [4]float64{0.1, 0.1, 0.9, 0.9}}}, // a crowd: not compared
	}
	return set, preds
}

func handRules() tally.Rules {
	return tally.Rules{
		Threshold: 0.5,
		Interest:  []string{"car"},
		Masks:     []tally.Mask{{Polygon: rect(0.75, 0.75, 1, 1)}},
		Zones:     []tally.Zone{{Name: "left", Polygon: rect(0, 0, 0.45, 1)}},
	}
}

func near(t *testing.T, what string, got *float64, want float64) {
	t.Helper()
	if got == nil || math.Abs(*got-want) > 1e-9 {
		g := "nil"
		if got != nil {
			g = strings.TrimRight(strings.TrimRight(jsonNum(*got), "0"), ".")
		}
		t.Errorf("%s = %s, want %v", what, g, want)
	}
}

func jsonNum(v float64) string { b, _ := json.Marshal(v); return string(b) }

func TestEvaluateByHand(t *testing.T) {
	set, preds := handSet()
	r := Evaluate(set, preds, handRules(), Options{Labels: []string{"person", "car"}, Floor: 0.25})

	person, car, all := r.Frame.Labels[0], r.Frame.Labels[1], r.Frame.All
	// person at 0.5: a.jpg counts 2 of 2 (the 0.4 is masked anyway), b.jpg 2 of 1 (the 0.2 is
	// under the floor; the masked labelled one is not expected), c.jpg is a crowd: error 1/3.
	if person.True != 3 || person.Counted != 4 || person.Matched != 3 || person.CrowdFrames != 1 {
		t.Errorf("person = %+v", person)
	}
	near(t, "person count error", person.CountError, 1.0/3)
	near(t, "person precision", person.Precision, 0.75)
	near(t, "person recall", person.Recall, 1)
	// Error 1 for every threshold in (0.25, 0.6] and in (0.75, 0.8]: the middle of the wider.
	near(t, "person best threshold", person.BestThreshold, 0.43)
	near(t, "person best count error", person.BestCountError, 1.0/3)
	// car: 0.3 < 0.5 misses the one car; any threshold up to 0.30 counts it.
	if car.True != 1 || car.Counted != 0 || car.Precision != nil {
		t.Errorf("car = %+v", car)
	}
	near(t, "car count error", car.CountError, 1)
	near(t, "car best threshold", car.BestThreshold, 0.28)
	near(t, "car best count error", car.BestCountError, 0)
	// One threshold for both: 0.26..0.30 makes 1 error (b.jpg's extra person).
	if all.True != 4 || all.Counted != 4 || all.AbsError != 2 {
		t.Errorf("all = %+v", all)
	}
	near(t, "all count error", all.CountError, 0.5)
	near(t, "all best threshold", all.BestThreshold, 0.28)
	near(t, "all best count error", all.BestCountError, 0.25)

	// The zone holds p1, c1 and p3 (bottom-centre anchors left of 0.45).
	if len(r.Zones) != 1 || r.Zones[0].Zone != "left" {
		t.Fatalf("zones = %+v", r.Zones)
	}
	zp, zc := r.Zones[0].Labels[0], r.Zones[0].Labels[1]
	if zp.True != 2 || zp.Counted != 2 || zc.True != 1 || zc.Counted != 0 {
		t.Errorf("zone: person %+v, car %+v", zp, zc)
	}
	near(t, "zone person count error", zp.CountError, 0)

	// Interest is car: no frame counts one, a.jpg has one labelled.
	if r.Sent == nil || *r.Sent != 0 || *r.Missed != 1 || *r.Spurious != 0 {
		t.Errorf("sent %v missed %v spurious %v", r.Sent, r.Missed, r.Spurious)
	}

	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"person     3        4         0.33     0.00-1.00       0.75    1.00", "zone left", "tallies sent: 0 of 3 frames (1 with"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
}

func TestEvaluateFiltersAndDefaultLabels(t *testing.T) {
	set, preds := handSet()
	rules := handRules()
	rules.Interest = nil
	// person's own minScore, and an area bound that drops b.jpg's unmatched 0.01-area box.
	rules.Filters = map[string]tally.Filter{"person": {MinScore: 0.7, MinArea: 0.015}}
	r := Evaluate(set, preds, rules, Options{Floor: 0.25})
	if got := []string{r.Frame.Labels[0].Label}; !reflect.DeepEqual(got, []string{"person"}) || len(r.Frame.Labels) != 1 {
		t.Fatalf("labels = %+v, want the filtered label only", r.Frame.Labels)
	}
	p := r.Frame.Labels[0]
	// a.jpg: 0.9 (0.6 < 0.7) -> 1 of 2; b.jpg: 0.8 (0.75's box is too small) -> 1 of 1.
	if p.MinScore != 0.7 || p.Counted != 2 || p.AbsError != 1 || r.Sent != nil {
		t.Errorf("person = %+v", p)
	}
	var buf bytes.Buffer
	if err := r.Suggest(&buf, rules, "cam"); err != nil {
		t.Fatal(err)
	}
	// Any threshold in (0.25, 0.6] counts both frames right: the middle is 0.43.
	if !strings.Contains(buf.String(), "    person: {minScore: 0.43, minArea: 0.015}\n") || !strings.Contains(buf.String(), "count error 0.33 -> 0.00") {
		t.Errorf("suggest:\n%s", buf.String())
	}
}

func TestBest(t *testing.T) {
	errs := make([]int, sweepSteps)
	for i := range errs {
		errs[i] = 5
	}
	errs[9], errs[40], errs[41], errs[42] = 1, 1, 1, 1 // 0.10; 0.41..0.43
	if got, e := best(errs, 0); got != 0.42 || e != 1 {
		t.Errorf("best = %v, %d; want 0.42, 1", got, e)
	}
	errs[50] = 0
	if got, _ := best(errs, 0.6); got == 0.51 {
		t.Errorf("best below the floor: %v", got)
	}
}

// writeTiny writes the same two labelled frames as a COCO JSON file and as a YOLO folder.
func writeTiny(t *testing.T) (cocoFile, yoloDir string) {
	dir := t.TempDir()
	yoloDir = filepath.Join(dir, "yolo")
	for _, d := range []string{"images", "labels"} {
		if err := os.MkdirAll(filepath.Join(yoloDir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"one.jpg", "two.png"} {
		if err := os.WriteFile(filepath.Join(yoloDir, "images", n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// one.jpg 200x100: person (20,10)-(60,90), car (100,50)-(200,100); two.png: nothing labelled.
	write(filepath.Join(yoloDir, "labels", "one.txt"), "0 0.2 0.5 0.2 0.8\n2 0.75 0.75 0.5 0.5\n")
	write(filepath.Join(yoloDir, "data.yaml"), "path: .\ntrain: images\nnames:\n  0: person\n  1: bicycle\n  2: car\nnc: 3\n")
	cocoFile = filepath.Join(yoloDir, "images", "instances.json")
	write(cocoFile, `{"images": [{"id": 7, "file_name": "one.jpg", "width": 200, "height": 100},
	  {"id": 8, "file_name": "/elsewhere/two.png", "width": 50, "height": 50}],
	 "annotations": [{"image_id": 7, "category_id": 1, "bbox": [20, 10, 40, 80], "iscrowd": 0},
	  {"image_id": 7, "category_id": 3, "bbox": [100, 50, 100, 50]},
	  {"image_id": 8, "category_id": 1, "bbox": [0, 0, 50, 50], "iscrowd": 1}],
	 "categories": [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}]}`)
	return cocoFile, yoloDir
}

func TestLoadFormats(t *testing.T) {
	cocoPath, yoloDir := writeTiny(t)
	c, err := Load(cocoPath, "")
	if err != nil {
		t.Fatal(err)
	}
	y, err := Load(yoloDir, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Format != "coco" || y.Format != "yolo" || len(c.Images) != 2 || len(y.Images) != 2 {
		t.Fatalf("coco %+v\nyolo %+v", c, y)
	}
	for i := range c.Images {
		ci, yi := c.Images[i], y.Images[i]
		if filepath.Base(ci.Path) != filepath.Base(yi.Path) {
			t.Errorf("image %d: %s vs %s", i, ci.Path, yi.Path)
		}
		if _, err := os.Stat(ci.Path); err != nil {
			t.Errorf("COCO image not resolved: %v", err)
		}
		if len(ci.Boxes) != len(yi.Boxes) {
			t.Fatalf("image %d: boxes %+v vs %+v", i, ci.Boxes, yi.Boxes)
		}
		for j := range ci.Boxes {
			if ci.Boxes[j].Label != yi.Boxes[j].Label || box.IoU(ci.Boxes[j].Box, yi.Boxes[j].Box) < 0.999 {
				t.Errorf("image %d box %d: %+v vs %+v", i, j, ci.Boxes[j], yi.Boxes[j])
			}
		}
	}
	if want := [4]float64{0.1, 0.1, 0.3, 0.9}; c.Images[0].Boxes[0].Box != want {
		t.Errorf("COCO box %v, want %v", c.Images[0].Boxes[0].Box, want)
	}
	if !reflect.DeepEqual(c.Images[1].Crowd, []string{"person"}) || len(c.Images[1].Boxes) != 0 {
		t.Errorf("crowd image: %+v", c.Images[1])
	}

	// JSON lines, as coco128's truth.jsonl.
	jl := filepath.Join(t.TempDir(), "truth.jsonl")
	os.WriteFile(jl, []byte(`{"file": "images/one.jpg", "width": 200, "height": 100, "boxes": [{"label": "person", "x1": 20, "y1": 10, "x2": 60, "y2": 90}], "crowd": [{"label": "car", "x1": 0, "y1": 0, "x2": 1, "y2": 1}]}
{"file": "images/two.png", "width": 50, "height": 50, "boxes": [], "crowd": []}
`), 0o644)
	j, err := Load(jl, yoloDir)
	if err != nil {
		t.Fatal(err)
	}
	if j.Format != "jsonl" || len(j.Images) != 2 || j.Images[0].Boxes[0].Box != c.Images[0].Boxes[0].Box || !reflect.DeepEqual(j.Images[0].Crowd, []string{"car"}) {
		t.Errorf("jsonl: %+v", j)
	}
	if _, err := os.Stat(j.Images[0].Path); err != nil {
		t.Errorf("--images not used: %v", err)
	}
}

func TestYAMLNames(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"names: [person, 'traffic light', \"car\"]\n", "person|traffic light|car"},
		{"nc: 2\nnames: [a,\n  b]\n", "a|b"},
		{"names:\n  - forklift\n  - pallet\ntrain: x\n", "forklift|pallet"},
		{"names:\n  1: b\n  0: a # first\nval: y\n", "a|b"},
	} {
		got, err := yamlNames([]byte(c.in))
		if err != nil || strings.Join(got, "|") != c.want {
			t.Errorf("%q: %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"nc: 1\n", "names:\n  0: a\n  2: c\n", "names: x\n"} {
		if _, err := yamlNames([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "seg")
	os.MkdirAll(filepath.Join(bad, "images"), 0o755)
	os.MkdirAll(filepath.Join(bad, "labels"), 0o755)
	os.WriteFile(filepath.Join(bad, "names.txt"), []byte("person\n"), 0o644)
	os.WriteFile(filepath.Join(bad, "images", "a.jpg"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(bad, "labels", "a.txt"), []byte("0 0.1 0.1 0.2 0.1 0.2 0.2\n"), 0o644)
	for path, want := range map[string]string{
		bad:                                "segmentation or pose",
		filepath.Join(dir, "missing.json"): "no such file",
		filepath.Join(dir, "nonames"):      "no names.txt or data.yaml",
	} {
		if strings.HasSuffix(path, "nonames") {
			os.MkdirAll(path, 0o755)
		}
		if _, err := Load(path, ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", path, err, want)
		}
	}
}
