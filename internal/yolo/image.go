package yolo

import (
	"bytes"
	"errors"
	"fmt"
)

// MaxPixels is the largest image edgecam decodes; bigger headers are refused before decoding.
const MaxPixels = 100_000_000

type imageFormat int

const (
	formatJPEG imageFormat = iota + 1
	formatPNG
)

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// imageHeader reads the format and pixel size of a JPEG or PNG from its header and checks that
// the file is complete (a JPEG has its end-of-image marker after the first scan, a PNG its IEND
// chunk), so a truncated upload is an error instead of a half-gray picture.
func imageHeader(data []byte) (imageFormat, int, int, error) {
	switch {
	case len(data) == 0:
		return 0, 0, 0, errors.New("empty file")
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8}):
		w, h, err := jpegHeader(data)
		return formatJPEG, w, h, err
	case bytes.HasPrefix(data, pngSignature):
		w, h, err := pngHeader(data)
		return formatPNG, w, h, err
	case len(data) < 8:
		return 0, 0, 0, fmt.Errorf("not an image (%d bytes)", len(data))
	}
	return 0, 0, 0, errors.New("not a JPEG or PNG image")
}

func jpegHeader(data []byte) (w, h int, err error) {
	i := 2
	for {
		// Skip fill bytes before a marker.
		for i < len(data) && data[i] == 0xFF && i+1 < len(data) && data[i+1] == 0xFF {
			i++
		}
		if i+4 > len(data) {
			return 0, 0, errors.New("truncated JPEG (header ends early)")
		}
		if data[i] != 0xFF {
			return 0, 0, fmt.Errorf("corrupt JPEG (no marker at byte %d)", i)
		}
		marker := data[i+1]
		if marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7) {
			i += 2 // markers without a length
			continue
		}
		if marker == 0xD9 {
			return 0, 0, errors.New("corrupt JPEG (end of image before any frame)")
		}
		seg := int(data[i+2])<<8 | int(data[i+3])
		if seg < 2 || i+2+seg > len(data) {
			return 0, 0, errors.New("truncated JPEG (a header segment runs past the end of the file)")
		}
		body := data[i+4 : i+2+seg]
		switch {
		case marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC:
			if len(body) < 5 {
				return 0, 0, errors.New("corrupt JPEG (short frame header)")
			}
			h = int(body[1])<<8 | int(body[2])
			w = int(body[3])<<8 | int(body[4])
		case marker == 0xDA: // start of scan: entropy-coded data follows
			if w == 0 || h == 0 {
				return 0, 0, errors.New("corrupt JPEG (no frame size before the image data)")
			}
			if !bytes.Contains(data[i+2+seg:], []byte{0xFF, 0xD9}) {
				return 0, 0, errors.New("truncated JPEG (no end-of-image marker)")
			}
			return w, h, nil
		}
		i += 2 + seg
	}
}

func pngHeader(data []byte) (w, h int, err error) {
	if len(data) < 33 || string(data[12:16]) != "IHDR" {
		return 0, 0, errors.New("truncated PNG (no IHDR header)")
	}
	be := func(b []byte) int { return int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3]) }
	w, h = be(data[16:20]), be(data[20:24])
	tail := data[max(len(data)-64, 0):]
	if !bytes.Contains(tail, []byte("IEND")) {
		return 0, 0, errors.New("truncated PNG (no IEND chunk)")
	}
	return w, h, nil
}

// checkSize refuses empty and absurdly large images.
func checkSize(w, h int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("bad image size %dx%d", w, h)
	}
	if int64(w)*int64(h) > MaxPixels {
		return fmt.Errorf("image is %dx%d (%.0f megapixels), more than the %d megapixel limit",
			w, h, float64(w)*float64(h)/1e6, MaxPixels/1_000_000)
	}
	return nil
}
