package daemon

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/iothub"
	"github.com/edgecam/edgecam/internal/metrics"
)

func inboxWorker() *worker {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cam := config.Camera{ID: "cam"}
	return &worker{cam: cam, log: log, metrics: metrics.New(), inbox: newInbox(), link: newLink(&config.Config{}, cam, log, nil)}
}

// A flood of cloud-to-device messages and desired patches is cut to the rate and the bounded
// inbox; what is refused is counted; oversized payloads never reach the handlers.
func TestCloudFloodIsBounded(t *testing.T) {
	w := inboxWorker()
	var c2d, desired atomic.Int64
	o := iothub.Options{
		C2D:     func([]byte, map[string]string) { c2d.Add(1) },
		Desired: func([]byte, int64) { desired.Add(1) },
	}
	w.limitCloud(&o)
	// The inbox is not running yet: everything offered waits in it.
	for i := range 1000 {
		o.C2D([]byte(`{}`), map[string]string{"method-name": "CaptureNow"})
		o.Desired([]byte(`{"x":1}`), int64(i))
	}
	o.C2D(bytes.Repeat([]byte("x"), maxCloudMessage+1), nil)
	if n := len(w.inbox.work); n != inboxSize {
		t.Fatalf("inbox holds %d, want %d", n, inboxSize)
	}
	m := w.metrics.CloudDropped
	if got := testutil.ToFloat64(m.WithLabelValues("cam", "c2d", "rate")) + testutil.ToFloat64(m.WithLabelValues("cam", "desired", "rate")); got < 1900 {
		t.Errorf("rate drops = %v, want most of 2000", got)
	}
	if got := testutil.ToFloat64(m.WithLabelValues("cam", "c2d", "too_large")); got != 1 {
		t.Errorf("too_large drops = %v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	resynced := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		w.inbox.run(ctx, func() { resynced <- struct{}{} })
		close(done)
	}()
	select {
	case <-resynced: // dropped desired patches: the whole twin is read instead
	case <-time.After(10 * time.Second):
		t.Fatal("no twin resync after dropped desired patches")
	}
	cancel()
	<-done
	if n := c2d.Load() + desired.Load(); n > inboxSize {
		t.Errorf("%d messages handled, more than the inbox holds", n)
	}
}

// Direct methods run at most maxMethodsAtOnce at a time; more are answered 429 at once.
func TestMethodsBounded(t *testing.T) {
	w := inboxWorker()
	release := make(chan struct{})
	var running sync.WaitGroup
	o := iothub.Options{Methods: func(ctx context.Context, name string, _ []byte) (int, []byte) {
		<-release
		return 200, nil
	}}
	w.limitCloud(&o)
	for range maxMethodsAtOnce {
		running.Add(1)
		go func() { defer running.Done(); o.Methods(context.Background(), "CaptureNow", nil) }()
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(w.inbox.methods) < maxMethodsAtOnce && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	status, body := o.Methods(context.Background(), "CaptureNow", nil)
	if status != 429 || !bytes.Contains(body, []byte("commands are running")) {
		t.Errorf("third method: %d %s", status, body)
	}
	status, _ = o.Methods(context.Background(), "CaptureNow", bytes.Repeat([]byte("x"), maxCloudMessage+1))
	if status != 429 {
		t.Errorf("oversized method: %d", status)
	}
	close(release)
	running.Wait()
}

func TestTokenBucket(t *testing.T) {
	b := tokenBucket{rate: 5, burst: 20}
	now := time.Unix(0, 0)
	n := 0
	for range 100 {
		if b.take(now) {
			n++
		}
	}
	if n != 20 {
		t.Errorf("burst: %d taken, want 20", n)
	}
	if !b.take(now.Add(time.Second)) {
		t.Error("no token after a second")
	}
}

func TestQueueBudgets(t *testing.T) {
	cfg := &config.Config{State: config.State{MaxQueueBytes: 64 << 20}, Cameras: []config.Camera{
		{ID: "a", MaxQueueBytes: 16 << 20}, {ID: "b"}, {ID: "c"},
	}}
	got := queueBudgets(cfg)
	if got[0] != 16<<20 || got[1] != 24<<20 || got[2] != 24<<20 {
		t.Errorf("budgets %v, want a's own 16 MiB and 24 MiB each for b and c", got)
	}
	cfg.Cameras[0].MaxQueueBytes = 64 << 20
	if got := queueBudgets(cfg); got[1] != config.MinQueueBytes {
		t.Errorf("nothing left: %v, want at least %d each", got, config.MinQueueBytes)
	}
}
