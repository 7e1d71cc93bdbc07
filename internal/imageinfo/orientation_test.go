package imageinfo

import (
	"testing"

	"github.com/edgecam/edgecam/internal/testfixture"
)

// exifJPEG is SOI, an APP1 segment holding body, and a header-only frame.
func exifJPEG(body []byte) []byte {
	b := []byte{0xFF, 0xD8, 0xFF, 0xE1, byte((len(body) + 2) >> 8), byte(len(body) + 2)}
	b = append(b, body...)
	return append(b, testfixture.JPEGHeaderOnly(4, 2)[2:]...)
}

// OpenCV's reading of the orientation; package imagecodec's JPEG tests check every case against OpenCV.
func TestOrientation(t *testing.T) {
	be := []byte("Exif\x00\x00MM\x00\x2A\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00")
	le := []byte("Exif\x00\x00II\x2A\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00\x03\x00\x00\x00")
	for name, tc := range map[string]struct {
		data []byte
		want int
	}{
		"big-endian 6":    {exifJPEG(be), 6},
		"little-endian 3": {exifJPEG(le), 3},
		"cut":             {exifJPEG(be[:len(be)-5]), 1},
		"no exif":         {testfixture.JPEGHeaderOnly(4, 2), 1},
		"not a JPEG":      {[]byte("hello"), 1},
		"empty":           {nil, 1},
		"fill bytes":      {append([]byte{0xFF, 0xD8, 0xFF, 0xFF}, exifJPEG(be)[2:]...), 6},
	} {
		if got := Orientation(tc.data); got != tc.want {
			t.Errorf("%s: %d, want %d", name, got, tc.want)
		}
	}
}

func FuzzOrientation(f *testing.F) {
	f.Add(exifJPEG([]byte("Exif\x00\x00MM\x00\x2A\x00\x00\x00\x08\x00\x02\x01\x0F\x00\x02\x00\x00\x00\x10\x00\x00\x00\x20\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00")))
	f.Add(exifJPEG([]byte("Exif\x00\x00II\x2A\x00\x08\x00\x00\x00\x01\x00\x3E\x01\x05\x00\x02\x00\x00\x00\x1A\x00\x00\x00")))
	f.Fuzz(func(t *testing.T, data []byte) {
		Orientation(data)
	})
}
