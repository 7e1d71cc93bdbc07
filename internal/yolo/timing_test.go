package yolo

import (
	"testing"
	"time"
)

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
