package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// analysisMetrics count what motion detection saved, registered when a camera first uses it.
type analysisMetrics struct {
	once     sync.Once
	inferred *prometheus.CounterVec
	skipped  *prometheus.CounterVec
}

func (m *Metrics) analysisSet() *analysisMetrics {
	a := &m.an
	a.once.Do(func() {
		a.inferred = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgecam_inferences_total", Help: "Frames the model ran on, per camera (cameras with motion detection).",
		}, []string{"camera"})
		a.skipped = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgecam_inferences_skipped_total",
			Help: "Frames the model did not run on because nothing moved (the last detections stand), per camera.",
		}, []string{"camera"})
		m.reg.MustRegister(a.inferred, a.skipped)
	})
	return a
}

// Inference counts a frame of camera the model ran on (skipped false) or not (true).
func (m *Metrics) Inference(camera string, skipped bool) {
	a := m.analysisSet()
	if skipped {
		a.skipped.WithLabelValues(camera).Inc()
	} else {
		a.inferred.WithLabelValues(camera).Inc()
	}
}
