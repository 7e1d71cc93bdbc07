package markup

import (
	"os"
	"testing"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/imagecodec"
	"github.com/edgecam/edgecam/internal/tally"
	"github.com/edgecam/edgecam/internal/testfixture"
	"github.com/edgecam/edgecam/internal/testfixture/mats"
	"github.com/edgecam/edgecam/internal/yolo"
)

func decodeBus(t testing.TB) gocv.Mat {
	t.Helper()
	data, err := os.ReadFile(testfixture.Photo(t, "bus.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := imagecodec.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestCounted(t *testing.T) {
	res := &yolo.Result{Width: 100, Height: 100, Detections: []yolo.Detection{
		{Label: "person", Score: 0.9, Box: [4]float32{10, 10, 20, 20}},
		{Label: "car", Score: 0.4, Box: [4]float32{30, 30, 40, 40}},
	}}
	preds := Predictions(nil, res)
	if got := Counted(nil, res.Detections, preds, nil); len(got) != 2 {
		t.Errorf("no rules: %v", got)
	}
	rules := &tally.Rules{Threshold: 0.5}
	got := Counted(nil, res.Detections, preds, rules)
	if len(got) != 1 || got[0].Label != "person" {
		t.Errorf("threshold 0.5: %v", got)
	}
}

// Boxes draws a box's outline and label where the detection is, and nothing in its middle.
func TestBoxes(t *testing.T) {
	img := decodeBus(t)
	defer img.Close()
	before := img.Clone()
	defer before.Close()
	Boxes(&img, []yolo.Detection{{ClassID: 5, Label: "bus", Score: 0.9, Box: [4]float32{100, 200, 700, 800}}})
	Boxes(&img, []yolo.Detection{{ClassID: 3, Label: "edge", Score: 1, Box: [4]float32{0, 0, 10, 10}}})
	if mats.Changed(img, before, 0) < 1000 {
		t.Error("Boxes drew (almost) nothing")
	}
	if !pixelChanged(img, before, 100, 500) || pixelChanged(img, before, 400, 500) {
		t.Error("box outline not where the detection is")
	}
}

func pixelChanged(a, b gocv.Mat, x, y int) bool {
	for c := range 3 {
		if a.GetUCharAt(y, x*3+c) != b.GetUCharAt(y, x*3+c) {
			return true
		}
	}
	return false
}
