package daemon_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/daemon"
	"github.com/edgecam/edgecam/internal/metrics"
)

// TestTilesTick: a camera with detection.tiles {cols: 2, rows: 2} detects each frame on four
// tiles and the whole frame; the tick log gives the tile count and the metrics the tiles and the
// tiling time, while a camera without tiles logs no tiles.
func TestTilesTick(t *testing.T) {
	e := startEmulator(t)
	e.StopListeners() // delivery is not what this test is about
	cfg := dpsConfig(t, e)
	full := true
	cfg.Cameras = append(cfg.Cameras, fileCamera("tiled", photo(t, "bus.jpg")), fileCamera("plain", photo(t, "bus.jpg")))
	cfg.Cameras[0].Detection = &config.DetectionOverride{Tiles: &config.Tiles{Cols: 2, Rows: 2, Full: &full}}
	lr, log := newLogRecorder(t)
	m := metrics.New()
	defer startDaemonWith(t, daemon.Options{Config: cfg, Logger: log, Metrics: m}).stopOK(t)
	recs, err := lr.wait(waitCtx(t), 2, ticks("tiled", true))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := recs[0].Attrs["tiles"].(int64); n != 5 {
		t.Errorf("tick log tiles = %v (%T), want 5", recs[0].Attrs["tiles"], recs[0].Attrs["tiles"])
	}
	plain, err := lr.wait(waitCtx(t), 1, ticks("plain", true))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := plain[0].Attrs["tiles"]; ok {
		t.Errorf("a camera without tiles logs tiles: %v", plain[0].Attrs)
	}
	if got := testutil.ToFloat64(m.Tiles.WithLabelValues("tiled")); got != 5 {
		t.Errorf("edgecam_detect_tiles = %v, want 5", got)
	}
	if n := testutil.CollectAndCount(m.TilingSeconds, "edgecam_tiling_seconds"); n != 1 {
		t.Errorf("edgecam_tiling_seconds has %d series, want the tiled camera's", n)
	}
}
