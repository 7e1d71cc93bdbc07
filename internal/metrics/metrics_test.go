package metrics

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestHealthAndMetricsOverHTTP(t *testing.T) {
	m := New()
	now := time.Unix(1000, 0)
	m.now = func() time.Time { return now }
	m.Watch("garage", 10*time.Second, 0)
	m.Captures.WithLabelValues("garage").Inc()
	m.Detections.WithLabelValues("garage", "person").Add(3)
	m.CameraStatus("garage", func() (bool, time.Time) { return true, now.Add(-1500 * time.Millisecond) })
	m.CameraStatus("street", func() (bool, time.Time) { return false, time.Time{} })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := m.Serve(ctx, "127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr.String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 {
		t.Fatalf("healthz %d %s", code, body)
	}
	now = now.Add(31 * time.Second)
	if code, body := get("/healthz"); code != 503 || !strings.Contains(body, "garage") {
		t.Fatalf("healthz after 3 periods: %d %q", code, body)
	}
	m.TickOK("garage")
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("healthz after a good tick: %d", code)
	}
	_, body := get("/metrics")
	for _, want := range []string{`edgecam_captures_total{camera="garage"} 1`, `edgecam_detections_total{camera="garage",label="person"} 3`, "edgecam_detect_seconds_bucket",
		`edgecam_camera_up{camera="garage"} 1`, `edgecam_camera_up{camera="street"} 0`, `edgecam_camera_frame_age_seconds{camera="garage"} 1.5`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, `edgecam_camera_frame_age_seconds{camera="street"}`) {
		t.Error("frame age reported for a camera without a frame")
	}
	if _, err := m.Serve(ctx, "127.0.0.1:bad", slog.Default()); err == nil || !strings.Contains(err.Error(), "metrics.listen") {
		t.Fatalf("bad listen address: %v", err)
	}
}
