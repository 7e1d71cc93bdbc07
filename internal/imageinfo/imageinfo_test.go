package imageinfo

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/edgecam/edgecam/internal/testfixture"
)

func TestHeader(t *testing.T) {
	bmp := make([]byte, 54)
	copy(bmp, "BM")
	binary.LittleEndian.PutUint32(bmp[18:], 640)
	binary.LittleEndian.PutUint32(bmp[22:], uint32(0xFFFFFFFF-479)) // -480: top-down
	webpX := make([]byte, 30)
	copy(webpX, "RIFF\x00\x00\x00\x00WEBPVP8X")
	webpX[24], webpX[25], webpX[27], webpX[28] = 0x7F, 0x02, 0xDF, 0x01 // 640x480
	webpL := make([]byte, 30)
	copy(webpL, "RIFF\x00\x00\x00\x00WEBPVP8L\x00\x00\x00\x00\x2f")
	binary.LittleEndian.PutUint32(webpL[21:], uint32(639)|uint32(479)<<14)
	for name, tc := range map[string]struct {
		data []byte
		f    Format
		w, h int
	}{
		"jpeg":   {testfixture.JPEGHeaderOnly(12000, 12000), JPEG, 12000, 12000},
		"png":    {testfixture.PNGHeaderOnly(300, 200), PNG, 300, 200},
		"bmp":    {bmp, BMP, 640, 480},
		"webp x": {webpX, WebP, 640, 480},
		"webp l": {webpL, WebP, 640, 480},
	} {
		f, w, h, err := Header(tc.data)
		if err != nil || f != tc.f || w != tc.w || h != tc.h {
			t.Errorf("%s: %v %dx%d %v", name, f, w, h, err)
		}
	}
	jpeg := testfixture.JPEGHeaderOnly(10, 10)
	for name, tc := range map[string]struct {
		data []byte
		err  string
	}{
		"empty":          {nil, "empty image"},
		"text":           {[]byte("<html>nope</html>"), "not a JPEG, PNG, BMP or WebP image"},
		"jpeg truncated": {jpeg[:len(jpeg)-2], "truncated JPEG (no end-of-image marker)"},
		"jpeg only SOI":  {jpeg[:3], "truncated JPEG"},
		"png truncated":  {testfixture.PNGHeaderOnly(10, 10)[:30], "truncated PNG"},
		"png no IEND":    {testfixture.PNGHeaderOnly(10, 10)[:33], "truncated PNG (no IEND chunk)"},
	} {
		if _, _, _, err := Header(tc.data); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.err)
		}
	}
}

func TestCheckPixels(t *testing.T) {
	if err := CheckPixels(7680, 5120, 0); err != nil {
		t.Errorf("39.3 MP with the default: %v", err)
	}
	err := CheckPixels(12000, 12000, 0)
	if err == nil || err.Error() != "image is 12000x12000 (144 megapixels), more than the limit of 40 megapixels" {
		t.Errorf("144 MP: %v", err)
	}
	if !errors.Is(err, ErrTooManyPixels) {
		t.Errorf("144 MP: %v does not match ErrTooManyPixels", err)
	}
	if err := CheckPixels(0, 10, 0); errors.Is(err, ErrTooManyPixels) {
		t.Errorf("0 wide: %v matches ErrTooManyPixels", err)
	}
	if err := CheckPixels(1000, 1000, 500_000); err == nil || !strings.Contains(err.Error(), "limit of 0.5 megapixels") {
		t.Errorf("1 MP over 0.5: %v", err)
	}
	if err := CheckPixels(0, 10, 0); err == nil {
		t.Error("0 wide: no error")
	}
}

func FuzzHeader(f *testing.F) {
	f.Add(testfixture.JPEGHeaderOnly(640, 480))
	f.Add(testfixture.PNGHeaderOnly(640, 480))
	f.Add(testfixture.HiddenFrameJPEG(65500, 65500))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8 \x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		Header(data)
	})
}

// The first bytes of an image still arriving: the size is known once the frame header is in,
// and the error says truncated (errors.Is ErrTruncated), not corrupt.
func TestHeaderOfAPrefix(t *testing.T) {
	jpeg := testfixture.JPEGHeaderOnly(16000, 16000)
	_, w, h, err := Header(jpeg[:len(jpeg)-2])
	if !errors.Is(err, ErrTruncated) || w != 16000 || h != 16000 {
		t.Errorf("JPEG without its end: %dx%d, %v", w, h, err)
	}
	png := testfixture.PNGHeaderOnly(12000, 12000)
	_, w, h, err = Header(png[:33])
	if !errors.Is(err, ErrTruncated) || w != 12000 || h != 12000 {
		t.Errorf("PNG without IEND: %dx%d, %v", w, h, err)
	}
	if _, _, _, err := Header([]byte{0xFF, 0xD8, 0, 0, 0, 0}); err == nil || errors.Is(err, ErrTruncated) {
		t.Errorf("JPEG start then zeros: %v, want a corrupt JPEG error", err)
	}
}

// FF 00 and reserved bytes where a marker should be are errors, not segments to skip: skipping
// one as a segment hid a 65500x65500 frame header that libjpeg reads from the reader (which saw
// 150x103).
func TestHeaderNonMarker(t *testing.T) {
	_, w, h, err := Header(testfixture.HiddenFrameJPEG(65500, 65500))
	if err == nil || !strings.Contains(err.Error(), "corrupt JPEG (FF 00 at byte ") {
		t.Errorf("hidden frame: %dx%d %v, want a corrupt JPEG error", w, h, err)
	}
	good := testfixture.SmallJPEG(32, 16)
	if _, w, h, err := Header(good); err != nil || w != 32 || h != 16 {
		t.Fatalf("good: %dx%d %v", w, h, err)
	}
	bad := append([]byte{0xFF, 0xD8, 0xFF, 0x05, 0x00, 0x04, 0, 0}, good[2:]...)
	if _, _, _, err := Header(bad); err == nil || !strings.Contains(err.Error(), "FF 05 at byte 2") {
		t.Errorf("reserved marker: %v", err)
	}
}
