package daemon_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/memtune"
	"github.com/edgecam/edgecam/internal/testfixture"
)

// TestNoNativeLeakPerTick is the leak check of issue 16, by counts, not by time: the real
// pipeline (capture, detection, tally, queue, hub, imageFile and markedUpFile) runs a few ticks of
// every camera kind (and a camera with detection.tiles), then more ticks; afterwards every gocv Mat is closed again (gocv's Mat
// profile, -tags matprofile: make test runs it so) but the detector's reused decode frames (at
// most two Mats per camera decoding at once, kept from the first ticks on), and the C heap in use
// did not grow with the number of ticks.
func TestNoNativeLeakPerTick(t *testing.T) {
	if openMats() < 0 {
		t.Skip("counting Mats needs -tags matprofile (make test runs this test with it)")
	}
	e := startEmulator(t)
	dir := t.TempDir()
	cams := []config.Camera{
		fileCamera("file", photo(t, "bus.jpg")),
		{ID: "http", Type: config.TypeHTTP, URL: snapshotServer(t, photo(t, "zidane.jpg"), "u", "p", nil).URL,
			Username: "u", Password: "p"},
		{ID: "rpi", Type: config.TypeRPi, Command: fakeStill(t, photo(t, "dog.jpg"))},
		{ID: "marked", Type: config.TypeFile, Path: photo(t, "kite.jpg"),
			ImageFile: filepath.Join(dir, "frame.jpg"), MarkedUpFile: filepath.Join(dir, "marked.jpg")},
		// detection.tiles: a region Mat per tile, each closed
		{ID: "tiled", Type: config.TypeFile, Path: photo(t, "zidane.jpg"),
			Detection: &config.DetectionOverride{Tiles: &config.Tiles{Mode: config.TilesGrid, Cols: 2, Rows: 1}}},
	}
	if _, err := exec.LookPath("ffmpeg"); err == nil {
		addr := testfixture.FreeAddr(t)
		feed := testfixture.StartRTSPFeed(t, addr, testfixture.MakeClip(t, photo(t, "bus.jpg")))
		t.Cleanup(feed.Stop)
		cams = append(cams, config.Camera{ID: "rtsp", Type: config.TypeRTSP, URL: "rtsp://" + addr + "/cam",
			ImageFile: filepath.Join(dir, "rtsp.jpg"), MarkedUpFile: filepath.Join(dir, "rtsp-marked.jpg")})
	} else {
		t.Log("ffmpeg missing: the rtsp camera is left out (make deps installs ffmpeg)")
	}
	detector(t) // the shared detector's own Mats are part of the baseline
	baseMats := openMats()

	// run starts the daemon, waits for n ticks of every camera, stops it and returns the C heap in use.
	run := func(n int) uint64 {
		t.Helper()
		cfg := dpsConfig(t, e)
		cfg.Cameras = cams
		lr, log := newLogRecorder(t)
		r := startDaemon(t, cfg, log, nil)
		for _, c := range cams {
			if _, err := lr.wait(waitCtx(t), n, anyTick(c.ID)); err != nil {
				t.Fatalf("camera %s: %v (warnings: %v)", c.ID, err, lr.find(warnings(c.ID)))
			}
		}
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
		// The detector's reused decode frames hold whichever image sizes came last: released,
		// so that only what the ticks left behind is counted.
		if err := detector(t).ReleaseFrames(); err != nil {
			t.Fatal(err)
		}
		if got := openMats(); got != baseMats {
			t.Fatalf("after %d ticks per camera: %d gocv Mats open, %d before: leaked Mats were created here:\n%s",
				n, got, baseMats, openMatsProfile())
		}
		memtune.Trim()
		return memtune.InUse()
	}
	const few, more = 2, 6
	a := run(few)
	b := run(more)
	ticks := (more - few) * len(cams)
	t.Logf("C heap in use: %.1f MB after %d ticks per camera, %.1f MB after %d", mb(a), few, mb(b), more)
	// A leaked encoded JPEG or decoded frame is 100 KB to 3 MB per tick; allocator noise
	// (ffmpeg's and ONNX Runtime's thread caches) stays well under 64 KB per tick.
	if b > a && b-a > uint64(ticks)*64<<10 {
		t.Fatalf("C heap in use grew %.2f MB over %d more ticks (%d KB per tick): a native leak per tick",
			mb(b-a), ticks, (b-a)/uint64(ticks)>>10)
	}
}

func mb(b uint64) float64 { return float64(b) / 1e6 }

func anyTick(camera string) func(logRecord) bool {
	return func(r logRecord) bool { return r.Msg == "tick" && r.Attrs["camera"] == camera }
}

// fakeStill writes a stand-in for rpicam-still that prints photo as the JPEG on stdout.
func fakeStill(t *testing.T, photo string) string {
	p := filepath.Join(t.TempDir(), "rpicam-still")
	if err := os.WriteFile(p, []byte(fmt.Sprintf("#!/bin/sh\nexec /bin/cat %q\n", photo)), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}
