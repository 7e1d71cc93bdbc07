package daemon_test

import (
	"os"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/testfixture/mats"
)

// TestKeepsFrameAndMarkedUpCopy: imageFile holds the captured frame as the camera sent it and
// markedUpFile an annotated copy of the same size (boxes drawn, so the pixels differ).
func TestKeepsFrameAndMarkedUpCopy(t *testing.T) {
	e := startEmulator(t)
	cfg := dpsConfig(t, e)
	dir := t.TempDir()
	cam := fileCamera("bus-stop", photo(t, "bus.jpg"))
	cam.ImageFile = filepath.Join(dir, "last.jpg")
	cam.MarkedUpFile = filepath.Join(dir, "last.marked.jpg")
	cfg.Cameras = append(cfg.Cameras, cam)
	lr, log := newLogRecorder(t)
	startDaemon(t, cfg, log, nil)
	if _, err := lr.wait(waitCtx(t), 2, ticks("bus-stop", true)); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(photo(t, "bus.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	kept, err := os.ReadFile(cam.ImageFile)
	if err != nil || string(kept) != string(orig) {
		t.Fatalf("imageFile: %v (%d bytes, want the photo's %d)", err, len(kept), len(orig))
	}
	marked := gocv.IMRead(cam.MarkedUpFile, gocv.IMReadColor)
	defer marked.Close()
	plain := gocv.IMRead(cam.ImageFile, gocv.IMReadColor)
	defer plain.Close()
	if marked.Empty() || marked.Cols() != 810 || marked.Rows() != 1080 {
		t.Fatalf("markedUpFile: %dx%d", marked.Cols(), marked.Rows())
	}
	if changed := mats.Changed(marked, plain, 0); changed < 1000 {
		t.Fatalf("markedUpFile differs from the frame in only %d pixels: no boxes drawn?", changed)
	}
	if w := warnings("bus-stop"); len(lr.find(w)) > 0 {
		t.Fatalf("warnings: %v", lr.find(w))
	}
}
