package daemon_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgecam/edgecam/internal/daemon"
	"github.com/edgecam/edgecam/internal/metrics"
)

// TestFullQueueDropsOldestAndCountsIt: with the hub unreachable and a queue of 2, the oldest
// tallies go, and the metrics (served over HTTP) show the drops, the depth and the captures.
func TestFullQueueDropsOldestAndCountsIt(t *testing.T) {
	e := startEmulator(t)
	e.StopListeners()
	cfg := dpsConfig(t, e)
	cfg.Cameras = append(cfg.Cameras, fileCamera("bus-stop", photo(t, "bus.jpg")))
	lr, log := newLogRecorder(t)
	m := metrics.New()
	defer startDaemonWith(t, daemon.Options{Config: cfg, Logger: log, Metrics: m, QueueSize: 2}).stopOK(t)
	if _, err := lr.wait(waitCtx(t), 6, ticks("bus-stop", true)); err != nil {
		t.Fatal(err)
	}
	// The 6th tick is logged before its tally is queued; the 5th has been queued by then.
	if got := testutil.ToFloat64(m.QueueDropped.WithLabelValues("bus-stop", "full")); got < 3 {
		t.Errorf("queue dropped counter = %v after 5 tallies into a queue of 2", got)
	}
	if got := testutil.ToFloat64(m.QueueDepth.WithLabelValues("bus-stop")); got != 2 {
		t.Errorf("queue depth = %v, want 2", got)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{`edgecam_queue_dropped_total{camera="bus-stop",reason="full"}`, `edgecam_queue_bytes{camera="bus-stop"} 8192`, `edgecam_captures_total{camera="bus-stop"}`,
		`edgecam_detections_total{camera="bus-stop",label="person"}`, `edgecam_queue_depth{camera="bus-stop"} 2`, `edgecam_camera_up{camera="bus-stop"} 1`, `edgecam_camera_frame_age_seconds{camera="bus-stop"}`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	rec = httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 {
		t.Errorf("/healthz = %d while ticks succeed (delivery is the queue's business)", rec.Code)
	}
}
