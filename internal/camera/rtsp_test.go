package camera

import (
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/redact"
	"github.com/edgecam/edgecam/internal/testfixture"
	"github.com/edgecam/edgecam/internal/testfixture/dettest"
	"github.com/edgecam/edgecam/internal/yolo"
)

// TestRTSPStream runs the rtsp source against a real RTSP server on loopback fed by ffmpeg:
// frames arrive and the detector finds the photo's objects in them; while the server is down
// captures fail fast; they succeed again once it is back; Close leaves no goroutine or file
// descriptor behind.
func TestRTSPStream(t *testing.T) {
	testfixture.RequireFFmpeg(t)
	if testing.Short() {
		t.Skip("RTSP stream test skipped in -short mode")
	}
	clip := testfixture.MakeClip(t, photo(t, "bus.jpg"))
	addr := testfixture.FreeAddr(t)
	feed := testfixture.StartRTSPFeed(t, addr, clip)
	defer func() { feed.Stop() }()

	det := newDetector(t)
	defer det.Close()

	// Baselines with the server up and publishing and the detector loaded (ONNX Runtime keeps
	// files open), before the source exists.
	runtime.GC()
	baseGoroutines, baseFDs, baseMats := runtime.NumGoroutine(), openFDs(t), openMats()

	const timeout = 20 * time.Second
	src, err := New(config.Camera{ID: "door", Type: "rtsp", URL: "rtsp://" + addr + "/cam", Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			Close(src)
		}
	}()

	f, err := src.Capture(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if !f.HasMat() || f.Mat.Cols() != 810 || f.Mat.Rows() != 1080 || f.Data != nil {
		t.Fatalf("frame: hasMat %v, %dx%d, %d data bytes; want a decoded 810x1080 image", f.HasMat(), f.Mat.Cols(), f.Mat.Rows(), len(f.Data))
	}
	f.Close()
	// The photo, once the decoder has a key frame (a loaded machine may drop packets at first).
	f = captureResembling(t, src, photo(t, "bus.jpg"))
	detectBus(t, det, f.Mat)
	first := f.Time
	f.Close()

	// The next capture is a newer frame: the reader keeps draining the stream.
	waitFor(t, 30*time.Second, "a newer frame", func() bool {
		f, err := src.Capture(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		return f.Time.After(first)
	})

	// Outage: every capture returns quickly, and soon with a "down" error.
	feed.Stop()
	down := time.Now()
	var downErr error
	waitFor(t, 60*time.Second, "captures to fail while the server is down", func() bool {
		f, err := captureFast(t, src, 5*time.Second)
		if err == nil {
			f.Close()
			return false
		}
		downErr = err
		return true
	})
	t.Logf("stream down noticed after %v: %v", time.Since(down).Round(time.Millisecond), downErr)
	wantErr(t, downErr, "camera door", "rtsp stream rtsp://"+addr+"/cam")
	if !strings.Contains(downErr.Error(), "down since") && !strings.Contains(downErr.Error(), "stalled") {
		t.Errorf("error %q says neither down nor stalled", downErr)
	}
	for time.Since(down) < 3*time.Second {
		if f, err := captureFast(t, src, 5*time.Second); err == nil {
			f.Close()
			t.Fatal("capture succeeded while the server is down")
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Back up: captures succeed again after the reconnect backoff.
	feed = testfixture.StartRTSPFeed(t, addr, clip)
	up := time.Now()
	waitFor(t, 90*time.Second, "captures to succeed after the server came back", func() bool {
		f, err := captureFast(t, src, 5*time.Second)
		if err != nil {
			return false
		}
		f.Close()
		return true
	})
	captureResembling(t, src, photo(t, "bus.jpg")).Close()
	t.Logf("stream back %v after the server restarted", time.Since(up).Round(time.Millisecond))

	if err := Close(src); err != nil {
		t.Fatal(err)
	}
	closed = true
	if _, err := src.Capture(testCtx(t)); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("capture after Close: %v", err)
	}

	waitBaseline(t, baseGoroutines, baseFDs, baseMats)
}

// waitBaseline waits until the goroutine and open-file counts are back to their baselines: the
// source's own goroutines are gone at once, the server's for our connection end when it notices
// the connection closed.
func waitBaseline(t *testing.T, goroutines, fds, mats int) {
	t.Helper()
	if mats >= 0 {
		t.Logf("open Mats after Close: %d (baseline %d)", openMats(), mats)
	}
	if n := openMats(); n != mats {
		t.Errorf("after Close: %d open Mats, baseline %d (go test -tags matprofile)\n%s", n, mats, openMatsProfile())
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if runtime.NumGoroutine() <= goroutines && openFDs(t) <= fds {
			return
		}
	}
	var b strings.Builder
	pprof.Lookup("goroutine").WriteTo(&b, 1)
	t.Fatalf("after Close: %d goroutines (baseline %d), %d fds (baseline %d)\n%s\n%s",
		runtime.NumGoroutine(), goroutines, openFDs(t), fds, b.String(), fdList())
}

// TestRTSPUnreachable: a stream that cannot be opened fails fast with a clear error, keeps
// retrying in the background, and Close stops it.
func TestRTSPUnreachable(t *testing.T) {
	addr := testfixture.FreeAddr(t) // nothing listens there
	src, err := New(config.Camera{ID: "gate", Type: "rtsp", URL: "rtsp://admin:secret@" + addr + "/stream", Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = captureFast(t, src, 10*time.Second)
	wantErr(t, err, "camera gate", "rtsp stream "+redact.URL("rtsp://admin:secret@"+addr+"/stream")+" down since", "reconnecting", "cannot open the stream")
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error shows the password: %v", err)
	}
	if err := Close(src); err != nil {
		t.Fatal(err)
	}
}

// captureFast captures once and fails the test if that took longer than limit.
func captureFast(t *testing.T, src Source, limit time.Duration) (*Frame, error) {
	t.Helper()
	start := time.Now()
	f, err := src.Capture(testCtx(t))
	if d := time.Since(start); d > limit {
		t.Fatalf("capture took %v (err %v), want under %v: a capture must not hang on a dead stream", d, err, limit)
	}
	return f, err
}

// waitFor polls cond until it is true or the deadline passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); ; time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, limit)
		}
	}
}

// captureResembling captures until a frame resembles the photo the stream was encoded from
// (mean absolute difference per channel below 8; another photo or a frame decoded without its
// references gives 30 and more), and fails the test if none does within 30 s.
func captureResembling(t *testing.T, src Source, photoPath string) *Frame {
	t.Helper()
	want := gocv.IMRead(photoPath, gocv.IMReadColor)
	defer want.Close()
	diff := gocv.NewMat()
	defer diff.Close()
	var last gocv.Scalar
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		f, err := src.Capture(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if f.Mat.Cols() == want.Cols() && f.Mat.Rows() == want.Rows() {
			gocv.AbsDiff(f.Mat, want, &diff)
			last = diff.Mean()
			if last.Val1 < 8 && last.Val2 < 8 && last.Val3 < 8 {
				return f
			}
		}
		f.Close()
	}
	t.Fatalf("no frame resembling %s within 30s: last mean absolute difference per channel %.1f %.1f %.1f",
		filepath.Base(photoPath), last.Val1, last.Val2, last.Val3)
	return nil
}

// newDetector loads the YOLOv5n detector from the shared models folder.
func newDetector(t *testing.T) *yolo.Detector { return dettest.Open(t, yolo.Options{}) }

// detectBus runs the detector on img and expects bus.jpg's objects (see testdata/README.md):
// people and the bus.
func detectBus(t *testing.T, det *yolo.Detector, img gocv.Mat) {
	t.Helper()
	var res yolo.Result
	if err := det.Detect(img, &res); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, d := range res.Detections {
		count[d.Label]++
	}
	t.Logf("detections in the RTSP frame: %v", res.Detections)
	if count["person"] < 2 || count["bus"] != 1 {
		t.Errorf("detections %v: want at least 2 people and the bus", count)
	}
}

// TestRTSPStall: the server stays connected but sends nothing (a frozen camera). The watchdog
// notices within the timeout, captures fail fast, and Close returns once the blocked read
// gives up (FFmpeg socket timeout), leaving nothing behind.
func TestRTSPStall(t *testing.T) {
	testfixture.RequireFFmpeg(t)
	testfixture.RequireFreezable(t)
	if testing.Short() {
		t.Skip("RTSP stall test skipped in -short mode")
	}
	clip := testfixture.MakeClip(t, photo(t, "bus.jpg"))
	addr := testfixture.FreeAddr(t)
	feed := testfixture.StartRTSPFeed(t, addr, clip)
	defer func() { feed.Stop() }()
	runtime.GC()
	baseGoroutines, baseFDs, baseMats := runtime.NumGoroutine(), openFDs(t), openMats()

	src, err := New(config.Camera{ID: "door", Type: "rtsp", URL: "rtsp://" + addr + "/cam", Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	opening := time.Now()
	waitFor(t, 60*time.Second, "a first frame", func() bool {
		f, err := src.Capture(testCtx(t))
		if err != nil {
			t.Logf("waiting for the stream: %v", err)
			return false
		}
		f.Close()
		return true
	})
	t.Logf("first frame after %v", time.Since(opening).Round(time.Millisecond))

	// Freeze the publisher: the connections stay open, no packet flows.
	feed.Freeze()
	defer feed.Thaw()
	stalled := time.Now()
	var stallErr error
	waitFor(t, 60*time.Second, "captures to fail while the stream is frozen", func() bool {
		f, err := captureFast(t, src, 2*time.Second)
		if err == nil {
			f.Close()
			return false
		}
		stallErr = err
		return true
	})
	t.Logf("stall noticed after %v: %v", time.Since(stalled).Round(time.Millisecond), stallErr)

	start := time.Now()
	if err := Close(src); err != nil {
		t.Fatal(err)
	}
	t.Logf("Close took %v", time.Since(start).Round(time.Millisecond))
	waitBaseline(t, baseGoroutines, baseFDs, baseMats)
}

// TestRTSPVariants: H.265, the UDP transport, and Digest authentication (credentials in the URL
// or in username/password) each deliver the photo; a wrong password says so, without showing it.
func TestRTSPVariants(t *testing.T) {
	testfixture.RequireFFmpeg(t)
	if testing.Short() {
		t.Skip("RTSP tests skipped in -short mode")
	}
	h264 := testfixture.MakeClip(t, photo(t, "bus.jpg"))
	cases := []struct {
		name  string
		codec string
		opts  testfixture.RTSPOptions
		cam   func(f *testfixture.RTSPFeed) config.Camera
	}{
		{"h265", "h265", testfixture.RTSPOptions{}, func(f *testfixture.RTSPFeed) config.Camera {
			return config.Camera{URL: f.URL("", "")}
		}},
		{"udp", "h264", testfixture.RTSPOptions{UDP: true}, func(f *testfixture.RTSPFeed) config.Camera {
			return config.Camera{URL: f.URL("", ""), Transport: config.TransportUDP}
		}},
		{"digest in url", "h264", testfixture.RTSPOptions{User: "admin", Pass: "s3cret"}, func(f *testfixture.RTSPFeed) config.Camera {
			return config.Camera{URL: f.URL("admin", "s3cret")}
		}},
		{"digest keys, h265 over udp", "h265", testfixture.RTSPOptions{User: "admin", Pass: "s3cret", UDP: true}, func(f *testfixture.RTSPFeed) config.Camera {
			return config.Camera{URL: f.URL("", ""), Username: "admin", Password: "s3cret", Transport: config.TransportAuto}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clip := h264
			if tc.codec == "h265" {
				clip = testfixture.MakeClipWith(t, testfixture.ClipOptions{Photo: photo(t, "bus.jpg"), Codec: "h265"})
			}
			feed := testfixture.StartRTSPFeedWith(t, testfixture.FreeAddr(t), clip, tc.opts)
			defer feed.Stop()
			c := tc.cam(feed)
			c.ID, c.Type, c.Timeout = "door", config.TypeRTSP, 20*time.Second
			src, err := New(c)
			if err != nil {
				t.Fatal(err)
			}
			defer Close(src)
			f := captureResembling(t, src, photo(t, "bus.jpg"))
			if age := time.Since(f.Time); age > 2*time.Second || age < 0 {
				t.Errorf("frame time %v ago, want the arrival of a current frame", age)
			}
			f.Close()
			if st := src.(StatusReporter).Status(); !st.Up {
				t.Errorf("status %+v while playing", st)
			}
		})
	}

	t.Run("pixel limit", func(t *testing.T) {
		feed := testfixture.StartRTSPFeed(t, testfixture.FreeAddr(t), h264)
		defer feed.Stop()
		src, err := New(config.Camera{ID: "door", Type: config.TypeRTSP, URL: feed.URL("", ""), Timeout: 20 * time.Second, MaxPixels: 800 * 1000})
		if err != nil {
			t.Fatal(err)
		}
		defer Close(src)
		_, err = src.Capture(testCtx(t))
		wantErr(t, err, "camera door", "810x1080", "more than the limit of 0.8 megapixels")
	})

	t.Run("wrong password", func(t *testing.T) {
		feed := testfixture.StartRTSPFeedWith(t, testfixture.FreeAddr(t), h264, testfixture.RTSPOptions{User: "admin", Pass: "s3cret"})
		defer feed.Stop()
		src, err := New(config.Camera{ID: "door", Type: config.TypeRTSP, URL: feed.URL("admin", "wrong-pw"), Timeout: 20 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer Close(src)
		_, err = captureFast(t, src, 15*time.Second)
		wantErr(t, err, "camera door", "down since", "401", "wrong user or password")
		if strings.Contains(err.Error(), "wrong-pw") {
			t.Errorf("error shows the password: %v", err)
		}
	})
}

// TestRTSPFreezeAndThaw: a frozen server (SIGSTOP) at the source level. Captures within
// maxFrameAge of the freeze may return a frame from before it; later ones fail saying how old
// the frame is or that the stream is down, and never return a frame received before the freeze;
// after the thaw the watchdog's reconnect brings current frames back; after the server is killed
// and restarted too. For H.264 and H.265. Logs the stall-detection and recovery times.
func TestRTSPFreezeAndThaw(t *testing.T) {
	testfixture.RequireFFmpeg(t)
	testfixture.RequireFreezable(t)
	if testing.Short() {
		t.Skip("RTSP tests skipped in -short mode")
	}
	for _, codec := range []string{"h264", "h265"} {
		t.Run(codec, func(t *testing.T) { freezeAndThaw(t, codec) })
	}
}

func freezeAndThaw(t *testing.T, codec string) {
	clip := testfixture.MakeClipWith(t, testfixture.ClipOptions{Photo: photo(t, "bus.jpg"), Codec: codec})
	addr := testfixture.FreeAddr(t)
	feed := testfixture.StartRTSPFeed(t, addr, clip)
	defer func() { feed.Stop() }()
	defer feed.Thaw()
	src, err := New(config.Camera{ID: "door", Type: config.TypeRTSP, URL: feed.URL("", ""), MaxFrameAge: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer Close(src)
	captureResembling(t, src, photo(t, "bus.jpg")).Close()

	feed.Freeze()
	frozen := time.Now()
	var firstFail time.Time
	for time.Since(frozen) < 8*time.Second {
		asked := time.Now()
		f, err := captureFast(t, src, 5*time.Second)
		if err == nil {
			// The age bound holds when the capture is asked; decoding takes a little longer.
			if firstFail.IsZero() && asked.Sub(f.Time) <= 1500*time.Millisecond {
				f.Close()
				time.Sleep(100 * time.Millisecond)
				continue
			}
			t.Fatalf("capture %v into the freeze returned a frame received %v before it was asked", asked.Sub(frozen), asked.Sub(f.Time))
		}
		if firstFail.IsZero() {
			firstFail = time.Now()
			t.Logf("first failed capture %v after the freeze: %v", firstFail.Sub(frozen).Round(time.Millisecond), err)
		}
		if !strings.Contains(err.Error(), "down since") && !strings.Contains(err.Error(), "maxFrameAge") {
			t.Errorf("error %q says neither how old the frame is nor that the stream is down", err)
		}
		if st := src.(StatusReporter).Status(); st.Up {
			t.Errorf("status up during the freeze: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	feed.Thaw()
	thawed := time.Now()
	waitFor(t, 30*time.Second, "a current frame after the thaw", func() bool {
		f, err := src.Capture(testCtx(t))
		if err != nil {
			return false
		}
		defer f.Close()
		return f.Time.After(thawed)
	})
	t.Logf("current frames again %v after the thaw", time.Since(thawed).Round(time.Millisecond))

	// Killed: captures fail within maxFrameAge; restarted: current frames again.
	feed.Stop()
	killed := time.Now()
	waitFor(t, 30*time.Second, "captures to fail after the server was killed", func() bool {
		f, err := captureFast(t, src, 5*time.Second)
		if err != nil {
			return true
		}
		f.Close()
		return false
	})
	t.Logf("failing %v after the kill", time.Since(killed).Round(time.Millisecond))
	feed = testfixture.StartRTSPFeed(t, addr, clip)
	restarted := time.Now()
	waitFor(t, 30*time.Second, "a current frame after the restart", func() bool {
		f, err := src.Capture(testCtx(t))
		if err != nil {
			return false
		}
		defer f.Close()
		return f.Time.After(restarted)
	})
	t.Logf("current frames again %v after the restart", time.Since(restarted).Round(time.Millisecond))
}

// TestRTSPBadURL: a URL the RTSP client cannot parse is refused by New without showing the password.
func TestRTSPBadURL(t *testing.T) {
	_, err := New(config.Camera{ID: "gate", Type: config.TypeRTSP, URL: "rtsp://admin:hunter2@cam era/x"})
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "camera gate") {
		t.Fatalf("bad URL: %v", err)
	}
	t.Log(err)
}
