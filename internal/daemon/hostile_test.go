package daemon_test

import (
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/emulator"
	"github.com/edgecam/edgecam/internal/testfixture"
)

// Hostile decoder inputs (issue 20) beside a good camera: an HTTP camera whose JPEG hides a
// 65500x65500 frame header, one sending a progressive JPEG of 100,000 scans, one sending a JPEG
// cut short with its end marker appended, and an RTSP camera streaming 2x2 pictures. Each
// fails its ticks with a clear warning; the good camera keeps sending its tallies and the
// daemon keeps running.
func TestHostileDecoderInputsBesideAGoodCamera(t *testing.T) {
	testfixture.RequireFFmpeg(t)
	e := startEmulator(t)
	cam := testfixture.StartHostileCamera(t, testfixture.SmallJPEG(64, 48))
	clip := testfixture.MakeClipWith(t, testfixture.ClipOptions{Lavfi: "color=c=0x3080E0", Width: 2, Height: 2})
	feed := testfixture.StartRTSPFeed(t, testfixture.FreeAddr(t), clip)
	defer feed.Stop()

	cfg := dpsConfig(t, e)
	want := map[string]string{
		"hidden-frame": "corrupt JPEG (FF 00 at byte 136 where a marker should be)",
		"many-scans":   "progressive JPEG with more than 500 scans",
		"cut-eoi":      "truncated JPEG",
		"tiny-rtsp":    "picture is 2x2, smaller than 16x16",
	}
	cfg.Cameras = []config.Camera{fileCamera("bus-stop", photo(t, "bus.jpg"))}
	for _, id := range []string{"hidden-frame", "many-scans", "cut-eoi"} {
		cfg.Cameras = append(cfg.Cameras, config.Camera{ID: id, Type: config.TypeHTTP, URL: cam.URL + "/" + id, Timeout: 5 * time.Second})
	}
	cfg.Cameras = append(cfg.Cameras, config.Camera{ID: "tiny-rtsp", Type: config.TypeRTSP, URL: feed.URL("", ""), Timeout: 20 * time.Second})
	lr, log := newLogRecorder(t)
	d := startDaemon(t, cfg, log, nil)

	ctx := waitCtx(t)
	for id := range want {
		if _, err := lr.wait(ctx, 2, warnings(id)); err != nil {
			t.Fatalf("%s: no two failed ticks: %v", id, err)
		}
	}
	n := len(fromDevice(e, "bus-stop"))
	if _, err := e.WaitTelemetry(ctx, n+2, emulator.FromDevice("bus-stop")); err != nil {
		t.Fatalf("bus-stop after every hostile camera failed twice: %v", err)
	}
	if exited, err := d.exited(); exited {
		t.Fatalf("Run returned: %v", err)
	}
	if err := d.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for id, phrase := range want {
		if got := fromDevice(e, id); len(got) != 0 {
			t.Errorf("%s sent %d messages, first %s", id, len(got), got[0].Body)
		}
		for _, r := range lr.find(warnings(id)) {
			if msg := r.String(); !strings.Contains(msg, phrase) {
				t.Errorf("%s: warning does not say %q: %s", id, phrase, msg)
			} else {
				t.Logf("%s: %s", id, msg)
				break
			}
		}
	}
	t.Logf("bus-stop sent %d tallies", len(fromDevice(e, "bus-stop")))
}
