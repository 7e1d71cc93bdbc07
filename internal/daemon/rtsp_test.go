package daemon_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/emulator"
	"github.com/edgecam/edgecam/internal/testfixture"
)

// TestRTSPCameraEndToEnd: an RTSP camera (an in-process RTSP server fed by ffmpeg looping a
// clip of bus.jpg) through the daemon: decoded frames go to the detector as Mats, the tallies
// reach the hub, and imageFile gets the frame encoded as JPEG.
func TestRTSPCameraEndToEnd(t *testing.T) {
	testfixture.RequireFFmpeg(t)
	clip := testfixture.MakeClip(t, photo(t, "bus.jpg"))
	addr := testfixture.FreeAddr(t)
	feed := testfixture.StartRTSPFeed(t, addr, clip)
	defer feed.Stop()

	e := startEmulator(t)
	cfg := dpsConfig(t, e)
	// bus.jpg: persons 0.823, 0.816, 0.676, bus 0.526, the next person 0.164: 0.4 leaves room
	// for the clip's re-encoding.
	cfg.Detection.ScoreThreshold = 0.4
	frame := filepath.Join(t.TempDir(), "last.jpg")
	cfg.Cameras = append(cfg.Cameras, config.Camera{ID: "gate", Type: config.TypeRTSP, URL: "rtsp://" + addr + "/cam", ImageFile: frame})
	lr, log := newLogRecorder(t)
	startDaemon(t, cfg, log, nil)

	msgs, err := e.WaitTelemetry(waitCtx(t), 2, emulator.FromDevice("gate"))
	if err != nil {
		t.Fatalf("%v\n%v", err, lr.all())
	}
	for _, m := range msgs {
		var body map[string]int
		if err := json.Unmarshal(m.Body, &body); err != nil {
			t.Fatal(err)
		}
		if body["person"] != 3 || body["bus"] != 1 || body["car"] != 0 {
			t.Errorf("rtsp tally %s, want 3 persons and the bus", m.Body)
		}
	}
	if _, err := os.Stat(frame); err != nil {
		t.Fatal(err)
	}
	img := gocv.IMRead(frame, gocv.IMReadColor)
	defer img.Close()
	if img.Cols() != 810 || img.Rows() != 1080 {
		t.Fatalf("imageFile from the stream: %dx%d, want 810x1080", img.Cols(), img.Rows())
	}
}
