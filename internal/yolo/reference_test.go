package yolo

import (
	"math"
	"testing"
)

type refDet struct {
	label string
	score float32
	box   [4]float32
}

// reference holds ../shared/testdata/README.md's detections of yolov5n.onnx.
var reference = map[string][]refDet{
	"bus.jpg": {
		{"person", 0.823, [4]float32{219.3, 407.8, 349.4, 862.7}},
		{"person", 0.816, [4]float32{51.9, 398.7, 206.8, 895.4}},
		{"person", 0.676, [4]float32{680.6, 377.2, 810.0, 870.0}},
		{"bus", 0.526, [4]float32{48.8, 236.8, 810.0, 772.0}},
	},
	"zidane.jpg": {
		{"person", 0.790, [4]float32{742.4, 39.9, 1154.1, 716.1}},
		{"person", 0.368, [4]float32{135.7, 180.7, 739.3, 720.0}},
		{"tie", 0.271, [4]float32{438.2, 434.3, 503.6, 711.4}},
	},
	"dog.jpg": {
		{"dog", 0.763, [4]float32{132.4, 215.1, 313.2, 546.0}},
		{"car", 0.705, [4]float32{468.3, 79.5, 689.7, 168.9}},
		{"bicycle", 0.485, [4]float32{208.1, 135.1, 575.3, 435.3}},
		{"bicycle", 0.339, [4]float32{139.6, 142.5, 259.1, 215.5}},
	},
	"eagle.jpg": {
		{"bird", 0.694, [4]float32{130.5, 65.9, 602.3, 446.6}},
	},
	"giraffe.jpg": {
		{"giraffe", 0.568, [4]float32{170.0, 7.0, 449.4, 439.0}},
		{"zebra", 0.537, [4]float32{298.1, 206.8, 426.4, 449.5}},
	},
	"horses.jpg": {
		{"horse", 0.888, [4]float32{436.4, 213.2, 598.8, 346.2}},
		{"horse", 0.661, [4]float32{0.0, 191.1, 304.3, 411.7}},
		{"horse", 0.604, [4]float32{254.3, 200.4, 438.1, 366.9}},
		{"horse", 0.573, [4]float32{0.0, 186.6, 151.9, 281.6}},
	},
	"person.jpg": {
		{"person", 0.922, [4]float32{191.0, 99.7, 275.0, 372.7}},
		{"dog", 0.846, [4]float32{62.5, 264.0, 202.4, 350.5}},
		{"horse", 0.796, [4]float32{403.4, 136.8, 603.6, 346.5}},
	},
	"kite.jpg": {
		{"kite", 0.839, [4]float32{592.7, 78.5, 673.8, 152.5}},
		{"person", 0.833, [4]float32{214.5, 692.3, 271.7, 855.6}},
		{"kite", 0.781, [4]float32{276.6, 233.8, 307.3, 284.8}},
		{"person", 0.756, [4]float32{112.6, 609.3, 166.3, 769.3}},
		{"person", 0.741, [4]float32{80.6, 508.5, 103.7, 567.6}},
		{"person", 0.567, [4]float32{515.1, 496.7, 541.8, 533.7}},
		{"person", 0.558, [4]float32{1082.8, 391.3, 1100.8, 422.9}},
		{"person", 0.528, [4]float32{176.9, 538.9, 193.4, 572.7}},
		{"kite", 0.527, [4]float32{470.3, 339.7, 484.4, 358.5}},
		{"kite", 0.523, [4]float32{578.2, 345.0, 600.7, 366.3}},
		{"person", 0.502, [4]float32{31.1, 509.5, 54.1, 554.4}},
		{"person", 0.323, [4]float32{346.2, 482.6, 357.0, 502.8}},
		{"kite", 0.308, [4]float32{305.1, 372.4, 326.4, 396.8}},
	},
}

var referenceSizes = map[string][2]int{
	"bus.jpg": {810, 1080}, "zidane.jpg": {1280, 720}, "dog.jpg": {768, 576}, "eagle.jpg": {773, 512},
	"giraffe.jpg": {500, 500}, "horses.jpg": {773, 512}, "kite.jpg": {1352, 900}, "person.jpg": {640, 424},
}

// matchReference checks got against want: the same labels and counts, each reference detection
// matched by a distinct detection of its label with score within 0.01 and corners within 2 px.
func matchReference(t *testing.T, got []Detection, want []refDet) {
	t.Helper()
	matchWithin(t, got, want, 0.01, 2)
}

// matchWithin is matchReference with the given score and box tolerances.
func matchWithin(t *testing.T, got []Detection, want []refDet, scoreTol, boxTol float64) {
	t.Helper()
	counts := map[string]int{}
	for _, d := range got {
		counts[d.Label]++
	}
	for _, w := range want {
		counts[w.label]--
	}
	for label, n := range counts {
		if n != 0 {
			t.Errorf("%s: count differs from the reference by %+d", label, n)
		}
	}
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for i, g := range got {
			if used[i] || g.Label != w.label || math.Abs(float64(g.Score-w.score)) > scoreTol {
				continue
			}
			ok := true
			for k := range 4 {
				if math.Abs(float64(g.Box[k]-w.box[k])) > boxTol {
					ok = false
				}
			}
			if ok {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("missing %s %.3f %v", w.label, w.score, w.box)
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i].Score > got[i-1].Score {
			t.Errorf("detections not sorted by score: %v after %v", got[i].Score, got[i-1].Score)
		}
	}
	if t.Failed() {
		for _, g := range got {
			t.Logf("got %s %.3f [%.1f %.1f %.1f %.1f]", g.Label, g.Score, g.Box[0], g.Box[1], g.Box[2], g.Box[3])
		}
	}
}

func TestReferencePhotos(t *testing.T) {
	d := sharedDetector(t)
	var res Result
	for name, want := range reference {
		t.Run(name, func(t *testing.T) {
			if err := d.DetectEncoded(readImage(t, name), &res); err != nil {
				t.Fatal(err)
			}
			if size := referenceSizes[name]; res.Width != size[0] || res.Height != size[1] {
				t.Errorf("size %dx%d, want %dx%d", res.Width, res.Height, size[0], size[1])
			}
			matchReference(t, res.Detections, want)
		})
	}
}
