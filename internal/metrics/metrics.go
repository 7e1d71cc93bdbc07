// Package metrics holds edgecam's Prometheus metrics and the optional HTTP listener that serves
// them at /metrics together with a /healthz check.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/netutil"
)

// Metrics is the set of per-camera counters and gauges the daemon updates.
type Metrics struct {
	reg *prometheus.Registry

	Captures      *prometheus.CounterVec
	CaptureErrors *prometheus.CounterVec
	Detections    *prometheus.CounterVec
	Sends         *prometheus.CounterVec
	SendErrors    *prometheus.CounterVec
	QueueDepth    *prometheus.GaugeVec
	QueueBytes    *prometheus.GaugeVec
	QueueDropped  *prometheus.CounterVec
	CloudDropped  *prometheus.CounterVec
	DetectSeconds prometheus.Histogram
	// Tiles and TilingSeconds are per camera with detection.tiles: the detections run per frame
	// (tiles, and the whole frame with full) and the time of all of them with the merging.
	Tiles         *prometheus.GaugeVec
	TilingSeconds *prometheus.HistogramVec

	up uploadMetrics   // registered on first use (upload.go)
	an analysisMetrics // registered on first use (analysis.go)

	mu       sync.Mutex
	lastOK   map[string]time.Time // camera -> last successful tick
	deadline map[string]time.Duration
	status   map[string]func() (up bool, frameTime time.Time)
	now      func() time.Time
}

var (
	cameraUpDesc = prometheus.NewDesc("edgecam_camera_up",
		"1 while the camera delivers current frames (rtsp: the stream plays and its newest frame is within maxFrameAge; other kinds: the last capture succeeded), else 0.",
		[]string{"camera"}, nil)
	frameAgeDesc = prometheus.NewDesc("edgecam_camera_frame_age_seconds",
		"Age of the camera's newest frame (rtsp: arrival of its packets; other kinds: the last capture) at scrape time.",
		[]string{"camera"}, nil)
)

// New returns the metrics, registered on a registry of their own with the Go and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		Captures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgecam_captures_total", Help: "Frames captured, per camera.",
		}, []string{"camera"}),
		CaptureErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgecam_capture_errors_total", Help: "Failed captures (the tick was skipped), per camera.",
		}, []string{"camera"}),
		Detections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgecam_detections_total", Help: "Detections at or above the camera's score threshold, per camera and label.",
		}, []string{"camera", "label"}),
		Sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgecam_sends_total", Help: "Tallies acknowledged by IoT Hub, per camera.",
		}, []string{"camera"}),
		SendErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgecam_send_errors_total", Help: "Failed send attempts (the tally stays queued), per camera.",
		}, []string{"camera"}),
		QueueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "edgecam_queue_depth", Help: "Tallies waiting in the store-and-forward queue, per camera.",
		}, []string{"camera"}),
		QueueBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "edgecam_queue_bytes", Help: "Disk space of the store-and-forward queue (4 KiB blocks), per camera.",
		}, []string{"camera"}),
		QueueDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgecam_queue_dropped_total",
			Help: "Oldest tallies dropped, per camera and reason: full (queue items or maxQueueBytes), disk_full (ENOSPC: dropped to make room for the newest), corrupt (unreadable item).",
		}, []string{"camera", "reason"}),
		CloudDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgecam_cloud_messages_dropped_total",
			Help: "Messages from the cloud refused, per camera, kind (method, desired, c2d) and reason (too_large, rate, busy, queue_full).",
		}, []string{"camera", "kind", "reason"}),
		DetectSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "edgecam_detect_seconds",
			Help:    "Detector latency (decode, letterbox, inference, post-processing) per frame.",
			Buckets: []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5},
		}),
		Tiles: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "edgecam_detect_tiles", Help: "Detections run on the last frame with detection.tiles (tiles, and the whole frame with full), per camera.",
		}, []string{"camera"}),
		TilingSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "edgecam_tiling_seconds",
			Help:    "Time of a tiled frame's detection (decode, every tile, merging the boxes), per camera with detection.tiles.",
			Buckets: []float64{0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20},
		}, []string{"camera"}),
		lastOK:   map[string]time.Time{},
		deadline: map[string]time.Duration{},
		status:   map[string]func() (bool, time.Time){},
		now:      time.Now,
	}
	m.reg.MustRegister(m.Captures, m.CaptureErrors, m.Detections, m.Sends, m.SendErrors, m.QueueDepth,
		m.QueueBytes, m.QueueDropped, m.CloudDropped, m.DetectSeconds, m.Tiles, m.TilingSeconds, cameraCollector{m}, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// CameraStatus registers how to read a camera's state at scrape time, for edgecam_camera_up and
// edgecam_camera_frame_age_seconds: whether it delivers current frames, and when its newest
// frame was captured (zero: none yet, no age reported).
func (m *Metrics) CameraStatus(camera string, status func() (up bool, frameTime time.Time)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.status[camera] = status
}

// cameraCollector reads the registered camera states when scraped.
type cameraCollector struct{ m *Metrics }

func (c cameraCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- cameraUpDesc
	ch <- frameAgeDesc
}

func (c cameraCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	status := make(map[string]func() (bool, time.Time), len(c.m.status))
	for cam, f := range c.m.status {
		status[cam] = f
	}
	now := c.m.now()
	c.m.mu.Unlock()
	for cam, f := range status {
		up, at := f()
		v := 0.0
		if up {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(cameraUpDesc, prometheus.GaugeValue, v, cam)
		if !at.IsZero() {
			ch <- prometheus.MustNewConstMetric(frameAgeDesc, prometheus.GaugeValue, max(0, now.Sub(at).Seconds()), cam)
		}
	}
}

// Watch registers a camera for /healthz: it is unhealthy when no tick succeeded within 3 periods
// (counted from now, so a camera gets time for its first tick).
func (m *Metrics) Watch(camera string, period, due time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deadline[camera] = 3*period + due
	m.lastOK[camera] = m.now()
}

// SetPeriod updates the health deadline when a camera's period changes at run time.
func (m *Metrics) SetPeriod(camera string, period time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deadline[camera] = 3 * period
}

// TickOK records a successful tick (capture and detection) of camera.
func (m *Metrics) TickOK(camera string) {
	m.mu.Lock()
	m.lastOK[camera] = m.now()
	m.mu.Unlock()
}

// Unhealthy lists the cameras that have not had a successful tick within their deadline.
func (m *Metrics) Unhealthy() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var bad []string
	now := m.now()
	for cam, last := range m.lastOK {
		if d := m.deadline[cam]; d > 0 && now.Sub(last) > d {
			bad = append(bad, fmt.Sprintf("%s: no successful tick for %s", cam, now.Sub(last).Round(time.Second)))
		}
	}
	return bad
}

// Handler serves /metrics and /healthz.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if bad := m.Unhealthy(); len(bad) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			for _, b := range bad {
				fmt.Fprintln(w, b)
			}
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// Limits of the metrics listener: a scraper sends one small GET and reads a few kilobytes, so
// anything slower or bigger is a stuck or hostile client, and it must not hold connections,
// goroutines or memory the daemon needs.
const (
	MaxConns          = 16
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 10 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 60 * time.Second
	MaxHeaderBytes    = 16 << 10
)

// Serve listens on addr and serves Handler until ctx ends. It returns once listening, with the
// bound address (useful with port 0), or the listen error. At most MaxConns connections are
// served at once (more wait in the kernel's backlog), each within the timeouts above.
func (m *Metrics) Serve(ctx context.Context, addr string, log *slog.Logger) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics.listen %q: %w", addr, err)
	}
	addrOut := ln.Addr()
	ln = netutil.LimitListener(ln, MaxConns)
	srv := &http.Server{
		Handler:           m.Handler(),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", addrOut.String(), "paths", "/metrics /healthz", "maxConns", MaxConns)
	return addrOut, nil
}
