package camera

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgecam/edgecam/internal/testfixture"
)

// Image decodes a frame's Data once and keeps it for the tick: a second call and Decode reuse
// it; the frame's JPEG and saved file are still the camera's bytes; Close releases it. Over the
// frame's pixel limit it refuses without decoding.
func TestFrameImageDecodesOnce(t *testing.T) {
	data := testfixture.SmallJPEG(64, 48)
	f := &Frame{Camera: "c", Data: data}
	a, err := f.Image()
	if err != nil || a.Cols() != 64 || a.Rows() != 48 {
		t.Fatalf("Image: %v", err)
	}
	b, _ := f.Image()
	if a.Ptr() != b.Ptr() {
		t.Error("the second Image decoded again")
	}
	c, err := f.Decode()
	if err != nil || c.Ptr() == a.Ptr() || c.Cols() != 64 {
		t.Errorf("Decode: %v (a copy wanted)", err)
	}
	c.Close()
	if j, err := f.JPEG(); err != nil || !bytes.Equal(j, data) {
		t.Errorf("JPEG: %v, not the camera's bytes", err)
	}
	path := filepath.Join(t.TempDir(), "f.jpg")
	if err := Save(path, f); err != nil {
		t.Fatal(err)
	}
	if saved, _ := os.ReadFile(path); !bytes.Equal(saved, data) {
		t.Error("Save re-encoded the frame instead of writing its bytes")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	big := &Frame{Camera: "c", Data: data, MaxPixels: 1000}
	if _, err := big.Image(); err == nil {
		t.Error("a frame over its pixel limit was decoded")
	}
}
