package camera

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/imageinfo"
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

// countHeaders counts the header parses (readHeader) until the test ends.
func countHeaders(t *testing.T) *int {
	t.Helper()
	n := new(int)
	orig := readHeader
	readHeader = func(data []byte) (imageinfo.Format, int, int, error) {
		*n++
		return orig(data)
	}
	t.Cleanup(func() { readHeader = orig })
	return n
}

// A file camera's frame has its header parsed once, at capture, against the camera's
// maxPixels; Image then leaves the limit to the decoder, which checks the size libjpeg reads
// before allocating. A frame over a camera's lower maxPixels is refused with an error naming
// that setting: at capture from the header, or (a frame not checked at capture) by libjpeg's
// header read, with no second parse.
func TestFramePixelLimitCheckedOnce(t *testing.T) {
	bus := readPhoto(t, "bus.jpg") // 810x1080, 0.87 MP
	path := filepath.Join(t.TempDir(), "bus.jpg")
	if err := os.WriteFile(path, bus, 0o600); err != nil {
		t.Fatal(err)
	}
	capture := func(maxPixels int64) (*Frame, error) {
		src, err := New(config.Camera{ID: "door", Type: config.TypeFile, Path: path, MaxPixels: maxPixels})
		if err != nil {
			t.Fatal(err)
		}
		return src.Capture(testCtx(t))
	}

	n := countHeaders(t)
	f, err := capture(1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	if f.MaxPixels != 1_000_000 {
		t.Errorf("frame MaxPixels = %d, want the camera's 1000000", f.MaxPixels)
	}
	m := decodeFrame(t, f, 810, 1080)
	m.Close()
	if _, err := f.Image(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if *n != 1 {
		t.Errorf("capture and decode parsed the header %d times, want 1", *n)
	}

	*n = 0
	_, err = capture(800_000)
	wantErr(t, err, "camera door: "+path+": image is 810x1080 (0.9 megapixels), more than the limit of 0.8 megapixels (raise maxPixels if this is expected)")
	if *n != 1 {
		t.Errorf("refusing at capture parsed the header %d times, want 1", *n)
	}

	*n = 0
	over := &Frame{Camera: "door", Data: bus, MaxPixels: 800_000}
	_, err = over.Image()
	wantErr(t, err, "camera door: frame: decode JPEG: image is 810x1080 (0.9 megapixels), more than the limit of 0.8 megapixels (raise maxPixels if this is expected)")
	if !errors.Is(err, imageinfo.ErrTooManyPixels) || over.HasMat() {
		t.Errorf("Image over the limit: %v, HasMat %v", err, over.HasMat())
	}
	if *n != 0 {
		t.Errorf("Image parsed the header %d times before decoding, want 0 (the decoder checks)", *n)
	}
}
