package eval

import (
	"math/rand/v2"
	"slices"
)

// How far a count error measured on a few frames can be trusted, by resampling those frames.
// A user calibrating a camera on 20 frames, like the 128 photos of coco128, measures one
// figure; frames of the same scene on another day give another. The bootstrap interval says how
// far apart those figures lie; cross-validation says whether thresholds tuned on the frames
// (eval's best threshold, --suggest) still count better on frames they were not tuned on.
// Both use a fixed seed: the same frames always give the same figures.
const (
	// bootstrapResamples: resamples of the frames (with replacement) for the interval.
	bootstrapResamples = 1000
	// cvSplits: random halvings of the frames for the cross-validation.
	cvSplits = 100
	// cvMinFrames: fewer frames than this are too few to halve meaningfully.
	cvMinFrames = 8
)

// frameFigures is one label's figures on one frame in one scope.
type frameFigures struct {
	truth int32 // labelled objects
	abs   int32 // |counted - truth| at the label's minScore
	// sweep is |counted - truth| at each threshold of the sweep grid.
	sweep [sweepSteps]uint16
}

// CrossValidation estimates the count error on frames the figures were not measured on: the
// frames are halved at random cvSplits times; thresholds are tuned on one half (as eval's best
// threshold and --suggest tune them) and the count error is measured on the other half.
type CrossValidation struct {
	Splits int `json:"splits"`
	// Current is the count error of the rules as they are (nothing tuned).
	Current float64 `json:"current"`
	// SingleThreshold: one scoreThreshold for every label, tuned on the other half.
	SingleThreshold float64 `json:"singleThreshold"`
	// PerLabel: each label's minScore tuned on the other half (what --suggest prints).
	PerLabel float64 `json:"perLabel"`
}

// sumFrames adds the labels' figures frame by frame: the figures of all labels together.
func sumFrames(accs map[string]*acc, labels []string, frames int) []frameFigures {
	out := make([]frameFigures, frames)
	for _, l := range labels {
		for i, f := range accs[l].frames {
			o := &out[i]
			o.truth += f.truth
			o.abs += f.abs
			for k, v := range f.sweep {
				o.sweep[k] = uint16(min(int(o.sweep[k])+int(v), 1<<16-1))
			}
		}
	}
	return out
}

// bootstrapInterval is the 2.5th and 97.5th percentiles of the count error over resamples of
// the frames drawn with replacement; nil with fewer than two frames or nothing labelled.
// Resamples that draw no labelled object are left out.
func bootstrapInterval(frames []frameFigures) *[2]float64 {
	if len(frames) < 2 {
		return nil
	}
	rng := rand.New(rand.NewPCG(1, 2))
	errs := make([]float64, 0, bootstrapResamples)
	for range bootstrapResamples {
		var abs, truth int64
		for range frames {
			f := &frames[rng.IntN(len(frames))]
			abs += int64(f.abs)
			truth += int64(f.truth)
		}
		if truth > 0 {
			errs = append(errs, float64(abs)/float64(truth))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	slices.Sort(errs)
	at := func(q float64) float64 { return errs[min(len(errs)-1, int(q*float64(len(errs))))] }
	return &[2]float64{at(0.025), at(0.975)}
}

// crossValidate estimates the count error on new frames for the labels of one scope (see
// CrossValidation); nil with fewer than cvMinFrames frames or when no split leaves labelled
// objects on both halves.
func crossValidate(accs map[string]*acc, labels []string, frames int, floor float64) *CrossValidation {
	if frames < cvMinFrames || len(labels) == 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(3, 4))
	perm := make([]int, frames)
	for i := range perm {
		perm[i] = i
	}
	var sweep [sweepSteps]int
	chosen := make([]int, len(labels)) // per-label threshold index
	var cur, single, perLabel float64
	splits := 0
	for range cvSplits {
		rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		tune, test := perm[:frames/2], perm[frames/2:]
		// Tune: one threshold for all labels, and one per label.
		sweep = [sweepSteps]int{}
		tuneTruth := 0
		for li, l := range labels {
			var own [sweepSteps]int
			for _, i := range tune {
				f := &accs[l].frames[i]
				tuneTruth += int(f.truth)
				for k, v := range f.sweep {
					own[k] += int(v)
				}
			}
			for k, v := range own {
				sweep[k] += v
			}
			chosen[li] = sweepIndex(best(own[:], floor))
		}
		all := sweepIndex(best(sweep[:], floor))
		// Measure on the other half.
		var truth, absCur, absSingle, absPer int
		for li, l := range labels {
			for _, i := range test {
				f := &accs[l].frames[i]
				truth += int(f.truth)
				absCur += int(f.abs)
				absSingle += int(f.sweep[all])
				absPer += int(f.sweep[chosen[li]])
			}
		}
		if truth == 0 || tuneTruth == 0 {
			continue
		}
		splits++
		cur += float64(absCur) / float64(truth)
		single += float64(absSingle) / float64(truth)
		perLabel += float64(absPer) / float64(truth)
	}
	if splits == 0 {
		return nil
	}
	n := float64(splits)
	return &CrossValidation{Splits: splits, Current: cur / n, SingleThreshold: single / n, PerLabel: perLabel / n}
}

// sweepIndex is the index in the sweep grid of the threshold best returned.
func sweepIndex(t float64, _ int) int { return int(t*100+0.5) - 1 }
