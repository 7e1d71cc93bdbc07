// Package daemon is edgecam's main job: per camera, on a timer, capture a frame, detect objects,
// tally the labels and deliver the tally to the camera's IoT Hub device through a durable
// store-and-forward queue. Data flows one way: source -> detector -> tally -> queue -> hub.
package daemon

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/camera"
	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/metrics"
	"github.com/edgecam/edgecam/internal/queue"
	"github.com/edgecam/edgecam/internal/yolo"
)

// Detector scores frames. *yolo.Detector is one; it is shared by all cameras and serializes
// inference itself, so the CPU is never oversubscribed.
type Detector interface {
	Detect(img gocv.Mat, res *yolo.Result) error
	DetectEncoded(data []byte, res *yolo.Result) error
	Classes() []string
}

// Options are what Run needs besides the configuration.
type Options struct {
	Config   *config.Config
	Detector Detector
	Metrics  *metrics.Metrics // nil: a private set
	Logger   *slog.Logger     // nil: slog.Default()
	// Notify, when set, receives systemd notifications ("READY=1", "WATCHDOG=1", "STOPPING=1").
	Notify func(state string)
	// WatchdogInterval is how often the watchdog is pinged while every camera is healthy
	// (half of systemd's WatchdogSec); 0 disables pinging.
	WatchdogInterval time.Duration
	// QueueSize bounds each camera's store-and-forward queue (default 10000 tallies).
	QueueSize int
	// StopTimeout bounds the graceful stop (default 8 s, within systemd's 10 s budget).
	StopTimeout time.Duration
}

// Run starts every camera and runs until ctx ends, then stops gracefully: the tick in flight
// finishes, queued tallies stay on disk, connections close.
func Run(ctx context.Context, opts Options) error {
	opts = opts.withDefaults()
	cfg := opts.Config
	log := opts.Logger

	var workers []*worker
	budgets := queueBudgets(cfg)
	closeAll := func() {
		for _, w := range workers {
			w.close()
		}
	}
	for i := range cfg.Cameras {
		w, err := newWorker(cfg, i, opts, budgets[i])
		if err != nil {
			closeAll()
			return err // each names its camera once
		}
		workers = append(workers, w)
	}
	defer closeAll()

	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	for _, w := range workers {
		w.life = runCtx
	}
	var wg sync.WaitGroup
	// Connections first: DPS registrations of all cameras run concurrently.
	for _, w := range workers {
		wg.Add(3)
		go func() { defer wg.Done(); w.link.run(runCtx) }()
		go func() { defer wg.Done(); w.forward(runCtx) }()
		go func() { defer wg.Done(); w.inbox.run(runCtx, w.resyncTwin) }()
		if w.spool != nil {
			wg.Add(1)
			go func() { defer wg.Done(); w.runUploads(runCtx) }()
		}
	}
	timersCtx, stopTimers := context.WithCancel(context.Background())
	defer stopTimers()
	var timers sync.WaitGroup
	for _, w := range workers {
		timers.Add(1)
		go func() { defer timers.Done(); w.timer.Run(timersCtx) }()
		if w.analyser != nil {
			timers.Add(1)
			go func() { defer timers.Done(); w.analyser.run(timersCtx) }()
		}
	}
	log.Info("edgecam running", "cameras", len(workers), "stateDir", cfg.State.Dir)
	notify(opts, "READY=1")

	pingWatchdog(ctx, opts, workers)

	log.Info("stopping: finishing ticks in flight")
	notify(opts, "STOPPING=1")
	deadline := time.Now().Add(opts.StopTimeout)
	stopTimers()
	waitUntil(&timers, deadline)
	// Give the forwarders a moment to deliver what the last ticks queued, then stop them.
	for _, w := range workers {
		w.drain(time.Until(deadline) / 2)
	}
	cancelRun()
	waitUntil(&wg, deadline)
	logKept(log, workers)
	// Close every camera and connection in parallel, within the stop budget: a stalled RTSP
	// reader or a hung connection must not keep systemd waiting. Queued tallies are on disk.
	errs := make([]error, len(workers))
	var closing sync.WaitGroup
	for i, w := range workers {
		closing.Add(1)
		go func() { defer closing.Done(); errs[i] = w.close() }()
	}
	closed := waitUntil(&closing, time.Now().Add(max(time.Until(deadline), time.Second)))
	workers = nil // closed, or being closed: the deferred closeAll must not wait on them again
	if !closed {
		log.Warn("stopped without waiting for every camera and connection to close")
		return errors.New("stop: closing cameras and connections took too long")
	}
	log.Info("stopped")
	return errors.Join(errs...)
}

// withDefaults fills the options left zero.
func (opts Options) withDefaults() Options {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.New()
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 10000
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 8 * time.Second
	}
	return opts
}

// pingWatchdog pings the systemd watchdog every WatchdogInterval while no tick is stuck, until
// ctx ends.
func pingWatchdog(ctx context.Context, opts Options, workers []*worker) {
	var tick <-chan time.Time
	if opts.WatchdogInterval > 0 {
		t := time.NewTicker(opts.WatchdogInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			if stuck := stuckWorkers(workers); len(stuck) > 0 {
				opts.Logger.Error("not pinging the systemd watchdog: a tick is stuck", "cameras", stuck)
				continue
			}
			notify(opts, "WATCHDOG=1")
		}
	}
}

// logKept says what stays on disk for the next start.
func logKept(log *slog.Logger, workers []*worker) {
	for _, w := range workers {
		if n := w.queue.Len(); n > 0 {
			log.Info("tallies kept for the next start", "camera", w.cam.ID, "queued", n)
		}
		if w.spool != nil && w.spool.Len() > 0 {
			log.Info("images kept for the next start", "camera", w.cam.ID, "waiting", w.spool.Len())
		}
	}
}

func notify(opts Options, state string) {
	if opts.Notify != nil {
		opts.Notify(state)
	}
}

func waitUntil(wg *sync.WaitGroup, deadline time.Time) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(time.Until(deadline)):
		return false
	}
}

func stuckWorkers(ws []*worker) []string {
	var stuck []string
	for _, w := range ws {
		if w.stuck() {
			stuck = append(stuck, w.cam.ID)
		}
	}
	return stuck
}

func queueDir(stateDir, cameraID string) string {
	return filepath.Join(stateDir, "queue", cameraID)
}

// openSource is camera.New; a variable so tests can count opened sources.
var openSource = camera.New

// openQueue is queue.OpenWith.
var openQueue = queue.OpenWith

// queueBudgets splits state.maxQueueBytes between the cameras: a camera's own maxQueueBytes, or
// an equal share of what those leave (at least config.MinQueueBytes each).
func queueBudgets(cfg *config.Config) []int64 {
	out := make([]int64, len(cfg.Cameras))
	left, shared := cfg.State.MaxQueueBytes, 0
	for i, c := range cfg.Cameras {
		if c.MaxQueueBytes > 0 {
			out[i] = c.MaxQueueBytes
			left -= c.MaxQueueBytes
		} else {
			shared++
		}
	}
	for i := range out {
		if out[i] == 0 {
			out[i] = max(left/int64(max(shared, 1)), config.MinQueueBytes)
		}
	}
	return out
}
