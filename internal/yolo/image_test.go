package yolo

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/edgecam/edgecam/internal/imageinfo"
)

// pngHeaderOnly is a PNG signature and IHDR chunk claiming w x h, with an IEND chunk: enough
// for the size check, no pixel data.
func pngHeaderOnly(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	chunk("IHDR", append(ihdr, 8, 2, 0, 0, 0))
	chunk("IEND", nil)
	return b.Bytes()
}

// jpegHeaderOnly is a JPEG SOI, SOF0 claiming w x h, an SOS and EOI.
func jpegHeaderOnly(w, h uint16) []byte {
	b := []byte{0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 1, 1, 0x11, 0}
	b = append(b, 0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 0x3F, 0, 0x12, 0x34)
	return append(b, 0xFF, 0xD9)
}

func TestImageHeader(t *testing.T) {
	bus := readImage(t, "bus.jpg")
	format, w, h, err := imageHeader(bus)
	if err != nil || format != formatJPEG || w != 810 || h != 1080 {
		t.Errorf("bus.jpg: %v %dx%d %v", format, w, h, err)
	}
	format, w, h, err = imageHeader(pngHeaderOnly(300, 200))
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
		"png truncated":   {pngHeaderOnly(10, 10)[:30], "truncated PNG"},
		"png no IEND":     {pngHeaderOnly(10, 10)[:33], "truncated PNG (no IEND chunk)"},
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
	f.Add(jpegHeaderOnly(640, 480))
	f.Add(pngHeaderOnly(640, 480))
	f.Fuzz(func(t *testing.T, data []byte) {
		imageHeader(data)
	})
}
