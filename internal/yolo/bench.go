package yolo

import (
	"math"
	"slices"
	"time"
)

// BenchEncoded scores the encoded image data n more times, res having already been filled by a
// first run (the warm-up), and returns each run's timings; res keeps the first run's timings
// and the last run's detections. edgecam detect --bench reports them with TimingStats.
func (d *Detector) BenchEncoded(data []byte, n int, res *Result) ([]Timings, error) {
	first := res.Timings
	runs := make([]Timings, n)
	for i := range runs {
		if err := d.DetectEncoded(data, res); err != nil {
			return nil, err
		}
		runs[i] = res.Timings
	}
	res.Timings = first
	return runs, nil
}

// TimingStats returns the median and the 90th percentile (nearest rank) of each stage of runs,
// which must not be empty.
func TimingStats(runs []Timings) (median, p90 Timings) {
	stage := func(get func(Timings) time.Duration) (median, p90 time.Duration) {
		d := make([]time.Duration, len(runs))
		for i, r := range runs {
			d[i] = get(r)
		}
		slices.Sort(d)
		n := len(d)
		median = d[n/2]
		if n%2 == 0 {
			median = (d[n/2-1] + d[n/2]) / 2
		}
		return median, d[int(math.Ceil(0.9*float64(n)))-1]
	}
	median.Decode, p90.Decode = stage(func(t Timings) time.Duration { return t.Decode })
	median.Preprocess, p90.Preprocess = stage(func(t Timings) time.Duration { return t.Preprocess })
	median.Inference, p90.Inference = stage(func(t Timings) time.Duration { return t.Inference })
	median.Postprocess, p90.Postprocess = stage(func(t Timings) time.Duration { return t.Postprocess })
	median.Total, p90.Total = stage(func(t Timings) time.Duration { return t.Total })
	return median, p90
}
