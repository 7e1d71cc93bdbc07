package eval

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/edgecam/edgecam/internal/tally"
)

// sceneSet makes n frames of one camera: frame i holds i%4 people, and the model finds each at
// score 0.8, plus, on every third frame, a false person at 0.3. Counting at 0.5 is exact; at
// 0.25 every third frame counts one too many.
func sceneSet(n int) (*Set, [][]tally.Prediction) {
	set := &Set{}
	var preds [][]tally.Prediction
	for i := range n {
		im := Image{Path: fmt.Sprintf("f%d.jpg", i)}
		var ps []tally.Prediction
		for k := range i % 4 {
			b := [4]float64{0.1 + 0.2*float64(k), 0.1, 0.2 + 0.2*float64(k), 0.5}
			im.Boxes = append(im.Boxes, Box{"person", b})
			ps = append(ps, tally.Prediction{Label: "person", Score: 0.8, Box: b})
		}
		if i%3 == 0 {
			ps = append(ps, tally.Prediction{Label: "person", Score: 0.3, Box: [4]float64{0.1, 0.6, 0.2, 0.9}})
		}
		set.Images = append(set.Images, im)
		preds = append(preds, ps)
	}
	return set, preds
}

func TestIntervalAndNewFrames(t *testing.T) {
	set, preds := sceneSet(40)
	exact := Evaluate(set, preds, tally.Rules{Threshold: 0.5}, Options{Labels: []string{"person"}, Floor: 0.1})
	p := exact.Frame.Labels[0]
	// Every frame is counted right: no resample can say otherwise.
	if p.CountErrorInterval == nil || *p.CountErrorInterval != [2]float64{0, 0} {
		t.Errorf("exact counting: interval %v", p.CountErrorInterval)
	}
	cv := exact.OnNewFrames
	if cv == nil || cv.Splits != cvSplits || cv.Current != 0 || cv.SingleThreshold != 0 || cv.PerLabel != 0 {
		t.Errorf("exact counting on new frames: %+v", cv)
	}

	loose := Evaluate(set, preds, tally.Rules{Threshold: 0.25}, Options{Labels: []string{"person"}, Floor: 0.1})
	p = loose.Frame.Labels[0]
	iv := p.CountErrorInterval
	if iv == nil || !(iv[0] < *p.CountError && *p.CountError < iv[1]) || iv[0] < 0 {
		t.Errorf("count error %v outside its interval %v", *p.CountError, iv)
	}
	// The same frames give the same interval (a fixed seed).
	if again := Evaluate(set, preds, tally.Rules{Threshold: 0.25}, Options{Labels: []string{"person"}, Floor: 0.1}); *again.Frame.Labels[0].CountErrorInterval != *iv {
		t.Errorf("interval %v, then %v", *iv, *again.Frame.Labels[0].CountErrorInterval)
	}
	// Tuned on half the frames, the threshold lands between 0.3 and 0.8 and counts the other
	// half exactly; as configured (0.25) the other half keeps its false people.
	cv = loose.OnNewFrames
	if cv == nil || cv.SingleThreshold != 0 || cv.PerLabel != 0 || math.Abs(cv.Current-*p.CountError) > 0.1 {
		t.Errorf("on new frames: %+v (count error %v)", cv, *p.CountError)
	}
	var text bytes.Buffer
	loose.WriteText(&text)
	if !strings.Contains(text.String(), fmt.Sprintf("as configured %.2f; one threshold tuned 0.00; per-label thresholds tuned (--suggest) 0.00", cv.Current)) {
		t.Errorf("text:\n%s", text.String())
	}
}

// TestSuggestWarnsWhenTuningDoesNotCarry: false people on a few frames only, each at its own
// score, so a threshold tuned on some frames misses the next ones; --suggest says so.
func TestSuggestWarnsWhenTuningDoesNotCarry(t *testing.T) {
	set, preds := sceneSet(16)
	for i := range preds {
		// A real person the model scores low on each frame, at scores that differ frame to frame.
		b := [4]float64{0.8, 0.1, 0.9, 0.5}
		set.Images[i].Boxes = append(set.Images[i].Boxes, Box{"person", b})
		preds[i] = append(preds[i], tally.Prediction{Label: "person", Score: 0.2 + 0.04*float64(i), Box: b})
		// And a false one, also at a varying score.
		preds[i] = append(preds[i], tally.Prediction{Label: "person", Score: 0.82 - 0.04*float64(i), Box: [4]float64{0.5, 0.6, 0.6, 0.9}})
	}
	rules := tally.Rules{Threshold: 0.5}
	r := Evaluate(set, preds, rules, Options{Labels: []string{"person"}, Floor: 0.1})
	if r.OnNewFrames == nil || r.OnNewFrames.PerLabel < r.OnNewFrames.Current {
		t.Fatalf("on new frames: %+v", r.OnNewFrames)
	}
	var out bytes.Buffer
	if err := r.Suggest(&out, rules, "cam"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "not expected to count better on new ones") {
		t.Errorf("suggest:\n%s", out.String())
	}
}

func TestTooFewFramesForNewFrames(t *testing.T) {
	set, preds := sceneSet(cvMinFrames - 1)
	r := Evaluate(set, preds, tally.Rules{Threshold: 0.5}, Options{Labels: []string{"person"}, Floor: 0.1})
	if r.OnNewFrames != nil {
		t.Errorf("%d frames: %+v", cvMinFrames-1, r.OnNewFrames)
	}
	one := Evaluate(&Set{Images: set.Images[1:2]}, preds[1:2], tally.Rules{Threshold: 0.5}, Options{Labels: []string{"person"}, Floor: 0.1})
	if one.Frame.Labels[0].CountErrorInterval != nil {
		t.Errorf("one frame: interval %v", one.Frame.Labels[0].CountErrorInterval)
	}
}
