package yolo

import (
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/tally"
)

func TestCounted(t *testing.T) {
	res := &Result{Width: 100, Height: 100, Detections: []Detection{
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

func TestTimingStats(t *testing.T) {
	var runs []Timings
	for i := 1; i <= 4; i++ {
		runs = append(runs, Timings{Inference: time.Duration(i) * time.Millisecond, Total: time.Duration(i) * time.Millisecond})
	}
	med, p90 := TimingStats(runs)
	if med.Inference != 2500*time.Microsecond || p90.Total != 4*time.Millisecond {
		t.Errorf("median %v, p90 %v", med, p90)
	}
}
