package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/testfixture"
	"github.com/edgecam/edgecam/internal/yolo"
)

func projectRoot(t *testing.T) string            { return testfixture.RepoRoot(t) }
func testModel(t *testing.T) string              { return testfixture.ModelPath(t) }
func testPhoto(t *testing.T, name string) string { return testfixture.Photo(t, name) }

// detect runs `edgecam detect args...` in-process and returns stdout, stderr and the exit status.
func detect(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runCmd(t, append([]string{"detect"}, args...)...)
}

type jsonReport struct {
	Image      string `json:"image"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	Detections []struct {
		Label   string     `json:"label"`
		ClassID int        `json:"classId"`
		Score   float64    `json:"score"`
		Box     [4]float64 `json:"box"`
		Dropped string     `json:"dropped"`
		Zones   []string   `json:"zones"`
	} `json:"detections"`
	Tally     map[string]int     `json:"tally"`
	Send      *bool              `json:"send"`
	Tiles     int                `json:"tiles"`
	TimingsMs map[string]float64 `json:"timingsMs"`
	Bench     *struct {
		Runs     int                `json:"runs"`
		MedianMs map[string]float64 `json:"medianMs"`
		P90Ms    map[string]float64 `json:"p90Ms"`
	} `json:"bench"`
}

func parseLines(t *testing.T, out string) []jsonReport {
	t.Helper()
	var reps []jsonReport
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r jsonReport
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		reps = append(reps, r)
	}
	return reps
}

var wantTally = map[string]map[string]int{
	"bus.jpg":     {"person": 3, "bus": 1},
	"zidane.jpg":  {"person": 2, "tie": 1},
	"dog.jpg":     {"dog": 1, "car": 1, "bicycle": 2},
	"eagle.jpg":   {"bird": 1},
	"giraffe.jpg": {"giraffe": 1, "zebra": 1},
	"horses.jpg":  {"horse": 4},
	"person.jpg":  {"person": 1, "dog": 1, "horse": 1},
	"kite.jpg":    {"kite": 5, "person": 8},
}

var stageKeys = []string{"decode", "preprocess", "inference", "postprocess", "total"}

func TestDetectJSON(t *testing.T) {
	args := []string{"--model", testModel(t), "--json"}
	var names []string
	for name := range wantTally {
		names = append(names, name)
		args = append(args, testPhoto(t, name))
	}
	out, errOut, code := detect(t, args...)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	reps := parseLines(t, out)
	if len(reps) != len(names) {
		t.Fatalf("%d lines for %d images", len(reps), len(names))
	}
	for i, r := range reps {
		if r.Image != names[i] {
			t.Errorf("line %d is %q, want %q", i, r.Image, names[i])
		}
		if len(r.Tally) != len(wantTally[r.Image]) {
			t.Errorf("%s: tally %v, want %v", r.Image, r.Tally, wantTally[r.Image])
		}
		for label, n := range wantTally[r.Image] {
			if r.Tally[label] != n {
				t.Errorf("%s: tally %v, want %v", r.Image, r.Tally, wantTally[r.Image])
			}
		}
		for j := 1; j < len(r.Detections); j++ {
			if r.Detections[j].Score > r.Detections[j-1].Score {
				t.Errorf("%s: not sorted by score", r.Image)
			}
		}
		for _, k := range stageKeys {
			if _, ok := r.TimingsMs[k]; !ok {
				t.Errorf("%s: timingsMs has no %q", r.Image, k)
			}
		}
		if r.TimingsMs["inference"] <= 0 || r.TimingsMs["total"] < r.TimingsMs["inference"] {
			t.Errorf("%s: timings %v", r.Image, r.TimingsMs)
		}
		if r.Bench != nil {
			t.Errorf("%s: bench without --bench", r.Image)
		}
	}
	bus := reps[0]
	for _, r := range reps {
		if r.Image == "bus.jpg" {
			bus = r
		}
	}
	if bus.Width != 810 || bus.Height != 1080 || len(bus.Detections) != 4 {
		t.Fatalf("bus.jpg: %+v", bus)
	}
	d := bus.Detections[0]
	if d.Label != "person" || d.ClassID != 0 || d.Score != 0.823 || d.Box != [4]float64{219.3, 407.8, 349.4, 862.7} {
		t.Errorf("bus.jpg first detection %+v, want person 0.823 [219.3 407.8 349.4 862.7]", d)
	}
	if b := bus.Detections[3]; b.Label != "bus" || b.ClassID != 5 || b.Box[2] != 810 {
		t.Errorf("bus.jpg last detection %+v", b)
	}
}

func TestDetectTable(t *testing.T) {
	out, errOut, code := detect(t, "--model", testModel(t), testPhoto(t, "bus.jpg"), testPhoto(t, "eagle.jpg"))
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{
		"bus.jpg  810x1080  4 objects  total ",
		"label  score     x1     y1     x2     y2",
		"person  0.823  219.3  407.8  349.4  862.7",
		"bus  0.526   48.8  236.8  810.0  772.0",
		"  tally: person 3, bus 1\n",
		"eagle.jpg  773x512  1 object  total ",
		"  tally: bird 1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestDetectBadImages(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string { return testfixture.WriteFile(t, dir, name, data) }
	bus := testfixture.ReadPhoto(t, "bus.jpg")
	huge := testfixture.JPEGHeaderOnly(20000, 10000)
	files := []struct{ path, msg string }{
		{filepath.Join(dir, "missing.jpg"), "no such file or directory"},
		{write("empty.jpg", nil), "empty image (0 bytes)"},
		{write("truncated.jpg", bus[:len(bus)/2]), "truncated JPEG (no end-of-image marker)"},
		{write("notes.jpg", []byte("these are my notes, not a photo\n")), "not a JPEG, PNG, BMP or WebP image"},
		{write("huge.jpg", huge), "image is 20000x10000 (200 megapixels), more than the limit of 100 megapixels"},
	}
	args := []string{"--model", testModel(t), "--json", testPhoto(t, "eagle.jpg")}
	for _, f := range files {
		args = append(args, f.path)
	}
	args = append(args, testPhoto(t, "giraffe.jpg"))
	out, errOut, code := detect(t, args...)
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) != len(files) {
		t.Errorf("stderr has %d lines, want %d:\n%s", len(lines), len(files), errOut)
	}
	for i, f := range files {
		want := "edgecam: " + f.path + ": " + f.msg
		if i >= len(lines) || lines[i] != want {
			t.Errorf("stderr line %d: want %q\n%s", i, want, errOut)
		}
	}
	reps := parseLines(t, out)
	if len(reps) != 2 || reps[0].Image != "eagle.jpg" || reps[1].Image != "giraffe.jpg" {
		t.Errorf("the good images were not all scored:\n%s", out)
	}
}

func TestDetectSetupErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(text, []byte("version: 1\nthis is YAML, not ONNX\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	photo := testPhoto(t, "bus.jpg")
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"missing model": {[]string{"--model", filepath.Join(dir, "none.onnx"), photo},
			"edgecam: model " + filepath.Join(dir, "none.onnx") + ": no such file; run `make deps` or pass --model PATH to a YOLO ONNX export\n"},
		"not onnx": {[]string{"--model", text, photo},
			"edgecam: model " + text + ": not a valid ONNX model: "},
		"missing runtime": {[]string{"--ort-lib", filepath.Join(dir, "libonnxruntime.so.1"), photo},
			"edgecam: ONNX Runtime library " + filepath.Join(dir, "libonnxruntime.so.1") + " (from --ort-lib): no such file\n"},
		"no images":     {nil, "edgecam: detect needs at least one image file"},
		"bad threshold": {[]string{"--threshold", "2", photo}, "edgecam: --threshold 2: want a value between 0 and 1\n"},
	} {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := detect(t, tc.args...)
			if code != 1 || out != "" {
				t.Errorf("exit %d, stdout %q", code, out)
			}
			if !strings.HasPrefix(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("stderr %q\nwant one line starting %q", errOut, tc.want)
			}
		})
	}
}

func TestDetectBenchAndAnnotate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "annotated")
	out, errOut, code := detect(t, "--model", testModel(t), "--json", "--bench", "3", "--threads", "1",
		"--annotate", dir, testPhoto(t, "dog.jpg"))
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	reps := parseLines(t, out)
	if len(reps) != 1 || reps[0].Bench == nil || reps[0].Bench.Runs != 3 {
		t.Fatalf("bench: %s", out)
	}
	for _, k := range stageKeys {
		b := reps[0].Bench
		if b.MedianMs[k] > b.P90Ms[k] {
			t.Errorf("%s: median %v above p90 %v", k, b.MedianMs[k], b.P90Ms[k])
		}
		if _, ok := b.P90Ms[k]; !ok {
			t.Errorf("p90Ms has no %q", k)
		}
	}
	img := gocv.IMRead(filepath.Join(dir, "dog.annotated.jpg"), gocv.IMReadColor)
	defer img.Close()
	if img.Cols() != 768 || img.Rows() != 576 {
		t.Errorf("annotated image is %dx%d, want 768x576", img.Cols(), img.Rows())
	}

	// The human form reports the bench too.
	out, _, _ = detect(t, "--model", testModel(t), "--bench", "2", testPhoto(t, "eagle.jpg"))
	if !strings.Contains(out, "bench: 2 runs, median total ") || !strings.Contains(out, " p90    total ") {
		t.Errorf("bench lines missing:\n%s", out)
	}
}

// The built binary finds the ONNX Runtime library beside its bin/ folder with no environment at
// all, run from an unrelated directory; without the library it says so in one line.
func TestDetectBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	root := projectRoot(t)
	lib := filepath.Join(root, "lib", "onnxruntime", "libonnxruntime.so.1")
	if _, err := os.Stat(lib); err != nil {
		t.Skipf("no ONNX Runtime library in the project (run `make deps`): %v", err)
	}
	tmp := t.TempDir()
	exe := filepath.Join(tmp, "edgecam", "bin", "edgecam")
	build := exec.Command("go", "build", "-o", exe, "./cmd/edgecam")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	work := filepath.Join(tmp, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(extra ...string) (string, string, int) {
		args := append([]string{"detect", "--json", "--model", testModel(t)}, extra...)
		cmd := exec.Command(exe, append(args, testPhoto(t, "person.jpg"))...)
		cmd.Dir = work
		cmd.Env = []string{}
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
	}

	_, errOut, code := run()
	if code != 1 || !strings.HasPrefix(errOut, "edgecam: ONNX Runtime library not found (looked in ") ||
		strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "make deps") {
		t.Errorf("without the library: exit %d, stderr %q", code, errOut)
	}

	// A file that is not a shared library: one line, no crash.
	notLib := filepath.Join(work, "libonnxruntime.so.1")
	if err := os.WriteFile(notLib, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = run("--ort-lib", notLib)
	if code != 1 || !strings.HasPrefix(errOut, "edgecam: loading ONNX Runtime library "+notLib+": ") ||
		strings.Count(errOut, "\n") != 1 {
		t.Errorf("--ort-lib not a library: exit %d, stderr %q", code, errOut)
	}

	libDir := filepath.Join(tmp, "edgecam", "lib", "onnxruntime")
	if err := os.MkdirAll(libDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(lib, filepath.Join(libDir, "libonnxruntime.so.1")); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run()
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q (%s)", code, errOut, runtime.GOARCH)
	}
	reps := parseLines(t, out)
	if len(reps) != 1 || reps[0].Tally["person"] != 1 || reps[0].Tally["horse"] != 1 {
		t.Errorf("output %s", out)
	}
}

func TestBenchStats(t *testing.T) {
	var runs []yolo.Timings
	for i := 1; i <= 10; i++ {
		d := time.Duration(i) * time.Millisecond
		runs = append(runs, yolo.Timings{Decode: d, Preprocess: 2 * d, Inference: 10 * d, Postprocess: d / 10, Total: 13 * d})
	}
	b := newBenchStats(runs)
	if b.Runs != 10 || b.MedianMs.Decode != 5.5 || b.MedianMs.Inference != 55 || b.P90Ms.Decode != 9 ||
		b.P90Ms.Total != 117 || b.MedianMs.Postprocess != 0.55 {
		t.Errorf("%+v", b)
	}
	b = newBenchStats(runs[:1])
	if b.MedianMs.Total != 13 || b.P90Ms.Total != 13 {
		t.Errorf("one run: %+v", b)
	}
}
