package yolo

import (
	"strings"
	"testing"

	"github.com/edgecam/edgecam/internal/imageinfo"
	"github.com/edgecam/edgecam/internal/testfixture"
)

func TestImageHeader(t *testing.T) {
	bus := readImage(t, "bus.jpg")
	format, w, h, err := imageHeader(bus)
	if err != nil || format != formatJPEG || w != 810 || h != 1080 {
		t.Errorf("bus.jpg: %v %dx%d %v", format, w, h, err)
	}
	format, w, h, err = imageHeader(testfixture.PNGHeaderOnly(300, 200))
	if err != nil || format != imageinfo.PNG || w != 300 || h != 200 {
		t.Errorf("png: %v %dx%d %v", format, w, h, err)
	}
	for name, tc := range map[string]struct {
		data []byte
		err  string
	}{
		"empty":           {nil, "empty image"},
		"short":           {[]byte("hi"), "not a JPEG, PNG, BMP or WebP image"},
		"text":            {[]byte("this is a text file, not a photo\n"), "not a JPEG, PNG, BMP or WebP image"},
		"jpeg truncated":  {bus[:len(bus)/2], "truncated JPEG (no end-of-image marker)"},
		"jpeg header cut": {bus[:300], "truncated JPEG"},
		"jpeg only SOI":   {bus[:2], "truncated JPEG"},
		"png truncated":   {testfixture.PNGHeaderOnly(10, 10)[:30], "truncated PNG"},
		"png no IEND":     {testfixture.PNGHeaderOnly(10, 10)[:33], "truncated PNG (no IEND chunk)"},
	} {
		if _, _, _, err := imageHeader(tc.data); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.err)
		}
	}
}

func TestCheckSize(t *testing.T) {
	if err := checkSize(10000, 10000); err != nil {
		t.Errorf("100 MP: %v", err)
	}
	err := checkSize(20000, 10000)
	if err == nil || !strings.Contains(err.Error(), "image is 20000x10000 (200 megapixels), more than the limit of 100 megapixels") {
		t.Errorf("200 MP: %v", err)
	}
	if err := checkSize(0, 10); err == nil {
		t.Error("0 wide: no error")
	}
}

func FuzzImageHeader(f *testing.F) {
	f.Add(testfixture.JPEGHeaderOnly(640, 480))
	f.Add(testfixture.PNGHeaderOnly(640, 480))
	f.Fuzz(func(t *testing.T, data []byte) {
		imageHeader(data)
	})
}
