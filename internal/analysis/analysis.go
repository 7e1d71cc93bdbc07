// Package analysis is continuous analysis of a camera's frames: motion detection first (package
// motion), the model only when something moves or a tracked object may still be in view (or
// every Refresh on a static scene), the tracker (package track) over the detections the camera's
// rules keep, and the counting lines (package crossing) over the tracks. The daemon runs it on
// an RTSP camera's frames; `edgecam detect --config FILE --camera ID CLIP` on a recorded clip.
package analysis

import (
	"time"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/crossing"
	"github.com/edgecam/edgecam/internal/markup"
	"github.com/edgecam/edgecam/internal/motion"
	"github.com/edgecam/edgecam/internal/tally"
	"github.com/edgecam/edgecam/internal/track"
	"github.com/edgecam/edgecam/internal/yolo"
	"github.com/edgecam/edgecam/internal/zone"
)

// Detector runs the model on a frame (yolo.Detector).
type Detector interface {
	Detect(img gocv.Mat, res *yolo.Result) error
}

// DefaultRefresh is how often the model runs on a scene where nothing moves and nothing is
// tracked, when Options.Refresh is 0: a parked car is still counted.
const DefaultRefresh = 5 * time.Minute

// Options configure an Analyzer.
type Options struct {
	// Rules are the camera's counting rules: their threshold, filters and masks decide which
	// detections are tracked (see Analyzer.Analyze), their masks also mask motion.
	Rules tally.Rules
	// Lines are the counting lines.
	Lines []crossing.Line
	// Refresh is how often the model runs when nothing moves (DefaultRefresh when 0); negative
	// runs it on every frame.
	Refresh  time.Duration
	Motion   motion.Options
	Track    track.Options
	Crossing crossing.Options
}

// Frame is what one analysed frame gave. Its slices are reused by the next Analyze.
type Frame struct {
	// At is the frame's time, as given to Analyze.
	At time.Time
	// Motion is the motion detector's result.
	Motion motion.Result
	// Inferred says the model ran on this frame; otherwise Result and Preds are those of the
	// last frame it ran on.
	Inferred bool
	// Result is the model's output (boxes in pixels) and Preds the same detections as tally
	// predictions (boxes in fractions), one per detection in order.
	Result *yolo.Result
	Preds  []tally.Prediction
	// Tracks are the tracks seen in this frame (none when the model did not run).
	Tracks []track.Track
	// Events are the crossings completed in this frame.
	Events []crossing.Event
}

// Analyzer analyses one camera's frames in order. It is not safe for concurrent use; Close
// releases it.
type Analyzer struct {
	o       Options
	det     Detector
	mot     *motion.Detector
	trk     *track.Tracker
	cnt     *crossing.Counter
	res     yolo.Result
	preds   []tally.Prediction
	dets    []track.Detection
	lastRun time.Time
	ran     bool
	still   int // analysed frames since the last one with motion
	frame   Frame
	buffer  int // frames the tracker keeps a lost track
	// thresholdFromRules: Options.Track.High was unset, so the tracker's High and NewTrack
	// follow Rules.Threshold (SetRules)
	thresholdFromRules bool
	// Inferences and Skipped count the frames the model ran on and those it did not.
	Inferences, Skipped int
}

// New returns an analyzer that runs det.
func New(det Detector, o Options) *Analyzer {
	if o.Refresh == 0 {
		o.Refresh = DefaultRefresh
	}
	masks := make([]zone.Polygon, len(o.Rules.Masks))
	for i, m := range o.Rules.Masks {
		masks[i] = m.Polygon
	}
	buffer := o.Track.Buffer
	if buffer <= 0 {
		buffer = 15 // track's default
	}
	fromRules := o.Track.High == 0
	if fromRules && o.Rules.Threshold > 0 {
		// A track starts from, and is held in the first pass by, a detection the camera counts.
		o.Track.High = o.Rules.Threshold
		o.Track.NewTrack = o.Rules.Threshold
	}
	return &Analyzer{
		buffer:             buffer,
		o:                  o,
		det:                det,
		mot:                motion.New(o.Motion, masks),
		trk:                track.New(o.Track),
		cnt:                crossing.New(o.Lines, o.Crossing),
		thresholdFromRules: fromRules,
	}
}

// SetRules replaces the camera's rules (filters and masks deciding what is tracked, e.g. after a
// change from the cloud) from the next frame. When the tracker's score thresholds come from the
// rules (Options.Track.High unset), a new Rules.Threshold becomes the score that starts a track
// and holds it in the first pass, the tracks kept; SetRules then reports true.
func (a *Analyzer) SetRules(r tally.Rules) (thresholdChanged bool) {
	a.o.Rules = r
	if !a.thresholdFromRules || r.Threshold <= 0 || r.Threshold == a.o.Track.High {
		return false
	}
	a.o.Track.High, a.o.Track.NewTrack = r.Threshold, r.Threshold
	a.trk.SetOptions(a.o.Track)
	return true
}

// Close releases the motion detector's memory.
func (a *Analyzer) Close() { a.mot.Close() }

// Lines returns the counting lines.
func (a *Analyzer) Lines() []crossing.Line { return a.o.Lines }

// Analyze analyses the next frame (8-bit BGR), taken at at. The model runs when the frame
// moved against the background (or most of it changed), while tracks are alive and the scene
// moved within the tracker's buffer of frames, and at least every Refresh; otherwise the last
// detections stand. The tracker gets every detection that the
// camera's filters and masks keep, whatever its score (low scores only continue a track, see
// package track).
func (a *Analyzer) Analyze(img gocv.Mat, at time.Time) (*Frame, error) {
	f := &a.frame
	f.At, f.Events, f.Tracks, f.Inferred = at, f.Events[:0], f.Tracks[:0], false
	f.Motion = a.mot.Detect(img)
	if f.Motion.Motion || f.Motion.Recalibrated {
		a.still = 0
	} else {
		a.still++
	}
	due := !a.ran || a.o.Refresh < 0 || at.Sub(a.lastRun) >= a.o.Refresh
	// Tracks keep the model running while they may still be moving: until the scene has been
	// still for as long as the tracker keeps a lost track. Objects standing still after that
	// (a parked car, people seated) keep their tracks, unchanged, until something moves.
	moving := a.still == 0 || a.trk.Alive() > 0 && a.still <= a.buffer
	if !(moving || due) {
		a.Skipped++
		f.Result, f.Preds = &a.res, a.preds
		return f, nil
	}
	if err := a.det.Detect(img, &a.res); err != nil {
		return f, err
	}
	a.Inferences++
	a.ran, a.lastRun, f.Inferred = true, at, true
	a.preds = markup.Predictions(a.preds[:0], &a.res)
	a.dets = a.dets[:0]
	for _, p := range a.preds {
		q := p
		q.Score = 1 // filters and masks only: the tracker weighs the score
		if !a.o.Rules.Keep(q) {
			continue
		}
		a.dets = append(a.dets, track.Detection{Box: p.Box, Score: p.Score, Label: p.Label})
	}
	f.Tracks = a.trk.Update(a.dets)
	f.Events = a.cnt.Update(f.Tracks)
	f.Result, f.Preds = &a.res, a.preds
	return f, nil
}
