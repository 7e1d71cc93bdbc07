package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// uploadMetrics are the image upload's metrics, registered when a camera first uploads.
type uploadMetrics struct {
	once     sync.Once
	mu       sync.Mutex
	uploads  *prometheus.CounterVec
	failures *prometheus.CounterVec
	waiting  *prometheus.GaugeVec
	dropped  *prometheus.CounterVec
	seen     map[string]uint64 // dropped totals already counted, per camera
}

func (m *Metrics) uploadSet() *uploadMetrics {
	u := &m.up
	u.once.Do(func() {
		u.uploads = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgecam_uploads_total", Help: "Images stored in Azure Blob Storage through IoT Hub file upload, per camera.",
		}, []string{"camera"})
		u.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgecam_upload_errors_total", Help: "Failed image upload attempts (the image stays on disk), per camera.",
		}, []string{"camera"})
		u.waiting = prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "edgecam_upload_waiting", Help: "Images waiting on disk for upload, per camera.",
		}, []string{"camera"})
		u.dropped = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgecam_upload_dropped_total", Help: "Images dropped because the upload spool's byte budget was full, per camera.",
		}, []string{"camera"})
		u.seen = map[string]uint64{}
		m.reg.MustRegister(u.uploads, u.failures, u.waiting, u.dropped)
	})
	return u
}

// Uploaded counts one upload attempt of camera's.
func (m *Metrics) Uploaded(camera string, ok bool) {
	u := m.uploadSet()
	if ok {
		u.uploads.WithLabelValues(camera).Inc()
	} else {
		u.failures.WithLabelValues(camera).Inc()
	}
}

// UploadWaiting sets the images waiting and the spool's dropped total (since start) of camera's.
func (m *Metrics) UploadWaiting(camera string, waiting int, droppedTotal uint64) {
	u := m.uploadSet()
	u.waiting.WithLabelValues(camera).Set(float64(waiting))
	u.mu.Lock()
	defer u.mu.Unlock()
	if d := droppedTotal - u.seen[camera]; droppedTotal > u.seen[camera] {
		u.dropped.WithLabelValues(camera).Add(float64(d))
		u.seen[camera] = droppedTotal
	}
}
