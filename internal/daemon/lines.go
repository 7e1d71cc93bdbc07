package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/analysis"
	"github.com/edgecam/edgecam/internal/atomicfile"
	"github.com/edgecam/edgecam/internal/camera"
	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/crossing"
	"github.com/edgecam/edgecam/internal/markup"
	"github.com/edgecam/edgecam/internal/queue"
	"github.com/edgecam/edgecam/internal/tally"
	"github.com/edgecam/edgecam/internal/track"
	"github.com/edgecam/edgecam/internal/yolo"
)

// analyser is a camera's continuous analysis (analysis: {fps}): it takes the stream's newest
// frame up to fps times a second and analyses it (motion, model, tracker, lines); the camera's
// timer then sends the newest analysed frame's tally with the lines' counts (analysisTick).
type analyser struct {
	w       *worker
	an      *analysis.Analyzer
	stream  camera.Streamer // nil: frames come from Capture
	lines   []crossing.Line
	every   time.Duration
	fps     float64
	refresh time.Duration // motion.refresh; 0: the default
	path    string        // the running totals in state.dir
	labels  []string

	mu    sync.Mutex
	preds []tally.Prediction // the newest analysed frame's detections
	// with markedUpFile or imageFile: the newest analysed frame, its detections (pixels) and its
	// tracks
	img    gocv.Mat
	dets   []yolo.Detection
	tracks []track.Track
	at     time.Time // its time
	fresh  bool      // a frame was analysed since the last tick
	// frames the model ran on and did not, so far
	inferences, skipped int
	totals              lineTotals // counted since the camera was first set up
	sent                lineTotals // the totals as of the last queued message
}

// lineTotals are crossings per line and label: [in, out].
type lineTotals map[lineLabel][2]int

type lineLabel struct{ line, label string }

// MarshalJSON writes {"<line>": {"<label>": [in, out]}}.
func (t lineTotals) MarshalJSON() ([]byte, error) {
	m := map[string]map[string][2]int{}
	for k, v := range t {
		if m[k.line] == nil {
			m[k.line] = map[string][2]int{}
		}
		m[k.line][k.label] = v
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (t *lineTotals) UnmarshalJSON(b []byte) error {
	var m map[string]map[string][2]int
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*t = lineTotals{}
	for line, labels := range m {
		for label, v := range labels {
			(*t)[lineLabel{line, label}] = v
		}
	}
	return nil
}

// lineState is the file that keeps a camera's line totals across restarts.
type lineState struct {
	Totals lineTotals `json:"totals"`
	Sent   lineTotals `json:"sent"`
}

func linesPath(stateDir, cameraID string) string {
	return filepath.Join(stateDir, "lines", cameraID+".json")
}

func newAnalyser(w *worker, cfg *config.Config, i int) (*analyser, error) {
	cam := &cfg.Cameras[i]
	a := &analyser{w: w, lines: config.CrossingLines(cam), path: linesPath(cfg.State.Dir, cam.ID),
		every: time.Duration(float64(time.Second) / cam.Analysis.FPS), fps: cam.Analysis.FPS, totals: lineTotals{}, sent: lineTotals{}}
	if n := atomicfile.CleanTemps(a.path); n > 0 {
		w.log.Info("removed temporary files left by a crash", "file", a.path, "removed", n)
	}
	b, err := os.ReadFile(a.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("line totals: %w", err)
	default:
		var st lineState
		if err := json.Unmarshal(b, &st); err != nil {
			return nil, fmt.Errorf("line totals %s: %w (move the file away to start counting from 0)", a.path, err)
		}
		if st.Totals != nil {
			a.totals = st.Totals
		}
		if st.Sent != nil {
			a.sent = st.Sent
		}
	}
	if cam.Motion != nil {
		a.refresh = cam.Motion.Refresh.Std()
	}
	return a, nil
}

func lineKey(line, label string) lineLabel { return lineLabel{line, label} }

// save writes the totals atomically; a.mu must be held.
func (a *analyser) save() error {
	b, err := json.Marshal(lineState{Totals: a.totals, Sent: a.sent})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(a.path), 0o750); err != nil {
		return err
	}
	return atomicfile.Write(a.path, b, 0o640)
}

// run analyses frames until ctx ends. The analyzer and the streamer live as long as it runs.
func (a *analyser) run(ctx context.Context) {
	w := a.w
	w.mu.Lock()
	rules := w.rules
	w.mu.Unlock()
	an := analysis.New(w.det, analysis.Options{Rules: rules, Lines: a.lines, Refresh: a.refresh})
	defer an.Close()
	a.mu.Lock()
	a.an = an
	a.mu.Unlock()
	if a.stream = camera.NewStreamer(w.src, a.fps); a.stream != nil {
		defer a.stream.Close()
	}
	defer func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.img.Ptr() != nil {
			a.img.Close()
		}
	}()
	t := time.NewTicker(a.every)
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		last = a.step(ctx, last)
	}
}

// step analyses the stream's newest frame when it is newer than the one at last.
func (a *analyser) step(ctx context.Context, last time.Time) time.Time {
	w := a.w
	var (
		frame *camera.Frame
		err   error
	)
	if a.stream != nil {
		frame, err = a.stream.Next(ctx)
		if errors.Is(err, camera.ErrNoNewFrame) {
			return last
		}
	} else {
		cctx, cancel := context.WithTimeout(ctx, w.captureT)
		frame, err = w.src.Capture(cctx)
		cancel()
	}
	w.captureOK.Store(err == nil)
	if err != nil {
		if ctx.Err() == nil {
			w.metrics.CaptureErrors.WithLabelValues(w.cam.ID).Inc()
			w.log.Debug("analysis: no frame", "err", err)
		}
		return last
	}
	defer frame.Close()
	if !frame.Time.IsZero() && !frame.Time.After(last) {
		return last // the stream has nothing newer
	}
	at := frame.Time
	if at.IsZero() {
		at = time.Now()
	}
	w.lastFrame.Store(at.UnixNano())
	img := frame.Mat
	if !frame.HasMat() {
		if img, err = frame.Decode(); err != nil {
			w.log.Warn("analysis: could not decode the frame", "err", err)
			return last
		}
		defer img.Close()
	}
	// Settings from the cloud apply to the next frame; a new score threshold also becomes the
	// tracker's (logged once, when the tracker takes it).
	w.mu.Lock()
	rules := w.rules
	w.mu.Unlock()
	if a.an.SetRules(rules) {
		w.log.Info("analysis: the tracker follows the new score threshold", "threshold", rules.Threshold)
	}
	f, err := a.an.Analyze(img, at)
	if err != nil {
		w.log.Warn("analysis: detection failed", "err", err)
		return at
	}
	if f.Inferred {
		w.metrics.DetectSeconds.Observe(f.Result.Timings.Total.Seconds())
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.preds = append(a.preds[:0], f.Preds...)
	a.at, a.fresh = at, true
	a.inferences, a.skipped = a.an.Inferences, a.an.Skipped
	if w.cam.MarkedUpFile != "" || w.cam.ImageFile != "" {
		if a.img.Ptr() == nil {
			a.img = gocv.NewMat()
		}
		img.CopyTo(&a.img)
		a.dets = append(a.dets[:0], f.Result.Detections...)
		a.tracks = append(a.tracks[:0], f.Tracks...)
	}
	if len(f.Events) == 0 {
		return at
	}
	for _, e := range f.Events {
		k := lineKey(a.lines[e.Line].Name, e.Label)
		v := a.totals[k]
		dir := "out"
		if e.In {
			v[0]++
			dir = "in"
		} else {
			v[1]++
		}
		a.totals[k] = v
		w.log.Info("crossing", "line", a.lines[e.Line].Name, "label", e.Label, "direction", dir, "track", e.Track)
	}
	// Saved at once: a crossing counted is never lost to a restart or a power cut.
	if err := a.save(); err != nil {
		w.log.Warn("could not save the line totals", "file", a.path, "err", err)
	}
	return at
}

// markUp writes the newest analysed frame to markedUpFile with the counted detections, zones
// and masks, the lines with their totals and the tracks' IDs; a.mu must be held.
func (a *analyser) markUp(rules *tally.Rules) {
	w := a.w
	img := a.img.Clone()
	defer img.Close()
	w.kept = markup.Counted(w.kept[:0], a.dets, w.preds, rules)
	markup.Frame(&img, w.kept, rules)
	c := analysis.NewCounts(a.lines)
	for i, l := range a.lines {
		for k, v := range a.totals {
			if k.line == l.Name {
				c.Set(i, k.label, v[0], v[1])
			}
		}
	}
	analysis.Annotate(&img, a.lines, c, a.tracks)
	if err := camera.Save(w.cam.MarkedUpFile, &camera.Frame{Camera: w.cam.ID, Mat: img}); err != nil {
		w.log.Warn("could not write the marked-up frame", "file", w.cam.MarkedUpFile, "err", err)
	}
}

// lineLabels are the labels a line's keys are sent for: its own, else the minimum labels and
// every label it has counted.
func (a *analyser) lineLabels(l crossing.Line, minimum []string) []string {
	if len(l.Labels) > 0 {
		return l.Labels
	}
	labels := slices.Clone(minimum)
	for k := range a.totals {
		if k.line == l.Name && !slices.Contains(labels, k.label) {
			labels = append(labels, k.label)
		}
	}
	slices.Sort(labels)
	return labels
}

// analysisTick is a continuous-analysis camera's tick: the newest analysed frame's tally, plus
// per line and label the crossings since the previous message (<line>_<label>_in, _out) and the
// running totals (_inTotal, _outTotal). The totals sent are saved only once the message is
// queued, so a message is never lost; one queued just before a power cut may repeat its _in and
// _out after the restart, never the totals.
func (w *worker) analysisTick() (sent bool, err error) {
	a := w.analyser
	w.mu.Lock()
	rules := w.rules
	w.mu.Unlock()
	clear(w.body)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.at.IsZero() {
		return false, errors.New("no frame analysed yet")
	}
	// As a timer camera never scores a stale frame: a stream that delivered nothing for two
	// periods (and a few seconds) sends nothing; the line totals wait, saved.
	w.mu.Lock()
	period := w.sched.Period.Std()
	w.mu.Unlock()
	if age := time.Since(a.at); !a.fresh && age > 2*period+3*time.Second {
		return false, fmt.Errorf("no frame analysed for %v (since %s): the stream is down or stalled", age.Round(time.Second), a.at.Format(time.TimeOnly))
	}
	a.fresh = false
	w.preds = append(w.preds[:0], a.preds...)
	body := w.body
	send := w.counter.TallyInto(rules, body, w.preds)
	next := make(lineTotals, len(a.totals))
	for _, l := range a.lines {
		for _, label := range a.lineLabels(l, rules.Minimum) {
			k := lineKey(l.Name, label)
			tot, was := a.totals[k], a.sent[k]
			p := analysis.LineKey(l.Name, label, w.safeNames)
			body[p+"_in"], body[p+"_out"] = tot[0]-was[0], tot[1]-was[1]
			body[p+"_inTotal"], body[p+"_outTotal"] = tot[0], tot[1]
			send = send || tot != was
			next[k] = tot
		}
	}
	w.lastFrame.Store(a.at.UnixNano())
	w.metrics.TickOK(w.cam.ID)
	if a.img.Ptr() != nil && !a.img.Empty() {
		if w.cam.ImageFile != "" {
			if err := camera.Save(w.cam.ImageFile, &camera.Frame{Camera: w.cam.ID, Time: a.at, Mat: a.img}); err != nil {
				w.log.Warn("could not keep the analysed frame", "file", w.cam.ImageFile, "err", err)
			}
		}
		if w.cam.MarkedUpFile != "" {
			a.markUp(&rules)
		}
	}
	w.log.Info("tick", "tally", tally.LogBody(body), "send", send, "frameTime", a.at,
		"inferences", a.inferences, "skipped", a.skipped)
	if !send {
		return false, nil
	}
	if err := w.queue.Push(queue.Item{Time: a.at, Body: w.enc.Encode(body)}); err != nil {
		return false, fmt.Errorf("could not queue the tally: %w", err)
	}
	for k, v := range next {
		a.sent[k] = v
	}
	if err := a.save(); err != nil {
		w.log.Warn("could not save the line totals", "file", a.path, "err", err)
	}
	w.countDrops()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return true, nil
}
