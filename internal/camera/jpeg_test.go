package camera

import (
	"bytes"
	"os"
	"testing"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/imageinfo"
)

// Frame.JPEG passes a JPEG through untouched and encodes a decoded (RTSP) or PNG frame.
func TestFrameJPEG(t *testing.T) {
	orig, err := os.ReadFile(photo(t, "dog.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := (&Frame{Camera: "c", Data: orig}).JPEG()
	if err != nil || !bytes.Equal(got, orig) {
		t.Fatalf("JPEG data: %v, %d bytes, want the same %d bytes", err, len(got), len(orig))
	}

	m := gocv.IMRead(photo(t, "dog.jpg"), gocv.IMReadColor)
	f := &Frame{Camera: "c", Mat: m}
	defer f.Close()
	got, err = f.JPEG()
	if err != nil || imageinfo.Sniff(got) != imageinfo.JPEG {
		t.Fatalf("decoded frame: %v, %d bytes not a JPEG", err, len(got))
	}
	back := decodeFrame(t, &Frame{Camera: "c", Data: got}, 768, 576)
	back.Close()

	png, err := gocv.IMEncode(gocv.PNGFileExt, m)
	if err != nil {
		t.Fatal(err)
	}
	defer png.Close()
	got, err = (&Frame{Camera: "c", Data: bytes.Clone(png.GetBytes())}).JPEG()
	if err != nil || imageinfo.Sniff(got) != imageinfo.JPEG {
		t.Fatalf("PNG frame: %v, %d bytes not a JPEG", err, len(got))
	}

	empty := gocv.NewMat()
	defer empty.Close()
	if _, err := EncodeJPEG(empty); err == nil {
		t.Fatal("an empty image encoded")
	}
}
