package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/edgecam/edgecam/internal/eval"
	"github.com/edgecam/edgecam/internal/tally"
	"github.com/edgecam/edgecam/internal/testfixture"
)

// runCmd runs `edgecam args...` in-process and returns stdout, stderr and the exit status.
func runCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := NewRootCmd(&out, &errOut)
	root.SetArgs(args)
	code := 0
	if err := root.Execute(); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			code = ee.code
		} else {
			code = 1
			errOut.WriteString("edgecam: " + err.Error() + "\n")
		}
	}
	return out.String(), errOut.String(), code
}

type evalJSON struct {
	Frames int `json:"frames"`
	Frame  struct {
		Labels []struct {
			Label          string   `json:"label"`
			True           int      `json:"true"`
			Counted        int      `json:"counted"`
			AbsError       int      `json:"absError"`
			CountError     *float64 `json:"countError"`
			BestThreshold  *float64 `json:"bestThreshold"`
			BestCountError *float64 `json:"bestCountError"`
		} `json:"labels"`
	} `json:"frame"`
}

// cocoSubset makes a YOLO folder in a temporary directory with the first n coco128 photos that
// have a label of labels (symbolic links to the photos, copies of their label files).
func cocoSubset(t *testing.T, n int, labels []string) (dir string, names []string, images []string) {
	t.Helper()
	src := filepath.Join(testfixture.SharedDir(t), "testdata", "coco128")
	data, err := os.ReadFile(filepath.Join(src, "names.txt"))
	if err != nil {
		t.Fatalf("test fixture: %v (set EDGECAM_SHARED to the shared folder)", err)
	}
	names = strings.Fields(strings.ReplaceAll(string(data), " ", "_"))
	for i := range names {
		names[i] = strings.ReplaceAll(names[i], "_", " ")
	}
	want := map[string]bool{}
	for i, nm := range names {
		for _, l := range labels {
			if nm == l {
				want[strconv.Itoa(i)] = true
			}
		}
	}
	dir = t.TempDir()
	os.MkdirAll(filepath.Join(dir, "images"), 0o755)
	os.MkdirAll(filepath.Join(dir, "labels"), 0o755)
	os.WriteFile(filepath.Join(dir, "names.txt"), data, 0o644)
	files, _ := filepath.Glob(filepath.Join(src, "labels", "*.txt"))
	sort.Strings(files)
	for _, f := range files {
		lab, _ := os.ReadFile(f)
		has := false
		for _, line := range strings.Split(string(lab), "\n") {
			if fs := strings.Fields(line); len(fs) > 0 && want[fs[0]] {
				has = true
			}
		}
		if !has {
			continue
		}
		base := strings.TrimSuffix(filepath.Base(f), ".txt")
		img := filepath.Join(src, "images", base+".jpg")
		if err := os.Symlink(img, filepath.Join(dir, "images", base+".jpg")); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "labels", base+".txt"), lab, 0o644)
		images = append(images, img)
		if len(images) == n {
			break
		}
	}
	return dir, names, images
}

// trueCounts reads a YOLO labels folder independently of package eval: per image base name,
// per label, the number of boxes.
func trueCounts(t *testing.T, dir string, names []string) map[string]map[string]int {
	out := map[string]map[string]int{}
	files, _ := filepath.Glob(filepath.Join(dir, "labels", "*.txt"))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]int{}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			if fs := strings.Fields(sc.Text()); len(fs) == 5 {
				k, _ := strconv.Atoi(fs[0])
				m[names[k]]++
			}
		}
		fh.Close()
		out[strings.TrimSuffix(filepath.Base(f), ".txt")+".jpg"] = m
	}
	return out
}

// countError is computed from `edgecam detect --json` lines: sum |counted - true| / sum true.
func countError(t *testing.T, detectOut string, truth map[string]map[string]int, label string) (abs, tru, counted int) {
	for _, r := range parseLines(t, detectOut) {
		n := 0
		for _, d := range r.Detections {
			if d.Label == label {
				n++
			}
		}
		tr := truth[r.Image][label]
		abs += int(math.Abs(float64(n - tr)))
		tru += tr
		counted += n
	}
	return abs, tru, counted
}

// TestEvalAgreesWithDetect checks edgecam eval's counts on coco128 photos against counts made
// here from `edgecam detect --json` and the label files: at the configured threshold, and at
// the best threshold eval reports (found by sweeping one low-floor run per frame, which must
// equal running the detector at that threshold).
func TestEvalAgreesWithDetect(t *testing.T) {
	testfixture.SkipIfEmulated(t, "runs a model on 24 photos")
	model := filepath.Join(testfixture.SharedDir(t), "models", "yolo11n.onnx")
	if _, err := os.Stat(model); err != nil {
		t.Fatalf("test fixture: %v", err)
	}
	labels := []string{"person", "car", "truck"}
	dir, names, images := cocoSubset(t, 24, labels)
	truth := trueCounts(t, dir, names)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("model: {path: %s}\ndetection: {scoreThreshold: 0.5}\ncameras:\n  - {id: cam, type: file, path: %s}\n", model, images[0])), 0o644)

	out, errOut, code := runCmd(t, "eval", "--config", cfg, "--camera", "cam", "--json", "--labels", strings.Join(labels, ","), dir)
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, errOut)
	}
	var rep evalJSON
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.Frames != len(images) || len(rep.Frame.Labels) != len(labels) {
		t.Fatalf("report: %+v", rep)
	}
	det05, errOut, code := runCmd(t, append([]string{"detect", "--json", "--model", model, "--threshold", "0.5"}, images...)...)
	if code != 0 {
		t.Fatalf("detect: %s", errOut)
	}
	for _, l := range rep.Frame.Labels {
		abs, tru, counted := countError(t, det05, truth, l.Label)
		if l.True != tru || l.Counted != counted || l.AbsError != abs {
			t.Errorf("%s at 0.5: eval true %d counted %d |error| %d; detect --json: %d, %d, %d", l.Label, l.True, l.Counted, l.AbsError, tru, counted, abs)
		}
		if tru > 0 && math.Abs(*l.CountError-float64(abs)/float64(tru)) > 1e-9 {
			t.Errorf("%s count error %v, want %v", l.Label, *l.CountError, float64(abs)/float64(tru))
		}
		if l.BestThreshold == nil {
			continue
		}
		best := strconv.FormatFloat(*l.BestThreshold, 'f', 2, 64)
		// detect keeps scores above --threshold; eval's threshold keeps scores at or above it.
		below := strconv.FormatFloat(*l.BestThreshold-0.00001, 'f', 5, 64)
		detBest, errOut, code := runCmd(t, append([]string{"detect", "--json", "--model", model, "--threshold", below}, images...)...)
		if code != 0 {
			t.Fatalf("detect: %s", errOut)
		}
		abs, tru, _ = countError(t, detBest, truth, l.Label)
		if got := float64(abs) / float64(tru); math.Abs(got-*l.BestCountError) > 1e-9 {
			t.Errorf("%s: eval's best threshold %s gives count error %v by eval, %v by detect --json", l.Label, best, *l.BestCountError, got)
		}
		t.Logf("%s: true %d, counted %d at 0.5 (count error %.2f); best threshold %s: %.2f", l.Label, l.True, l.Counted, *l.CountError, best, *l.BestCountError)
	}
}

func TestEvalErrors(t *testing.T) {
	cocoDir := t.TempDir()
	cfg := filepath.Join(cocoDir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("model: {path: %s}\ncameras:\n  - {id: cam, type: file, path: %s}\n", testModel(t), testPhoto(t, "bus.jpg"))), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "labels.json"}, "give --config FILE and --camera ID"},
		{[]string{"eval", "--config", cfg, "--camera", "nope", "labels.json"}, `no such camera`},
		{[]string{"eval", "--config", cfg, "--camera", "cam", filepath.Join(cocoDir, "missing.json")}, "no such file"},
		{[]string{"eval", "--config", cfg, "--camera", "cam"}, "one LABELS argument"},
	} {
		_, errOut, code := runCmd(t, c.args...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want %q", c.args, code, errOut, c.want)
		}
	}
}

// TestDetectConfigBelowDefaultThreshold: with --config, a camera threshold under detect's own
// --threshold default (0.25) counts what the daemon would: its detector keeps scores down to
// config.DetectorFloor. zidane.jpg's second tie scores 0.203 (yolov5n).
func TestDetectConfigBelowDefaultThreshold(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	zidane := testPhoto(t, "zidane.jpg")
	os.WriteFile(cfg, []byte(fmt.Sprintf("model: {path: %s}\ndetection: {scoreThreshold: 0.2}\ncameras:\n  - {id: cam, type: file, path: %s}\n", testModel(t), zidane)), 0o644)
	out, errOut, code := runCmd(t, "detect", "--config", cfg, "--camera", "cam", "--json", zidane)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	reps := parseLines(t, out)
	if len(reps) != 1 || reps[0].Tally["tie"] != 2 || reps[0].Tally["person"] != 2 {
		t.Errorf("tally %v, want 2 ties (0.271, 0.203) and 2 persons", reps[0].Tally)
	}
}

// TestSuggestLoads: the block --suggest prints is a valid configuration (labels with spaces
// included) that config check reads back with those thresholds.
func TestSuggestLoads(t *testing.T) {
	set := &eval.Set{Images: []eval.Image{{Path: "a.jpg", Boxes: []eval.Box{
		{Label: "person", Box: [4]float64{0.1, 0.1, 0.2, 0.4}},
		{Label: "traffic light", Box: [4]float64{0.5, 0.1, 0.55, 0.2}},
	}}}}
	preds := [][]tally.Prediction{{
		{Label: "person", Score: 0.6, Box: [4]float64{0.1, 0.1, 0.2, 0.4}},
		{Label: "traffic light", Score: 0.3, Box: [4]float64{0.5, 0.1, 0.55, 0.2}},
	}}
	rules := tally.Rules{Threshold: 0.5, Filters: map[string]tally.Filter{"person": {MaxArea: 0.5}}}
	var block bytes.Buffer
	if err := eval.Evaluate(set, preds, rules, eval.Options{Floor: 0.1, Labels: []string{"person", "traffic light"}}).Suggest(&block, rules, "cam"); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("model: {path: %s}\nazure: {connectionString: \"HostName=h.azure-devices.net;DeviceId=cam;SharedAccessKey=YWJj\"}\nstate: {dir: %s}\ncameras:\n  - {id: cam, type: file, path: %s}\n%s",
		testModel(t), t.TempDir(), testPhoto(t, "bus.jpg"), block.String())), 0o644)
	out, errOut, code := runCmd(t, "config", "check", "--config", cfg)
	if code != 0 {
		t.Fatalf("config check of the suggestion: %s\n%s", errOut, block.String())
	}
	for _, want := range []string{"person: {minScore: 0.", "maxArea: 0.5", "traffic light: {minScore: 0."} {
		if !strings.Contains(out, want) && !strings.Contains(block.String(), want) {
			t.Errorf("%q missing:\n%s\n%s", want, block.String(), out)
		}
	}
	if !strings.Contains(out, "traffic light") {
		t.Errorf("config check lost the suggested filter:\n%s", out)
	}
}

// TestEvalTiles: a camera with detection.tiles is evaluated tile by tile, as detect --config
// --camera (and the daemon) counts its frames: the counts agree with detect's, and differ from
// the same camera's without tiles.
func TestEvalTiles(t *testing.T) {
	testfixture.SkipIfEmulated(t, "runs a model on 6 photos, 5 times each")
	model := filepath.Join(testfixture.SharedDir(t), "models", "yolo11n.onnx")
	labels := []string{"person", "car"}
	dir, _, images := cocoSubset(t, 6, labels)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`model: {path: %s}
detection: {scoreThreshold: 0.3}
cameras:
  - {id: tiled, type: file, path: %s, detection: {tiles: {cols: 2, rows: 2}}}
  - {id: whole, type: file, path: %s}
`, model, images[0], images[0])), 0o644)
	counts := map[string]map[string]int{}
	for _, cam := range []string{"tiled", "whole"} {
		out, errOut, code := runCmd(t, "eval", "--config", cfg, "--camera", cam, "--json", "--labels", strings.Join(labels, ","), dir)
		if code != 0 {
			t.Fatalf("eval %s: exit %d: %s", cam, code, errOut)
		}
		var rep evalJSON
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		counts[cam] = map[string]int{}
		for _, l := range rep.Frame.Labels {
			counts[cam][l.Label] = l.Counted
		}
	}
	// detect --config detects a tiled camera at the daemon's floor by itself, as eval does, so
	// both merge the same boxes.
	out, errOut, code := runCmd(t, append([]string{"detect", "--config", cfg, "--camera", "tiled", "--json"}, images...)...)
	if code != 0 {
		t.Fatalf("detect: %s", errOut)
	}
	det := map[string]int{}
	for _, r := range parseLines(t, out) {
		if r.Tiles != 5 {
			t.Errorf("%s: %d tiles, want 5", r.Image, r.Tiles)
		}
		for _, d := range r.Detections {
			if d.Dropped == "" {
				det[d.Label]++
			}
		}
	}
	for _, l := range labels {
		if counts["tiled"][l] != det[l] {
			t.Errorf("%s: eval counts %d tiled, detect --config --camera %d", l, counts["tiled"][l], det[l])
		}
	}
	if counts["tiled"]["person"] == counts["whole"]["person"] && counts["tiled"]["car"] == counts["whole"]["car"] {
		t.Errorf("eval counts the same with and without tiles: %v", counts)
	}
	t.Logf("counted with tiles %v, without %v", counts["tiled"], counts["whole"])
}
