package daemon_test

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/emulator"
	"github.com/edgecam/edgecam/internal/metrics"
	"github.com/edgecam/edgecam/internal/testfixture"
	"github.com/edgecam/edgecam/internal/testfixture/emutest"
	"github.com/edgecam/edgecam/internal/testfixture/mats"
)

// TestUploadsMarkedUpFrames is issue 14's done-when: a daemon with upload {image: markedUp,
// when: interest} on bus.jpg, against the emulator over TLS and Azurite, leaves one image/jpeg
// blob per qualifying tick under <camera>/ in the container, annotated, while the tallies still
// arrive on time, also while storage is down (the images wait on disk and follow once it is up).
// A camera whose ticks do not qualify uploads nothing.
func TestUploadsMarkedUpFrames(t *testing.T) {
	az, e := startEmulatorWithBlobs(t)
	cfg := dpsConfig(t, e)
	cfg.Detection.LabelsOfInterest = []string{"bus"}
	cfg.Upload = config.Upload{Image: config.UploadMarkedUp, When: config.UploadInterest, Every: 1, QueueBytes: config.DefaultUploadQueueBytes}
	cfg.Cameras = []config.Camera{fileCamera("bus-stop", photo(t, "bus.jpg")), fileCamera("pitch", photo(t, "zidane.jpg"))}
	lr, log := newLogRecorder(t)
	ctx := waitCtx(t)

	// Storage down first: tallies flow on time, images wait, the hub hears of the failed PUTs.
	az.Stop()
	d := startDaemon(t, cfg, log, nil)
	if _, err := lr.wait(ctx, 3, ticks("bus-stop", true)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.WaitFileUploads(ctx, 1, func(u emulator.FileUpload) bool { return u.Notified && !u.IsSuccess }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.WaitTelemetry(ctx, 3, emulator.FromDevice("bus-stop")); err != nil {
		t.Fatal(err)
	}

	// Storage back: every waiting image follows.
	az.Restart()
	if _, err := e.WaitFileUploads(ctx, 5, func(u emulator.FileUpload) bool { return u.DeviceID == "bus-stop" && u.IsSuccess }); err != nil {
		t.Fatal(err)
	}
	if err := d.stop(t); err != nil {
		t.Fatal(err)
	}

	// The failed PUTs' errors quote the blob URL: its SAS signature never reaches the log.
	sigRE := regexp.MustCompile(`sig=[^*&\s"]`)
	for _, r := range lr.all() {
		if s := r.String(); sigRE.MatchString(s) {
			t.Errorf("a SAS signature reached the log: %s", s)
		}
	}

	// Tallies on time: three arrived while storage was down (above), and none waited for the images
	// (after the outage they would be late by its length plus the uploader's backoff). The bound
	// leaves room for detection on a busy machine.
	msgs := fromDevice(e, "bus-stop")
	for i, m := range msgs {
		if lag := m.Received.Sub(creationTime(t, m)); lag > 10*time.Second {
			t.Errorf("tally %d arrived %v after its capture", i, lag)
		}
	}
	if len(fromDevice(e, "pitch")) != 0 {
		t.Error("pitch sent tallies without a label of interest")
	}

	qualifying := len(lr.find(ticks("bus-stop", true)))
	spooled, _ := filepath.Glob(filepath.Join(cfg.State.Dir, "uploads", "bus-stop", "*.img"))
	blobs := az.Blobs(t, emulator.DefaultBlobContainer)
	nameRE := regexp.MustCompile(`^bus-stop/\d{8}T\d{6}\.\d{3}Z\.jpg$`)
	plain := gocv.IMRead(photo(t, "bus.jpg"), gocv.IMReadColor)
	defer plain.Close()
	stored := 0
	for name, b := range blobs {
		if !nameRE.MatchString(name) {
			t.Errorf("blob %q: want bus-stop/<UTC time>.jpg", name)
			continue
		}
		stored++
		if b.ContentType != "image/jpeg" {
			t.Errorf("%s: content type %q", name, b.ContentType)
		}
		if !strings.Contains(b.Meta["tally"], `"bus":`) || b.Meta["capturetime"] == "" {
			t.Errorf("%s: metadata %v", name, b.Meta)
		}
		img, err := gocv.IMDecode(b.Data, gocv.IMReadColor)
		if err != nil || img.Cols() != 810 || img.Rows() != 1080 {
			t.Errorf("%s: decodes to %dx%d (%v), want 810x1080", name, img.Cols(), img.Rows(), err)
			img.Close()
			continue
		}
		if changed := mats.Changed(img, plain, 40); changed < 1000 { // 40: above JPEG noise
			t.Errorf("%s differs from the photo in only %d pixels: not annotated?", name, changed)
		}
		img.Close()
	}
	// One image per qualifying tick, stored or still waiting; an upload cut short by the stop after
	// storage took it may be both (the retry overwrites the same name).
	if n := stored + len(spooled); stored < 5 || stored > qualifying || n < qualifying || n > qualifying+1 {
		t.Errorf("%d blobs stored + %d still waiting, want one per qualifying tick (%d)", stored, len(spooled), qualifying)
	}
	t.Logf("%d qualifying ticks: %d blobs stored, %d waiting at stop; %d tallies", qualifying, stored, len(spooled), len(msgs))
}

// TestUploadsEveryOtherRawFrame: upload {image: frame, when: always, every: 2} on a camera whose
// tallies are never sent uploads the frame exactly as the camera gave it, on every other tick,
// and the metrics count the uploads.
func TestUploadsEveryOtherRawFrame(t *testing.T) {
	az, e := startEmulatorWithBlobs(t)
	cfg := dpsConfig(t, e)
	cfg.Detection.LabelsOfInterest = []string{"bus"} // zidane.jpg has none: no tally is sent
	cam := fileCamera("pitch", photo(t, "zidane.jpg"))
	every := 2
	always := config.UploadAlways
	frame := config.UploadFrame
	cam.Upload = &config.UploadOverride{Image: &frame, When: &always, Every: &every}
	cfg.Cameras = []config.Camera{cam}
	lr, log := newLogRecorder(t)
	m := metrics.New()
	ctx := waitCtx(t)
	d := startDaemon(t, cfg, log, m)
	if _, err := e.WaitFileUploads(ctx, 3, func(u emulator.FileUpload) bool { return u.IsSuccess }); err != nil {
		t.Fatal(err)
	}
	if err := d.stop(t); err != nil {
		t.Fatal(err)
	}
	ticksRun := len(lr.find(ticks("pitch", false)))
	spooled, _ := filepath.Glob(filepath.Join(cfg.State.Dir, "uploads", "pitch", "*.img"))
	blobs := az.Blobs(t, emulator.DefaultBlobContainer)
	if want, n := (ticksRun+1)/2, len(blobs)+len(spooled); len(blobs) > want || n < want || n > want+1 {
		t.Errorf("%d blobs + %d waiting after %d ticks, want every other tick: %d", len(blobs), len(spooled), ticksRun, want)
	}
	orig, err := os.ReadFile(photo(t, "zidane.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range blobs {
		if !bytes.Equal(b.Data, orig) || b.ContentType != "image/jpeg" || !strings.HasPrefix(name, "pitch/") {
			t.Errorf("%s: %d bytes (%s), want zidane.jpg as captured (%d bytes)", name, len(b.Data), b.ContentType, len(orig))
		}
	}
	if len(fromDevice(e, "pitch")) != 0 {
		t.Error("tallies sent without a label of interest")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if want := fmt.Sprintf(`edgecam_uploads_total{camera="pitch"} %d`, len(blobs)); !strings.Contains(rec.Body.String(), want) {
		t.Errorf("metrics lack %q:\n%s", want, grepLines(rec.Body.String(), "edgecam_upload"))
	}
}

// startEmulatorWithBlobs starts Azurite in memory and the emulator (the tests' group enrollment)
// handing out SAS URIs for it.
func startEmulatorWithBlobs(t *testing.T) (*testfixture.Azurite, *emulator.Emulator) {
	t.Helper()
	az := testfixture.StartAzurite(t)
	e := emutest.Start(t, emulator.Config{
		DPS:        emulator.DPSConfig{Groups: []emulator.Group{{Name: groupName, Key: groupKey}}},
		FileUpload: emulator.FileUploadConfig{BlobURL: az.AccountURL()},
	})
	return az, e
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
