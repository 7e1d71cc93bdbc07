package metrics

import (
	"context"
	"io"
	"log/slog"
	"net"
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

// Clients that connect and send nothing (or stall) cannot hold the listener: at most MaxConns
// are served at once, and each is closed after ReadHeaderTimeout, so a scrape gets through.
func TestListenerLimits(t *testing.T) {
	m := New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := m.Serve(ctx, "127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var idle []net.Conn
	for range MaxConns + 4 {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	start := time.Now()
	client := &http.Client{Timeout: ReadHeaderTimeout + 10*time.Second}
	resp, err := client.Get("http://" + addr.String() + "/healthz")
	if err != nil {
		t.Fatalf("scrape while %d idle connections are open: %v", len(idle), err)
	}
	resp.Body.Close()
	t.Logf("scrape answered after %v", time.Since(start).Round(time.Millisecond))
	// The server closed the idle connections it had accepted.
	closed := 0
	for _, c := range idle[:MaxConns] {
		c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(make([]byte, 1)); err == io.EOF {
			closed++
		}
	}
	if closed == 0 {
		t.Error("no idle connection was closed by the server")
	}
}
