package tile

import (
	"bufio"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/box"
	"github.com/edgecam/edgecam/internal/imagecodec"
	"github.com/edgecam/edgecam/internal/testfixture"
	"github.com/edgecam/edgecam/internal/testfixture/dettest"
	"github.com/edgecam/edgecam/internal/yolo"
)

// The far-away frames of issue 22: coco128's photos tiled 4 x 4 into one 2560x1920 frame (each
// photo stretched into a 640x480 cell), as a wide camera sees a car park; truth is the photos'
// labels scaled into their cells.
const (
	cellW, cellH   = 640, 480
	gridN          = 4
	compW, compH   = cellW * gridN, cellH * gridN
	photosPerFrame = gridN * gridN
)

// countedLabels are the labels the count error is measured on.
var countedLabels = []string{"person", "bicycle", "car", "motorcycle", "bus", "truck"}

func counted(label string) bool {
	for _, l := range countedLabels {
		if l == label {
			return true
		}
	}
	return false
}

// truthPhoto is one line of coco128/truth.jsonl.
type truthPhoto struct {
	File     string           `json:"file"`
	Width    int              `json:"width"`
	Height   int              `json:"height"`
	RawBoxes []map[string]any `json:"boxes"`
	Crowd    []map[string]any `json:"crowd"`
}

// truthBox is a labelled box in composite pixels.
type truthBox struct {
	label string
	cell  int
	box   [4]float32
}

// composite is one far-away frame: its pixels, its truth and the (cell, label) pairs a COCO
// crowd region makes uncountable.
type composite struct {
	img   gocv.Mat
	truth []truthBox
	crowd map[string]bool // "<cell>/<label>"
	files []string
}

func coco128(t testing.TB) (dir string, photos []truthPhoto) {
	t.Helper()
	dir = filepath.Join(testfixture.SharedDir(t), "testdata", "coco128")
	f, err := os.Open(filepath.Join(dir, "truth.jsonl"))
	if err != nil {
		t.Fatalf("test fixture: %v (set EDGECAM_SHARED to the shared folder)", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var p truthPhoto
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		photos = append(photos, p)
	}
	sort.Slice(photos, func(i, j int) bool { return photos[i].File < photos[j].File })
	return dir, photos
}

func num(v any) float32 { f, _ := v.(float64); return float32(f) }

// buildComposite tiles photos (at most 16) into one 2560x1920 BGR frame.
func buildComposite(t testing.TB, dir string, photos []truthPhoto) composite {
	t.Helper()
	c := composite{img: gocv.NewMatWithSize(compH, compW, gocv.MatTypeCV8UC3), crowd: map[string]bool{}}
	c.img.SetTo(gocv.NewScalar(114, 114, 114, 0))
	for i, p := range photos {
		data, err := os.ReadFile(filepath.Join(dir, p.File))
		if err != nil {
			t.Fatal(err)
		}
		src, err := imagecodec.Decode(data)
		if err != nil {
			t.Fatalf("%s: %v", p.File, err)
		}
		x0, y0 := (i%gridN)*cellW, (i/gridN)*cellH
		cell := c.img.Region(image.Rect(x0, y0, x0+cellW, y0+cellH))
		gocv.Resize(src, &cell, image.Pt(cellW, cellH), 0, 0, gocv.InterpolationArea)
		sx, sy := float32(cellW)/float32(src.Cols()), float32(cellH)/float32(src.Rows())
		cell.Close()
		src.Close()
		c.files = append(c.files, p.File)
		for _, b := range p.RawBoxes {
			l, _ := b["label"].(string)
			if !counted(l) {
				continue
			}
			c.truth = append(c.truth, truthBox{label: l, cell: i, box: [4]float32{
				float32(x0) + num(b["x1"])*sx, float32(y0) + num(b["y1"])*sy,
				float32(x0) + num(b["x2"])*sx, float32(y0) + num(b["y2"])*sy}})
		}
		for _, b := range p.Crowd {
			if l, _ := b["label"].(string); counted(l) {
				c.crowd[fmt.Sprintf("%d/%s", i, l)] = true
			}
		}
	}
	return c
}

// cellOf is the photo cell holding the centre of box.
func cellOf(b [4]float32) int {
	cx, cy := int((b[0]+b[2])/2)/cellW, int((b[1]+b[3])/2)/cellH
	return min(max(cy, 0), gridN-1)*gridN + min(max(cx, 0), gridN-1)
}

// score is what a composite's detections at threshold thr get right.
type score struct {
	absErr, truth int // sum over photos and labels of |counted - true|, and of true
	frameErr      int // sum over frames and labels of |counted - true| (what a camera's tally sees)
	counted       int // detections counted
	matched       int // truth boxes matched by a detection of their label at IoU >= 0.5
}

func (s *score) add(o score) {
	s.absErr += o.absErr
	s.truth += o.truth
	s.frameErr += o.frameErr
	s.counted += o.counted
	s.matched += o.matched
}

// frameError is the count error of the frames' tallies: errors of two photos in one frame may
// cancel, as they do in a camera's tally.
func (s score) frameError() float64 { return float64(s.frameErr) / math.Max(1, float64(s.truth)) }

func (s score) countError() float64 { return float64(s.absErr) / math.Max(1, float64(s.truth)) }
func (s score) recall() float64     { return float64(s.matched) / math.Max(1, float64(s.truth)) }

// evaluate counts dets at or above thr per photo cell and label against c's truth (skipping
// the labels a crowd region covers on that photo), and matches boxes at IoU 0.5.
func (c *composite) evaluate(dets []yolo.Detection, thr float32) score {
	type key struct {
		cell  int
		label string
	}
	got, want := map[key]int{}, map[key]int{}
	var kept []yolo.Detection
	for _, d := range dets {
		if d.Score >= thr && counted(d.Label) {
			got[key{cellOf(d.Box), d.Label}]++
			kept = append(kept, d)
		}
	}
	for _, tb := range c.truth {
		want[key{tb.cell, tb.label}]++
	}
	var s score
	seen := map[key]bool{}
	frame := map[string]int{} // counted - true per label over the frame's countable cells
	for _, m := range []map[key]int{got, want} {
		for k := range m {
			if seen[k] || c.crowd[fmt.Sprintf("%d/%s", k.cell, k.label)] {
				continue
			}
			seen[k] = true
			d := got[k] - want[k]
			frame[k.label] += d
			s.counted += got[k]
			if d < 0 {
				d = -d
			}
			s.absErr += d
			s.truth += want[k]
		}
	}
	for _, d := range frame {
		s.frameErr += max(d, -d)
	}
	// Greedy matching, highest score first (dets are sorted by score).
	used := make([]bool, len(kept))
	for _, tb := range c.truth {
		if c.crowd[fmt.Sprintf("%d/%s", tb.cell, tb.label)] {
			continue
		}
		for i, d := range kept {
			if !used[i] && d.Label == tb.label && box.IoU(d.Box, tb.box) >= 0.5 {
				used[i] = true
				s.matched++
				break
			}
		}
	}
	return s
}

// writeYOLO writes the composite as a YOLO-format frame (images/NAME.jpg, labels/NAME.txt with
// COCO class ids) under dir, for edgecam eval.
func (c *composite) writeYOLO(t testing.TB, dir, name string, names []string) {
	t.Helper()
	for _, sub := range []string{"images", "labels"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := imagecodec.WriteFile(filepath.Join(dir, "images", name+".png"), c.img); err != nil {
		t.Fatal(err)
	}
	id := map[string]int{}
	for i, n := range names {
		id[n] = i
	}
	var b strings.Builder
	for _, tb := range c.truth {
		x1, y1, x2, y2 := tb.box[0], tb.box[1], tb.box[2], tb.box[3]
		fmt.Fprintf(&b, "%d %.6f %.6f %.6f %.6f\n", id[tb.label], (x1+x2)/2/compW, (y1+y2)/2/compH, (x2-x1)/compW, (y2-y1)/compH)
	}
	if err := os.WriteFile(filepath.Join(dir, "labels", name+".txt"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

var model11 struct {
	once sync.Once
	det  *yolo.Detector
	err  error
}

// yolo11n is the model, ../shared/models/yolo11n.onnx, shared by the tests of the binary.
func yolo11n(t testing.TB) *yolo.Detector {
	t.Helper()
	testfixture.SkipIfEmulated(t, "yolo11n on 2560x1920 frames is minutes a frame emulated")
	dettest.InitRuntime(t)
	path := filepath.Join(testfixture.SharedDir(t), "models", "yolo11n.onnx")
	model11.once.Do(func() { model11.det, model11.err = yolo.New(yolo.Options{ModelPath: path}) })
	if model11.err != nil {
		t.Fatal(model11.err)
	}
	return model11.det
}
