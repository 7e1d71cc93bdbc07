package camera

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/testfixture"
)

// hostileCases are what edgecam must say for each misbehaviour of testfixture.HostileCamera.
var hostileCases = map[string][]string{
	"/huge-header":         {"response headers are larger than 64 KiB"},
	"/many-challenges":     {"401 Unauthorized", `unsupported authentication scheme "b"`},
	"/slow-drip":           {"no complete answer within 1s (timeout)"},
	"/endless-chunked":     {"image larger than 1048576 bytes (raise maxBytes"},
	"/html":                {"the camera sent a web page (Content-Type text/html; charset=utf-8)"},
	"/wrong-type":          {`not a JPEG or PNG image (29 bytes starting "{\"error\"`, `(Content-Type "application/json")`},
	"/jpeg-bomb":           {"image is 16000x16000 (256 megapixels), more than the limit of 40 megapixels (raise maxPixels"},
	"/png-bomb":            {"image is 12000x12000 (144 megapixels), more than the limit of 40 megapixels"},
	"/truncated":           {"truncated JPEG (no end-of-image marker)"},
	"/digest-then-basic":   {"offered Digest authentication before and now offers only Basic: refusing to send the password in clear"},
	"/cross-host-redirect": {"the camera redirects to http://127.0.0.1:", "another host or scheme, which redirects: same-host refuses"},
	"/hidden-frame":        {"corrupt JPEG (FF 00 at byte 136 where a marker should be)"},
}

// Every hostile camera gets a clear error; the password never leaves as Basic after Digest, a
// redirect never reaches the other host, and no error shows a secret from the URL.
func TestHTTPHostileCamera(t *testing.T) {
	cam := testfixture.StartHostileCamera(t, readPhoto(t, "bus.jpg"))
	for _, path := range testfixture.HostilePaths {
		want, ok := hostileCases[path]
		if !ok {
			t.Fatalf("no expectation for %s", path)
		}
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			src, err := New(config.Camera{ID: "evil", Type: config.TypeHTTP, URL: cam.URL + path + "?user=admin&pwd=hunter2q",
				Username: "admin", Password: "hunter2p", Timeout: time.Second, MaxBytes: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			defer Close(src)
			start := time.Now()
			var err2 error
			for range 2 { // twice: the downgrade comes on the second capture
				_, err2 = src.Capture(testCtx(t))
			}
			wantErr(t, err2, append([]string{"camera evil: GET " + cam.URL + path + "?user=*****&pwd=*****"}, want...)...)
			if strings.Contains(err2.Error(), "hunter2") {
				t.Errorf("error shows a secret: %v", err2)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
	if n := cam.BasicSeen.Load(); n != 0 {
		t.Errorf("%d requests sent Basic credentials", n)
	}
	if n := cam.ElsewhereHits.Load(); n != 0 {
		t.Errorf("the cross-host redirect reached the other host %d times", n)
	}
}

func TestHTTPAuthPinAndRedirectPolicy(t *testing.T) {
	bus := readPhoto(t, "bus.jpg")
	cam := testfixture.StartHostileCamera(t, bus)
	capture := func(path string, mod func(*config.Camera)) error {
		c := config.Camera{ID: "c", Type: config.TypeHTTP, URL: cam.URL + path, Username: "admin", Password: "pw", Timeout: 5 * time.Second}
		if mod != nil {
			mod(&c)
		}
		src, err := New(c)
		if err != nil {
			return err
		}
		defer Close(src)
		_, err = src.Capture(testCtx(t))
		return err
	}
	// auth: digest never answers a Basic challenge.
	srv := basicServer(t, bus)
	src, err := New(httpCamera(srv.URL+"/snap.jpg", func(c *config.Camera) { c.Auth = config.AuthDigest }))
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Capture(testCtx(t))
	wantErr(t, err, "does not offer Digest authentication (offered: basic) but auth: digest is set")
	// auth: basic against a Digest-only camera.
	wantErr(t, capture("/digest-then-basic", func(c *config.Camera) { c.Auth = config.AuthBasic }),
		"does not offer Basic authentication (offered: digest) but auth: basic is set")
	if cam.BasicSeen.Load() != 0 {
		t.Fatal("Basic sent")
	}

	// redirects: any follows the cross-host redirect; none refuses even a same-host one.
	if err := capture("/cross-host-redirect", func(c *config.Camera) { c.Redirects = config.RedirectsAny }); err != nil {
		t.Errorf("redirects: any: %v", err)
	}
	if cam.ElsewhereHits.Load() != 1 {
		t.Errorf("other host hit %d times, want 1", cam.ElsewhereHits.Load())
	}
	wantErr(t, capture("/cross-host-redirect", func(c *config.Camera) { c.Redirects = config.RedirectsNone }),
		"redirects: none follows no redirect")
	if _, err := New(httpCamera(cam.URL, func(c *config.Camera) { c.Auth = "ntlm" })); err == nil {
		t.Error("auth ntlm accepted")
	}
}

// Basic over plain HTTP works (a camera's choice) but logs a warning, once per source.
func TestHTTPBasicOverPlainHTTPWarns(t *testing.T) {
	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	srv := basicServer(t, readPhoto(t, "bus.jpg"))
	src, err := New(httpCamera(srv.URL+"/snap.jpg?token=hunter9", nil))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := src.Capture(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	out := logs.String()
	if strings.Count(out, "Basic authentication over plain HTTP") != 1 || !strings.Contains(out, "camera=cam1") {
		t.Errorf("want one warning, got:\n%s", out)
	}
	if strings.Contains(out, "hunter9") || strings.Contains(out, "s3cret") {
		t.Errorf("a secret in the log:\n%s", out)
	}
}

// A frame over maxPixels is refused before decoding by the file source and by Frame.Decode.
func TestFramePixelLimit(t *testing.T) {
	bomb := testfixture.PatchJPEGSize(readPhoto(t, "bus.jpg"), 16000, 16000)
	f := &Frame{Camera: "c", Data: bomb}
	if _, err := f.Decode(); err == nil || !strings.Contains(err.Error(), "256 megapixels") {
		t.Errorf("Decode of a bomb: %v", err)
	}
	if w, h, err := f.Size(); err != nil || w != 16000 || h != 16000 {
		t.Errorf("Size = %dx%d, %v", w, h, err)
	}
	small := &Frame{Camera: "c", Data: readPhoto(t, "bus.jpg"), MaxPixels: 810*1080 - 1}
	if _, err := small.Decode(); err == nil || !strings.Contains(err.Error(), "raise maxPixels") {
		t.Errorf("Decode over a custom limit: %v", err)
	}
	if err := CheckFrameSize("c", "rtsp stream", 8000, 6000, 0); err == nil || !strings.Contains(err.Error(), "camera c: rtsp stream: image is 8000x6000 (48 megapixels)") {
		t.Errorf("CheckFrameSize: %v", err)
	}
}

// File and rpi frames are checked against maxPixels from the header too.
func TestFileAndRPiPixelLimit(t *testing.T) {
	dir := t.TempDir()
	bomb := filepath.Join(dir, "bomb.png")
	if err := os.WriteFile(bomb, testfixture.PNGBomb(), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := New(config.Camera{ID: "f", Type: config.TypeFile, Path: bomb})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Capture(testCtx(t))
	wantErr(t, err, "camera f: "+bomb+": image is 12000x12000 (144 megapixels), more than the limit of 40 megapixels")

	bin := fakePath(t)
	fakeTool(t, bin, "rpicam-still", "exec /bin/cat "+bomb)
	src, err = New(config.Camera{ID: "pi", Type: config.TypeRPi, MaxPixels: 1_000_000})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Capture(testCtx(t))
	wantErr(t, err, "camera pi: rpicam-still output: image is 12000x12000 (144 megapixels), more than the limit of 1 megapixels")
}

// A body that cannot start an image, or whose header announces too many pixels, is refused
// from its first 64 KiB: the rest is never downloaded or buffered.
func TestHTTPRefusesFromTheFirstBytes(t *testing.T) {
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		buf := bytes.Repeat([]byte("garbage "), 8<<10)
		for r.Context().Err() == nil {
			n, err := w.Write(buf)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	src, err := New(httpCamera(srv.URL+"/snap.jpg", func(c *config.Camera) { c.MaxBytes = 512 << 20 }))
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Capture(testCtx(t))
	wantErr(t, err, `not a JPEG or PNG image (65536 bytes starting "garbage garbage`)
	Close(src)
	srv.CloseClientConnections()
	if n := sent.Load(); n > 64<<20 {
		t.Errorf("the server sent %d MB before the capture gave up", n>>20)
	}
}
