package daemon_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/emulator"
	"github.com/edgecam/edgecam/internal/metrics"
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

// TestRTSPFrozenServer: the RTSP server process is frozen (SIGSTOP: its connections stay open
// and no packet flows, as with a hung camera) for 15 s while the daemon ticks every 2 s, then
// thawed. For H.264 and H.265: at most one tally is scored from a frame of before the freeze
// (the frame age bound), the skipped ticks warn how old the frame is, edgecam_camera_up drops
// to 0, and tallies come again within 10 s of the thaw, stamped with their frames' times.
func TestRTSPFrozenServer(t *testing.T) {
	testfixture.RequireFFmpeg(t)
	testfixture.RequireFreezable(t)
	if testing.Short() {
		t.Skip("RTSP freeze test skipped in -short mode")
	}
	for _, codec := range []string{"h264", "h265"} {
		t.Run(codec, func(t *testing.T) {
			clip := testfixture.MakeClipWith(t, testfixture.ClipOptions{Photo: photo(t, "bus.jpg"), Codec: codec})
			feed := testfixture.StartRTSPFeed(t, testfixture.FreeAddr(t), clip)
			defer feed.Stop()
			defer feed.Thaw()

			e := startEmulator(t)
			cfg := dpsConfig(t, e)
			cfg.Schedule.Period = config.Duration(2 * time.Second)
			cfg.Detection.ScoreThreshold = 0.4
			cfg.Cameras = append(cfg.Cameras, config.Camera{ID: "gate", Type: config.TypeRTSP, URL: feed.URL("", "")})
			lr, log := newLogRecorder(t)
			m := metrics.New()
			startDaemon(t, cfg, log, m)
			if _, err := e.WaitTelemetry(waitCtx(t), 2, emulator.FromDevice("gate")); err != nil {
				t.Fatal(err)
			}

			feed.Freeze()
			frozen := time.Now()
			time.Sleep(6 * time.Second)
			if up := cameraUp(m, "gate"); up != 0 {
				t.Errorf("edgecam_camera_up = %v 6 s into the freeze, want 0", up)
			}
			time.Sleep(9 * time.Second)
			feed.Thaw()
			thawed := time.Now()

			msgs, err := e.WaitTelemetry(waitCtx(t), 1, func(m emulator.Telemetry) bool {
				return m.DeviceID == "gate" && createdAt(t, m).After(thawed)
			})
			if err != nil {
				t.Fatal(err)
			}
			var back time.Time
			for _, m := range msgs {
				if at := createdAt(t, m); at.After(thawed) && (back.IsZero() || at.Before(back)) {
					back = at
				}
			}
			t.Logf("%s: first tally after the thaw from a frame received %v after it", codec, back.Sub(thawed).Round(time.Millisecond))
			if back.Sub(thawed) > 10*time.Second {
				t.Errorf("first fresh tally %v after the thaw, want within 10 s", back.Sub(thawed).Round(time.Millisecond))
			}

			var stale, skipped int
			for _, r := range lr.find(ticks("gate", true)) {
				if r.Time.After(frozen) && r.Time.Before(thawed) {
					stale++
				}
			}
			for _, m := range e.Telemetry() {
				if at := createdAt(t, m); m.DeviceID == "gate" && at.After(frozen) && at.Before(thawed) {
					t.Errorf("tally stamped %s, inside the freeze: only frames received before it exist", at.Format(time.StampMilli))
				}
			}
			var firstWarn time.Time
			for _, r := range lr.find(warnings("gate")) {
				if r.Time.After(frozen) && r.Time.Before(thawed) && r.Msg == "tick skipped" {
					skipped++
					if firstWarn.IsZero() {
						firstWarn = r.Time
						t.Logf("first warning %v after the freeze: %v", r.Time.Sub(frozen).Round(time.Millisecond), r.Attrs["err"])
					}
					if err := fmt.Sprint(r.Attrs["err"]); !strings.Contains(err, "old, more than maxFrameAge") && !strings.Contains(err, "down since") {
						t.Errorf("warning %q says neither how old the frame is nor that the stream is down", err)
					}
				}
			}
			t.Logf("during the 15 s freeze: %d tallies scored, %d ticks skipped with a warning", stale, skipped)
			if stale > 1 {
				t.Errorf("%d tallies scored during the freeze, want at most 1 (from before it)", stale)
			}
			if skipped < 5 {
				t.Errorf("%d ticks skipped with a warning during the 15 s freeze at a 2 s period, want at least 5", skipped)
			}
			if up := cameraUp(m, "gate"); up != 1 {
				t.Errorf("edgecam_camera_up = %v after the recovery, want 1", up)
			}
		})
	}
}

// createdAt is a message's iothub-creation-time-utc.
func createdAt(t *testing.T, m emulator.Telemetry) time.Time {
	at, err := time.Parse(time.RFC3339Nano, m.Properties["iothub-creation-time-utc"])
	if err != nil {
		t.Fatalf("iothub-creation-time-utc %q: %v", m.Properties["iothub-creation-time-utc"], err)
	}
	return at
}

// cameraUp reads edgecam_camera_up of a camera from /metrics; -1 when it is missing.
func cameraUp(m *metrics.Metrics, camera string) float64 {
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	prefix := `edgecam_camera_up{camera="` + camera + `"} `
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}
