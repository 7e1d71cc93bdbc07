package daemon_test

import (
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/emulator"
	"github.com/edgecam/edgecam/internal/metrics"
)

// motion.skipUnchanged on a file camera (the same picture at every tick): the model runs at the
// first tick only, every tick still sends the tally (the people in bus.jpg stay counted), and the
// metrics count the skipped inferences.
func TestSkipUnchanged(t *testing.T) {
	e := startEmulator(t)
	cfg := dpsConfig(t, e)
	cam := fileCamera("still", photo(t, "bus.jpg"))
	cam.Motion = &config.Motion{SkipUnchanged: true}
	cfg.Cameras = append(cfg.Cameras, cam)
	m := metrics.New()
	startDaemon(t, cfg, discardLogger(), m)
	msgs, err := e.WaitTelemetry(waitCtx(t), 4, emulator.FromDevice("still"))
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range msgs {
		var body map[string]int
		if err := json.Unmarshal(msg.Body, &body); err != nil {
			t.Fatal(err)
		}
		if body["person"] != 3 {
			t.Errorf("tally %s, want bus.jpg's 3 people at every tick", msg.Body)
		}
	}
	inferred, skipped := metricValue(m, `edgecam_inferences_total{camera="still"}`), metricValue(m, `edgecam_inferences_skipped_total{camera="still"}`)
	if inferred != 1 || skipped < 3 {
		t.Fatalf("inferences %v, skipped %v after 4 ticks of an unchanged picture; want 1 and at least 3", inferred, skipped)
	}
}

// metricValue reads one sample from /metrics; -1 when it is missing.
func metricValue(m *metrics.Metrics, series string) float64 {
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}
