// Package eval measures how well a camera's configuration counts: it compares the tallies a
// camera's rules (score threshold, per-label filters, masks, zones) make of labelled frames with
// the labels, and finds the score threshold that would count each label best.
//
// The package is pure Go: it takes the detector's predictions for each frame (all of them down
// to a low score floor, after the detector's own NMS) and does the counting with package tally,
// the code the daemon counts with. Thresholds are swept over those predictions without running
// the model again; that is exact because the detector's NMS is greedy by score and per class, so
// a box scoring below a threshold t never suppresses one scoring t or more: the boxes at or above
// t after NMS at a low floor are the boxes a detector with its floor at t would keep.
//
// Counts are compared per frame: the count error of a label is sum |counted - true| / sum true
// over the frames (a frame that counts one car too many and another that misses one make an
// error of 2, not 0). Precision and recall match counted boxes to labelled ones (IoU >= 0.5,
// greedily by score). Labelled objects anchored in a mask are not expected to be counted; in a
// zone, the labelled objects anchored in it are its truth. Labels outlined as a crowd on a frame
// (COCO iscrowd) are left out of that frame's comparison.
package eval

import (
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/edgecam/edgecam/internal/box"
	"github.com/edgecam/edgecam/internal/tally"
)

// DefaultIoU is the overlap at which a counted box matches a labelled one.
const DefaultIoU = 0.5

// Options tune Evaluate.
type Options struct {
	// Labels are the labels reported (canonical names). Empty: the rules' labels of interest,
	// minimum labels and filtered labels, or when they name none, every label labelled or counted.
	Labels []string
	// Floor is the detector's own score floor in the daemon: predictions scoring at or below it
	// are never seen, whatever the rules say, and thresholds below it are not swept.
	Floor float64
	// IoU for precision and recall (DefaultIoU when 0).
	IoU float64
}

// Result is one label's figures in one scope (the frame, or a zone).
type Result struct {
	Label   string `json:"label"`
	True    int    `json:"true"`
	Counted int    `json:"counted"`
	// CountError is sum |counted - true| / sum true over the frames; nil when nothing is labelled.
	CountError *float64 `json:"countError"`
	// CountErrorInterval is the 95 % interval of CountError over frames like these (a
	// bootstrap over the frames): how much the figure itself can be trusted. Nil with fewer
	// than two frames or nothing labelled.
	CountErrorInterval *[2]float64 `json:"countErrorInterval,omitempty"`
	// AbsError is sum |counted - true| over the frames.
	AbsError  int      `json:"absError"`
	Matched   int      `json:"matched"`
	Precision *float64 `json:"precision"`
	Recall    *float64 `json:"recall"`
	// MinScore is the score threshold in force for the label (its filter's minScore, else the
	// scoreThreshold).
	MinScore float64 `json:"minScore"`
	// BestThreshold minimises the count error (the middle of the widest range that does), with
	// BestCountError; nil when nothing is labelled.
	BestThreshold  *float64 `json:"bestThreshold"`
	BestCountError *float64 `json:"bestCountError"`
	// CrowdFrames is how many frames were left out for this label (a crowd region of it).
	CrowdFrames int `json:"crowdFrames,omitempty"`
	// Sweep is the count error at each threshold 0.01, 0.02, ... 0.99 (nil entries at and below
	// the floor, where the daemon sees nothing), for plotting; nil when nothing is labelled.
	Sweep []*float64 `json:"sweep,omitempty"`
}

// Scope is the frame's or one zone's results.
type Scope struct {
	Zone   string   `json:"zone,omitempty"`
	Labels []Result `json:"labels"`
	// All sums the labels: its BestThreshold is the best single threshold for all of them.
	All Result `json:"all"`
}

// Report is the outcome of Evaluate.
type Report struct {
	Frames int   `json:"frames"`
	Frame  Scope `json:"frame"`
	// Zones are the camera's zones, in order.
	Zones []Scope `json:"zones,omitempty"`
	// Sent is how many frames' tallies the daemon would send (a label of interest counted);
	// Missed is how many frames with a labelled object of interest it would not send, Spurious
	// how many it would send with none labelled. Set only when the rules have labels of interest.
	Sent     *int `json:"sent,omitempty"`
	Missed   *int `json:"missed,omitempty"`
	Spurious *int `json:"spurious,omitempty"`
	// Floor is Options.Floor.
	Floor float64 `json:"floor"`
	// OnNewFrames estimates the count error on frames not among these, with the rules as they
	// are and with thresholds tuned on frames (cross-validation); nil with too few frames.
	OnNewFrames *CrossValidation `json:"onNewFrames,omitempty"`
}

// sweep is the threshold grid: 0.01 .. 0.99.
const sweepSteps = 99

func sweepT(k int) float64 { return float64(k+1) / 100 }

// tally of one label in one scope, built frame by frame.
type acc struct {
	label    string
	minScore float64
	truth    int
	counted  int
	abs      int
	matched  int
	crowd    int
	sweepAbs [sweepSteps]int
	// frames holds the figures of every frame, in order (zero on a crowd frame): for the
	// interval of the count error and the estimate on new frames (resample.go).
	frames []frameFigures
}

// Evaluate compares the rules' counts of preds (preds[i] are the predictions of set.Images[i],
// every one above the detector's floor, boxes in fractions of the frame) with the labels.
func Evaluate(set *Set, preds [][]tally.Prediction, rules tally.Rules, opts Options) *Report {
	if opts.IoU == 0 {
		opts.IoU = DefaultIoU
	}
	labels := reportLabels(set, preds, rules, opts.Labels)
	geom := geometryOnly(rules)
	r := &Report{Frames: len(set.Images), Floor: opts.Floor}

	scopes := make([]map[string]*acc, 1+len(rules.Zones))
	order := make([][]string, len(scopes))
	for s := range scopes {
		scopes[s] = map[string]*acc{}
		ls := labels
		if s > 0 && len(rules.Zones[s-1].Labels) > 0 {
			ls = canonicalIn(rules.Zones[s-1].Labels, labels)
		}
		order[s] = ls
		for _, l := range ls {
			scopes[s][l] = &acc{label: l, minScore: minScore(rules, l)}
		}
	}
	// allSweep sums the labels' sweeps: one threshold for every label.
	allSweep := make([][sweepSteps]int, len(scopes))

	var sent, missed, spurious int
	var counter tally.Counter
	body := map[string]int{}
	var kept []tally.Prediction
	for i := range set.Images {
		im := &set.Images[i]
		var ps []tally.Prediction
		if i < len(preds) {
			ps = preds[i]
		}
		// What the daemon sees: predictions above its floor.
		visible := ps[:0:0]
		for _, p := range ps {
			if p.Score > opts.Floor {
				visible = append(visible, p)
			}
		}
		if len(rules.Interest) > 0 {
			send := counter.TallyInto(rules, body, visible)
			labelled := false
			for _, b := range im.Boxes {
				if hasLabel(rules.Interest, b.Label) && !masked(rules, b) && !hasLabel(im.Crowd, b.Label) {
					labelled = true
				}
			}
			switch {
			case send:
				sent++
				if !labelled {
					spurious++
				}
			case labelled:
				missed++
			}
		}
		for s, accs := range scopes {
			var z *tally.Zone
			if s > 0 {
				z = &rules.Zones[s-1]
			}
			for _, l := range order[s] {
				a := accs[l]
				a.frames = append(a.frames, frameFigures{})
				ff := &a.frames[len(a.frames)-1]
				if hasLabel(im.Crowd, l) {
					a.crowd++
					continue
				}
				var truth []Box
				for _, b := range im.Boxes {
					if sameLabel(b.Label, l) && !masked(rules, b) && (z == nil || z.Holds(tally.Prediction{Label: l, Box: b.Box})) {
						truth = append(truth, b)
					}
				}
				// The predictions of l that pass everything but the score, best first.
				kept = kept[:0]
				for _, p := range visible {
					if sameLabel(p.Label, l) && geom.Keep(p) && (z == nil || z.Holds(p)) {
						kept = append(kept, p)
					}
				}
				sort.SliceStable(kept, func(x, y int) bool { return kept[x].Score > kept[y].Score })
				n := 0
				for n < len(kept) && kept[n].Score >= a.minScore {
					n++
				}
				a.truth += len(truth)
				a.counted += n
				a.abs += absInt(n - len(truth))
				ff.truth, ff.abs = int32(len(truth)), int32(absInt(n-len(truth)))
				a.matched += match(kept[:n], truth, opts.IoU)
				// Sweep: counted at t is the number of kept scores >= t.
				c := len(kept)
				for k := 0; k < sweepSteps; k++ {
					t := sweepT(k)
					for c > 0 && kept[c-1].Score < t {
						c--
					}
					d := absInt(c - len(truth))
					ff.sweep[k] = uint16(min(d, math.MaxUint16))
					a.sweepAbs[k] += d
					allSweep[s][k] += d
				}
			}
		}
	}
	if len(rules.Interest) > 0 {
		r.Sent, r.Missed, r.Spurious = &sent, &missed, &spurious
	}
	for s := range scopes {
		sc := Scope{}
		if s > 0 {
			sc.Zone = rules.Zones[s-1].Name
		}
		all := acc{label: "all", minScore: math.NaN()}
		for _, l := range order[s] {
			a := scopes[s][l]
			sc.Labels = append(sc.Labels, a.result(opts.Floor))
			all.truth += a.truth
			all.counted += a.counted
			all.abs += a.abs
			all.matched += a.matched
		}
		all.sweepAbs = allSweep[s]
		all.frames = sumFrames(scopes[s], order[s], len(set.Images))
		sc.All = all.result(opts.Floor)
		sc.All.MinScore = rules.Threshold
		if s == 0 {
			r.OnNewFrames = crossValidate(scopes[0], order[0], len(set.Images), opts.Floor)
			r.Frame = sc
		} else {
			r.Zones = append(r.Zones, sc)
		}
	}
	return r
}

func (a *acc) result(floor float64) Result {
	res := Result{Label: a.label, True: a.truth, Counted: a.counted, AbsError: a.abs, Matched: a.matched, MinScore: a.minScore, CrowdFrames: a.crowd}
	if a.counted > 0 {
		res.Precision = ptr(float64(a.matched) / float64(a.counted))
	}
	if a.truth > 0 {
		res.Recall = ptr(float64(a.matched) / float64(a.truth))
		res.CountError = ptr(float64(a.abs) / float64(a.truth))
		res.CountErrorInterval = bootstrapInterval(a.frames)
		t, e := best(a.sweepAbs[:], floor)
		res.BestThreshold, res.BestCountError = ptr(t), ptr(float64(e)/float64(a.truth))
		res.Sweep = make([]*float64, sweepSteps)
		for k, v := range a.sweepAbs {
			if sweepT(k) > floor+1e-9 {
				res.Sweep[k] = ptr(math.Round(float64(v)/float64(a.truth)*1e4) / 1e4)
			}
		}
	}
	return res
}

// best returns the threshold of the sweep with the least error, above floor: the middle of the
// widest run of thresholds that reach it (a threshold in the middle of a plateau is the least
// sensitive to a new scene), and the error.
func best(errs []int, floor float64) (float64, int) {
	lo := 0
	for lo < len(errs) && sweepT(lo) <= floor+1e-9 {
		lo++
	}
	if lo == len(errs) {
		return sweepT(len(errs) - 1), errs[len(errs)-1]
	}
	minErr := slices.Min(errs[lo:])
	bestStart, bestLen := -1, 0
	for k := lo; k < len(errs); {
		if errs[k] != minErr {
			k++
			continue
		}
		j := k
		for j < len(errs) && errs[j] == minErr {
			j++
		}
		if j-k > bestLen {
			bestStart, bestLen = k, j-k
		}
		k = j
	}
	return sweepT(bestStart + (bestLen-1)/2), minErr
}

// match counts the predictions (best first) that match a distinct labelled box with IoU >= iou,
// each taking the unmatched box it overlaps most.
func match(preds []tally.Prediction, truth []Box, iou float64) int {
	used := make([]bool, len(truth))
	n := 0
	for _, p := range preds {
		bi, bv := -1, iou
		for j, b := range truth {
			if used[j] {
				continue
			}
			if v := box.IoU(p.Box, b.Box); v >= bv {
				bi, bv = j, v
			}
		}
		if bi >= 0 {
			used[bi] = true
			n++
		}
	}
	return n
}

// geometryOnly returns rules that keep a prediction whatever its score: area filters and masks
// only.
func geometryOnly(r tally.Rules) tally.Rules {
	g := r
	g.Threshold = 0
	g.Filters = make(map[string]tally.Filter, len(r.Filters))
	for l, f := range r.Filters {
		f.MinScore = 0
		g.Filters[l] = f
	}
	return g
}

// minScore is the threshold the rules apply to label.
func minScore(r tally.Rules, label string) float64 {
	for l, f := range r.Filters {
		if sameLabel(l, label) && f.MinScore > 0 {
			return f.MinScore
		}
	}
	return r.Threshold
}

func masked(r tally.Rules, b Box) bool {
	for _, m := range r.Masks {
		if m.Polygon.Contains(m.Anchor.Of(b.Box)) {
			return true
		}
	}
	return false
}

// reportLabels picks the labels to report (see Options.Labels), in order.
func reportLabels(set *Set, preds [][]tally.Prediction, r tally.Rules, want []string) []string {
	var out []string
	add := func(l string) {
		if !hasLabel(out, l) {
			out = append(out, l)
		}
	}
	if len(want) > 0 {
		for _, l := range want {
			add(l)
		}
		return out
	}
	for _, l := range r.Interest {
		add(l)
	}
	for _, l := range r.Minimum {
		add(l)
	}
	fl := make([]string, 0, len(r.Filters))
	for l := range r.Filters {
		fl = append(fl, l)
	}
	sort.Strings(fl)
	for _, l := range fl {
		add(l)
	}
	for _, z := range r.Zones {
		for _, l := range z.Labels {
			add(l)
		}
	}
	if len(out) > 0 {
		return out
	}
	// Every label labelled or counted, most labelled first.
	n := map[string]int{}
	for _, im := range set.Images {
		for _, b := range im.Boxes {
			n[b.Label]++
		}
	}
	for _, ps := range preds {
		for _, p := range ps {
			if r.Keep(p) {
				if _, ok := n[p.Label]; !ok {
					n[p.Label] = 0
				}
			}
		}
	}
	for l := range n {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool {
		if n[out[i]] != n[out[j]] {
			return n[out[i]] > n[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}

// canonicalIn returns the labels of zl spelt as in labels when they are there.
func canonicalIn(zl, labels []string) []string {
	out := make([]string, 0, len(zl))
	for _, z := range zl {
		name := z
		for _, l := range labels {
			if sameLabel(l, z) {
				name = l
			}
		}
		out = append(out, name)
	}
	return out
}

func hasLabel(list []string, l string) bool {
	for _, x := range list {
		if sameLabel(x, l) {
			return true
		}
	}
	return false
}

// sameLabel compares labels as package tally does: case-insensitively, ' ' and '_' equal.
func sameLabel(a, b string) bool {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "_", " ") }
	return a == b || norm(a) == norm(b)
}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func ptr(v float64) *float64 { return &v }
