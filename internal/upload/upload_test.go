package upload_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/emulator"
	"github.com/edgecam/edgecam/internal/iothub"
	"github.com/edgecam/edgecam/internal/testfixture"
	"github.com/edgecam/edgecam/internal/testfixture/emutest"
	"github.com/edgecam/edgecam/internal/upload"
)

const (
	camID  = "cam1"
	camKey = "c2VjcmV0LWtleS1mb3ItY2FtMS10aGF0LWlzLWxvbmctZW5vdWdoIQ=="
)

type env struct {
	az *testfixture.Azurite
	em *emulator.Emulator
	fu *iothub.FileUpload
}

func startEnv(t *testing.T) *env {
	t.Helper()
	az := testfixture.StartAzurite(t)
	em := emutest.Start(t, emulator.Config{
		StateDir:   t.TempDir(),
		Devices:    []emulator.Device{{ID: camID, Key: camKey}},
		FileUpload: emulator.FileUploadConfig{BlobURL: az.AccountURL()},
	})
	fu, err := iothub.NewFileUpload(iothub.Options{Host: em.HubHost(), DeviceID: camID, Key: camKey, CAFile: em.CAFile()})
	if err != nil {
		t.Fatal(err)
	}
	return &env{az: az, em: em, fu: fu}
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func testJPEG(t testing.TB, w, h int, shade uint8) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{shade, uint8(x), uint8(y), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// runUploader starts an uploader on spool against e and stops it at the end of the test.
func runUploader(t *testing.T, e *env, spool *upload.Spool, onUpload func(error)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	u := &upload.Uploader{
		Camera: camID, Spool: spool, OnUpload: onUpload, MaxBackoff: 500 * time.Millisecond,
		Target: func() (*iothub.FileUpload, <-chan struct{}) { return e.fu, nil },
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	go func() { defer close(done); u.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func waitEmpty(ctx context.Context, t *testing.T, s *upload.Spool) {
	t.Helper()
	for s.Len() > 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("%d images still waiting in the spool", s.Len())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// listBlobs reads every blob in the emulator's container straight from Azurite.
func listBlobs(_ context.Context, t *testing.T, e *env) map[string]testfixture.Blob {
	t.Helper()
	return e.az.Blobs(t, emulator.DefaultBlobContainer)
}

func openSpool(t *testing.T, budget int64, log *slog.Logger) *upload.Spool {
	s, err := upload.OpenSpool(t.TempDir(), budget, log)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Images land as blobs named <camera>/<capture time>.jpg with content type image/jpeg, the
// capture time and tally as metadata, and decode to the frame size; the hub hears each outcome.
func TestImagesLandAsBlobs(t *testing.T) {
	e := startEnv(t)
	ctx := waitCtx(t)
	spool := openSpool(t, 10<<20, nil)
	base := time.Date(2026, 11, 29, 19, 0, 0, 123e6, time.UTC)
	for i := range 3 {
		tally := fmt.Sprintf(`{"bus":%d,"person":4}`, i+1)
		if err := spool.Push(upload.Image{Time: base.Add(time.Duration(i) * time.Second), Tally: []byte(tally), JPEG: testJPEG(t, 64+i, 48, uint8(i*40))}); err != nil {
			t.Fatal(err)
		}
	}
	runUploader(t, e, spool, nil)
	waitEmpty(ctx, t, spool)

	blobs := listBlobs(ctx, t, e)
	if len(blobs) != 3 {
		t.Fatalf("want 3 blobs, got %d: %v", len(blobs), blobs)
	}
	for i := range 3 {
		at := base.Add(time.Duration(i) * time.Second)
		name := fmt.Sprintf("cam1/20261129T1900%02d.123Z.jpg", i)
		b, ok := blobs[name]
		if !ok {
			t.Fatalf("no blob %s among %v", name, keys(blobs))
		}
		if b.ContentType != "image/jpeg" {
			t.Errorf("%s: content type %q", name, b.ContentType)
		}
		if got := b.Meta["capturetime"]; got != at.Format("2006-01-02T15:04:05.000Z07:00") {
			t.Errorf("%s: captureTime %q", name, got)
		}
		if got, want := b.Meta["tally"], fmt.Sprintf(`{"bus":%d,"person":4}`, i+1); got != want {
			t.Errorf("%s: tally %q, want %q", name, got, want)
		}
		if b.Meta["camera"] != camID {
			t.Errorf("%s: camera %q", name, b.Meta["camera"])
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(b.Data))
		if err != nil || cfg.Width != 64+i || cfg.Height != 48 {
			t.Errorf("%s: decodes to %dx%d (%v), want %dx48", name, cfg.Width, cfg.Height, err, 64+i)
		}
	}
	ups, err := e.em.WaitFileUploads(ctx, 3, func(u emulator.FileUpload) bool { return u.Notified })
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range ups {
		if !u.IsSuccess || u.StatusCode != http.StatusCreated {
			t.Errorf("notification %+v, want success 201", u)
		}
	}
}

// Storage down: the PUT fails, the hub is still told (isSuccess false), the images wait; once
// storage is back every one of them is stored.
func TestStorageDownThenUp(t *testing.T) {
	e := startEnv(t)
	ctx := waitCtx(t)
	spool := openSpool(t, 10<<20, nil)
	runUploader(t, e, spool, nil)

	first := time.Date(2026, 11, 29, 20, 0, 0, 0, time.UTC)
	if err := spool.Push(upload.Image{Time: first, JPEG: testJPEG(t, 32, 24, 1)}); err != nil {
		t.Fatal(err)
	}
	waitEmpty(ctx, t, spool)

	e.az.Stop()
	for i := 1; i <= 3; i++ {
		if err := spool.Push(upload.Image{Time: first.Add(time.Duration(i) * time.Second), JPEG: testJPEG(t, 32, 24, uint8(i))}); err != nil {
			t.Fatal(err)
		}
	}
	failed, err := e.em.WaitFileUploads(ctx, 2, func(u emulator.FileUpload) bool { return u.Notified && !u.IsSuccess })
	if err != nil {
		t.Fatal(err)
	}
	if n := spool.Len(); n != 3 {
		t.Fatalf("%d images waiting while storage is down, want 3", n)
	}
	if d := failed[0].StatusDescription; !strings.Contains(d, "storage unreachable") {
		t.Errorf("failure notification description %q", d)
	}

	e.az.Restart() // empty: in-memory Azurite forgot the first blob and the container
	waitEmpty(ctx, t, spool)
	blobs := listBlobs(ctx, t, e)
	for i := 1; i <= 3; i++ {
		name := "cam1/" + upload.BlobName(first.Add(time.Duration(i)*time.Second))
		if _, ok := blobs[name]; !ok {
			t.Errorf("blob %s lost; have %v", name, keys(blobs))
		}
	}
}

// The hub refusing SAS requests keeps the images waiting; they go once it accepts again.
func TestHubRefuses(t *testing.T) {
	e := startEnv(t)
	ctx := waitCtx(t)
	spool := openSpool(t, 10<<20, nil)
	e.em.RefuseFileUploads(camID, http.StatusForbidden)
	var mu sync.Mutex
	var errs []error
	runUploader(t, e, spool, func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	})
	at := time.Date(2026, 11, 29, 21, 0, 0, 0, time.UTC)
	if err := spool.Push(upload.Image{Time: at, JPEG: testJPEG(t, 16, 16, 9)}); err != nil {
		t.Fatal(err)
	}
	for {
		mu.Lock()
		n := len(errs)
		var first error
		if n > 0 {
			first = errs[0]
		}
		mu.Unlock()
		if n >= 2 {
			var he *iothub.HubError
			if !errors.As(first, &he) || he.Status != http.StatusForbidden {
				t.Fatalf("first attempt: %v, want a 403 HubError", first)
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("no refused attempt seen")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if spool.Len() != 1 {
		t.Fatalf("%d images waiting, want 1", spool.Len())
	}
	if n := len(e.em.FileUploads()); n != 0 {
		t.Fatalf("the refusing hub recorded %d uploads", n)
	}
	e.em.RefuseFileUploads(camID, 0)
	waitEmpty(ctx, t, spool)
	if _, ok := listBlobs(ctx, t, e)["cam1/"+upload.BlobName(at)]; !ok {
		t.Fatal("image not stored after the hub accepted again")
	}
}

func keys(m map[string]testfixture.Blob) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// An image over the spool's byte budget is dropped with a warning and never reaches storage;
// the images that fit are stored.
func TestOverBudgetImageDropped(t *testing.T) {
	e := startEnv(t)
	ctx := waitCtx(t)
	var logs testfixture.LockedBuffer
	spool := openSpool(t, 8<<10, slog.New(slog.NewTextHandler(&logs, nil)))
	small, big := testJPEG(t, 32, 24, 1), testJPEG(t, 640, 480, 2)
	if len(big) <= 8<<10 || 2*len(small) > 8<<10 {
		t.Fatalf("test images of %d and %d bytes do not fit the 8 KiB budget test", len(small), len(big))
	}
	at := time.Date(2026, 11, 29, 22, 0, 0, 0, time.UTC)
	for i, img := range [][]byte{small, big, small} {
		if err := spool.Push(upload.Image{Time: at.Add(time.Duration(i) * time.Second), JPEG: img}); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(logs.String(), "level=WARN msg=\"image bigger than the upload spool's byte budget: dropped\"") || spool.Dropped() != 1 {
		t.Fatalf("no warning for the oversized image (dropped %d):\n%s", spool.Dropped(), logs.String())
	}
	runUploader(t, e, spool, nil)
	waitEmpty(ctx, t, spool)
	blobs := listBlobs(ctx, t, e)
	if len(blobs) != 2 {
		t.Fatalf("blobs %v, want the two small images", keys(blobs))
	}
	if _, ok := blobs["cam1/"+upload.BlobName(at.Add(time.Second))]; ok {
		t.Fatal("the oversized image was stored")
	}
}
