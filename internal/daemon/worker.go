package daemon

import (
	"gocv.io/x/gocv"

	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgecam/edgecam/internal/atomicfile"
	"github.com/edgecam/edgecam/internal/camera"
	"github.com/edgecam/edgecam/internal/classes"
	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/iothub"
	"github.com/edgecam/edgecam/internal/markup"
	"github.com/edgecam/edgecam/internal/memtune"
	"github.com/edgecam/edgecam/internal/metrics"
	"github.com/edgecam/edgecam/internal/queue"
	"github.com/edgecam/edgecam/internal/schedule"
	"github.com/edgecam/edgecam/internal/tally"
	"github.com/edgecam/edgecam/internal/tile"
	"github.com/edgecam/edgecam/internal/upload"
	"github.com/edgecam/edgecam/internal/yolo"
	"github.com/edgecam/edgecam/internal/zone"
)

// worker is one camera: its source, its timer, its queue and its hub link.
type worker struct {
	cam     config.Camera
	src     camera.Source
	det     Detector
	queue   *queue.Queue
	link    *link
	inbox   *inbox // cloud work: bounded, one goroutine
	timer   *schedule.Timer
	log     *slog.Logger
	metrics *metrics.Metrics

	// settings that IoT Central may change at run time
	mu           sync.Mutex
	rules        tally.Rules
	sched        config.Schedule
	detection    config.Detection
	settings     settings
	settingsPath string
	// the configuration file's values, which a desired property deleted in the cloud restores
	ownSched     config.Schedule
	ownDetection config.Detection
	captureT     time.Duration
	safeNames    bool
	classes      classes.Set // the model's class names, for labels set from the cloud
	info         deviceInfo
	// desired-property version last applied on the current connection, so an older full twin
	// read at connect cannot undo a newer patch that overtook it
	desiredClient  *iothub.Client
	desiredVersion int64
	// writable properties whose last desired value was refused (acknowledged with ac 400)
	refused map[string]bool

	// per-tick state, reused (ticks of one camera never overlap)
	res     yolo.Result
	preds   []tally.Prediction
	kept    []yolo.Detection // detections drawn on the marked-up copy
	counter tally.Counter
	body    map[string]int
	enc     tally.Encoder

	// image upload (nil spool: off)
	upload      config.Upload
	spool       *upload.Spool
	uploadTicks int    // qualifying ticks so far, for upload.every
	uploadJPEG  []byte // the image of this tick to upload, nil for none

	analyser *analyser // continuous analysis (analysis: {fps}), nil for a timer camera (lines.go)
	skip     *skipper  // motion.skipUnchanged on a timer camera (skip.go), else nil

	dropped   map[queue.DropReason]uint64 // queue drops already counted in the metrics
	life      context.Context             // ends when the daemon stops (for work not tied to a request)
	tickStart atomic.Int64                // unix nanos of the tick in flight, 0 when idle
	lastFrame atomic.Int64                // unix nanos of the last captured frame's time, 0 before the first
	captureOK atomic.Bool                 // the last capture succeeded
	wake      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

func newWorker(cfg *config.Config, i int, opts Options, queueBytes int64) (*worker, error) {
	cam := cfg.Cameras[i]
	src, err := openSource(cam)
	if err != nil {
		return nil, err // the source names the camera
	}
	log := opts.Logger.With("camera", cam.ID)
	q, err := openQueue(queueDir(cfg.State.Dir, cam.ID), queue.Options{MaxEntries: opts.QueueSize, MaxBytes: queueBytes, Logger: log})
	if err != nil {
		camera.Close(src)
		return nil, fmt.Errorf("camera %s: store-and-forward queue: %w", cam.ID, err)
	}
	w := &worker{
		cam: cam, src: src, det: opts.Detector, queue: q, log: log, metrics: opts.Metrics,
		wake: make(chan struct{}, 1), life: context.Background(), body: map[string]int{},
		refused: map[string]bool{}, dropped: map[queue.DropReason]uint64{}, inbox: newInbox(),
	}
	// Temporary files a crash left beside the files this camera writes go now, before they
	// can pile up across crashes.
	for _, p := range []string{cam.ImageFile, cam.MarkedUpFile, settingsPath(cfg.State.Dir, cam.ID)} {
		if p != "" {
			if n := atomicfile.CleanTemps(p); n > 0 {
				log.Info("removed temporary files left by a crash", "file", p, "removed", n)
			}
		}
	}
	w.countDrops()
	w.captureT = captureTimeout(cam)
	w.safeNames = cfg.Azure.ModelID != ""
	w.classes = cfg.Classes
	w.info = newDeviceInfo(cfg, cam, opts.Detector)
	w.settingsPath = settingsPath(cfg.State.Dir, cam.ID)
	sched, det := cfg.CameraSchedule(i), cfg.CameraDetection(i)
	w.ownSched, w.ownDetection = sched, det
	if st, err := loadSettings(w.settingsPath); err != nil {
		log.Warn("settings changed from the cloud could not be read; using the configuration", "err", err)
	} else {
		s2, d2 := sched, det
		st.applyTo(&s2, &d2)
		if d2, err = config.NormalizeDetection(cfg.Classes, d2); err == nil && config.ValidateSchedule(s2) == nil {
			sched, det, w.settings = s2, d2, st
		} else {
			log.Warn("ignoring invalid settings saved from the cloud", "file", w.settingsPath)
		}
	}
	w.sched, w.detection = sched, det
	w.rules = w.rulesLocked()
	if err := w.tileDetector(det.Tiles, opts.Detector); err != nil {
		camera.Close(src)
		q.Close()
		return nil, err
	}
	w.timer = schedule.New(sched.Due.Std(), sched.Period.Std(), w.tick, func() {
		log.Debug("tick skipped: the previous one is still running")
	})
	if w.settings.TimerStopped {
		w.timer.Stop()
		log.Info("timer stopped by an earlier ImageTimerStop command; ImageTimerStart resumes it")
	}
	if err := w.openUploads(cfg, i); err != nil {
		camera.Close(src)
		q.Close()
		return nil, fmt.Errorf("camera %s: %w", cam.ID, err)
	}
	w.skip = newSkipper(&w.cam)
	if cam.Analysis != nil {
		if w.analyser, err = newAnalyser(w, cfg, i); err != nil {
			camera.Close(src)
			q.Close()
			return nil, err
		}
	}
	w.link = newLink(cfg, cam, log, w.onConnect)
	w.link.handlers = w.setHandlers
	opts.Metrics.Watch(cam.ID, sched.Period.Std(), sched.Due.Std())
	opts.Metrics.CameraStatus(cam.ID, w.status)
	return w, nil
}

// tileDetector makes the worker detect through a tile.Detector when the camera's
// detection.tiles cuts frames into tiles (a grid, or its zones' boxes).
func (w *worker) tileDetector(t *config.Tiles, base Detector) error {
	polys := make([]zone.Polygon, len(w.rules.Zones))
	for i, z := range w.rules.Zones {
		polys[i] = z.Polygon
	}
	o, on := tile.FromConfig(t, polys)
	if !on {
		return nil
	}
	b, ok := base.(tile.Base)
	if !ok {
		return fmt.Errorf("detection.tiles: the detector (%T) cannot detect regions of a decoded frame", base)
	}
	w.det = tile.New(b, o)
	if len(o.Zones) > 0 {
		w.log.Info("detecting on tiles: each zone's box", "zones", len(o.Zones), "full", o.Full)
	} else {
		w.log.Info("detecting on tiles", "cols", o.Cols, "rows", o.Rows, "overlap", o.Overlap, "full", o.Full)
	}
	return nil
}

// rulesLocked derives the tally rules from the detection settings and the camera's zones and
// masks; w.mu must be held (or w not yet shared).
func (w *worker) rulesLocked() tally.Rules {
	return config.TallyRules(w.detection, &w.cam, w.safeNames)
}

func captureTimeout(cam config.Camera) time.Duration {
	if cam.Timeout > 0 {
		return cam.Timeout + 5*time.Second
	}
	return 30 * time.Second
}

// tick is one scheduled pass: capture -> detect -> tally -> queue.
func (w *worker) tick(ctx context.Context) {
	// A tick that has started finishes even when the daemon is stopping (runTick bounds the
	// capture by its timeout and Run bounds the wait), so its tally is queued, not lost.
	if _, err := w.runTick(context.WithoutCancel(ctx)); err != nil {
		w.log.Warn("tick skipped", "err", err)
	}
	// Give the frame's freed C memory back to the system (issue 16), at most once per trimEvery
	// across cameras.
	memtune.TrimEvery(trimEvery)
}

// trimEvery bounds how often ticks trim the C heap.
const trimEvery = time.Second

// runTick captures, detects and queues. It reports whether the tally was queued for delivery
// (a label of interest was present); the tally itself stays in w.body until the next tick, for
// commands like CaptureNow that run a tick themselves.
func (w *worker) runTick(ctx context.Context) (sent bool, err error) {
	start := time.Now()
	w.tickStart.Store(start.UnixNano())
	defer w.tickStart.Store(0)
	if w.analyser != nil {
		return w.analysisTick()
	}

	w.mu.Lock()
	rules, timeout := w.rules, w.captureT
	w.mu.Unlock()

	cctx, cancel := context.WithTimeout(ctx, timeout)
	clear(w.body)
	frame, err := w.src.Capture(cctx)
	cancel()
	w.captureOK.Store(err == nil)
	if err != nil {
		w.metrics.CaptureErrors.WithLabelValues(w.cam.ID).Inc()
		return false, fmt.Errorf("capture failed (no stale frame is scored): %w", err)
	}
	defer frame.Close()
	captureDur := time.Since(start)
	w.metrics.Captures.WithLabelValues(w.cam.ID).Inc()
	capturedAt := frame.Time
	if capturedAt.IsZero() {
		capturedAt = start
	}
	w.lastFrame.Store(capturedAt.UnixNano())
	if w.cam.ImageFile != "" {
		if err := camera.Save(w.cam.ImageFile, frame); err != nil {
			w.log.Warn("could not keep the captured frame", "file", w.cam.ImageFile, "err", err)
		}
	}

	skipped := false
	switch {
	case w.skip != nil:
		skipped, err = w.skip.detect(w, frame, start)
	case frame.HasMat() || w.cam.MarkedUpFile != "":
		// The marked-up copy needs the full picture: decode it once, kept on the frame, and
		// detect on it rather than decode a reduced copy for the detector and the full one again.
		var img gocv.Mat
		if img, err = frame.Image(); err == nil {
			err = w.det.Detect(img, &w.res)
		}
	default:
		err = w.det.DetectEncoded(frame.Data, &w.res)
	}
	if err != nil {
		return false, fmt.Errorf("detection failed: %w", err)
	}
	if !skipped {
		w.metrics.DetectSeconds.Observe(w.res.Timings.Total.Seconds())
	}
	if w.res.Tiles > 0 && !skipped {
		w.metrics.Tiles.WithLabelValues(w.cam.ID).Set(float64(w.res.Tiles))
		w.metrics.TilingSeconds.WithLabelValues(w.cam.ID).Observe(w.res.Timings.Total.Seconds())
	}
	w.metrics.TickOK(w.cam.ID)

	w.preds = markup.Predictions(w.preds[:0], &w.res)
	for _, p := range w.preds {
		if rules.Keep(p) {
			w.metrics.Detections.WithLabelValues(w.cam.ID, p.Label).Inc()
		}
	}
	body := w.body
	send := w.counter.TallyInto(rules, body, w.preds)
	uploadNow := w.uploadDue(send)
	if w.cam.MarkedUpFile != "" || (uploadNow && w.upload.Image == config.UploadMarkedUp) {
		w.markUp(frame, &rules, uploadNow && w.upload.Image == config.UploadMarkedUp)
	}
	if uploadNow && w.upload.Image == config.UploadFrame {
		w.frameJPEG(frame)
	}
	// The image goes to its own spool after the tally is queued: tallies never wait for images.
	defer w.queueImage(capturedAt, body)
	// With tiles, detectMs is every tile's detection with the merging (the tiling time) and
	// inferenceMs their inferences together.
	attrs := []any{"tally", tally.LogBody(body), "send", send, "captureMs", ms(captureDur),
		"detectMs", ms(w.res.Timings.Total), "inferenceMs", ms(w.res.Timings.Inference)}
	if w.res.Tiles > 0 {
		attrs = append(attrs, "tiles", w.res.Tiles)
	}
	w.log.Info("tick", append(attrs, "unchanged", skipped)...)
	if !send {
		return false, nil
	}
	// Push writes the item durably before it returns, so the encoder's buffer can be reused.
	if err := w.queue.Push(queue.Item{Time: capturedAt, Body: w.enc.Encode(body)}); err != nil {
		return false, fmt.Errorf("could not queue the tally: %w", err)
	}
	w.countDrops()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return true, nil
}

// countDrops brings the queue metrics up to date: depth, bytes and the items dropped since the
// last call, by reason (the queue logged a warning for each; the counter makes them visible to
// monitoring).
func (w *worker) countDrops() {
	w.metrics.QueueDepth.WithLabelValues(w.cam.ID).Set(float64(w.queue.Len()))
	w.metrics.QueueBytes.WithLabelValues(w.cam.ID).Set(float64(w.queue.Bytes()))
	for _, r := range queue.DropReasons {
		if d := w.queue.DroppedBy(r); d > w.dropped[r] {
			w.metrics.QueueDropped.WithLabelValues(w.cam.ID, string(r)).Add(float64(d - w.dropped[r]))
			w.dropped[r] = d
		}
	}
}

// markUp draws the kept detections (and zones, masks) on a copy of the frame's picture (decoded
// once per tick, see camera.Frame.Image), keeps it in
// markedUpFile when set and, with forUpload, as this tick's image to upload.
func (w *worker) markUp(frame *camera.Frame, rules *tally.Rules, forUpload bool) {
	img, err := frame.Decode()
	if err != nil {
		w.log.Warn("could not decode the frame for the marked-up copy", "err", err)
		return
	}
	defer img.Close()
	w.kept = markup.Counted(w.kept[:0], w.res.Detections, w.preds, rules)
	markup.Frame(&img, w.kept, rules)
	if w.cam.MarkedUpFile != "" {
		if err := camera.Save(w.cam.MarkedUpFile, &camera.Frame{Camera: w.cam.ID, Mat: img}); err != nil {
			w.log.Warn("could not write the marked-up frame", "file", w.cam.MarkedUpFile, "err", err)
		}
	}
	if forUpload {
		if w.uploadJPEG, err = camera.EncodeJPEG(img); err != nil {
			w.log.Warn("could not encode the marked-up frame for upload", "err", err)
		}
	}
}

// status is the camera's state for the metrics: a streaming source's own, else the last capture.
func (w *worker) status() (up bool, frameTime time.Time) {
	if r, ok := w.src.(camera.StatusReporter); ok {
		st := r.Status()
		return st.Up, st.FrameTime
	}
	if n := w.lastFrame.Load(); n != 0 {
		frameTime = time.Unix(0, n)
	}
	return w.captureOK.Load(), frameTime
}

// stuck reports a tick that has run far longer than any capture and detection should.
func (w *worker) stuck() bool {
	s := w.tickStart.Load()
	return s != 0 && time.Since(time.Unix(0, s)) > 2*w.captureT+2*time.Minute
}

func (w *worker) close() error {
	w.closeOnce.Do(func() {
		w.link.close()
		if err := camera.Close(w.src); err != nil {
			w.closeErr = err
		}
		if err := w.queue.Close(); err != nil && w.closeErr == nil {
			w.closeErr = err
		}
		if w.skip != nil {
			w.skip.close()
		}
	})
	return w.closeErr
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
