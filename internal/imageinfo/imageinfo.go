// Package imageinfo reads an encoded image's format and pixel size from its header, without
// decoding it, so that a hostile or broken camera's image bomb (a few hundred kilobytes that
// decode to gigabytes) is refused before any decoder allocates for it. It also checks that a
// JPEG or PNG is complete, so a truncated transfer is an error instead of a half-gray picture.
package imageinfo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// DefaultMaxPixels is the default frame limit (40 megapixels: 7680x5120 fits, a 12000x12000
// bomb does not). A 40 MP frame decodes to 120 MB of BGR pixels.
const DefaultMaxPixels = 40_000_000

// Format is an encoded image format.
type Format string

// The formats edgecam reads.
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	BMP  Format = "bmp"
	WebP Format = "webp"
)

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// ErrTruncated matches (errors.Is) the errors of an image that ends too early: a transfer cut
// short, or the first bytes of one still arriving. Header returns the size with it when the
// header had been read.
var ErrTruncated = errors.New("truncated image")

type truncatedError string

func (e truncatedError) Error() string        { return string(e) }
func (e truncatedError) Is(target error) bool { return target == ErrTruncated }

// Sniff names data's format from its magic bytes, or "" when edgecam does not decode it.
func Sniff(data []byte) Format {
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
		return JPEG
	case bytes.HasPrefix(data, pngSignature):
		return PNG
	case bytes.HasPrefix(data, []byte("BM")) && len(data) > 26:
		return BMP
	case len(data) > 12 && bytes.HasPrefix(data, []byte("RIFF")) && string(data[8:12]) == "WEBP":
		return WebP
	}
	return ""
}

// Header returns data's format and pixel size from its header. A JPEG must hold its
// end-of-image marker after the first scan and a PNG its IEND chunk.
func Header(data []byte) (f Format, w, h int, err error) {
	if len(data) == 0 {
		return "", 0, 0, errors.New("empty image (0 bytes)")
	}
	f = Sniff(data)
	if f == "" && bytes.HasPrefix(data, []byte{0xFF, 0xD8}) {
		f = JPEG // cut right after the start-of-image marker
	}
	switch f {
	case JPEG:
		w, h, err = jpegHeader(data)
	case PNG:
		w, h, err = pngHeader(data)
	case BMP:
		w, h, err = bmpHeader(data)
	case WebP:
		w, h, err = webpHeader(data)
	default:
		return "", 0, 0, errors.New("not a JPEG, PNG, BMP or WebP image")
	}
	return f, w, h, err
}

// ErrTooManyPixels matches (errors.Is) CheckPixels' error for a size over the limit, so a
// caller can say which setting raises it.
var ErrTooManyPixels = errors.New("too many pixels")

type pixelsError string

func (e pixelsError) Error() string        { return string(e) }
func (e pixelsError) Is(target error) bool { return target == ErrTooManyPixels }

// CheckPixels refuses a size that is empty or has more than max pixels (max <= 0: the default).
// Over the limit, the error matches ErrTooManyPixels.
func CheckPixels(w, h int, max int64) error {
	if max <= 0 {
		max = DefaultMaxPixels
	}
	if w <= 0 || h <= 0 {
		return fmt.Errorf("bad image size %dx%d", w, h)
	}
	if int64(w)*int64(h) > max {
		return pixelsError(fmt.Sprintf("image is %dx%d (%s megapixels), more than the limit of %s megapixels",
			w, h, megapixels(int64(w)*int64(h)), megapixels(max)))
	}
	return nil
}

// megapixels formats n pixels in megapixels with at most one decimal: 144, 40, 0.3.
func megapixels(n int64) string {
	return strconv.FormatFloat(math.Round(float64(n)/1e5)/10, 'f', -1, 64)
}

func jpegHeader(data []byte) (w, h int, err error) {
	i := 2
	for {
		// Skip fill bytes before a marker.
		for i < len(data) && data[i] == 0xFF && i+1 < len(data) && data[i+1] == 0xFF {
			i++
		}
		if i+4 > len(data) {
			return w, h, truncatedError("truncated JPEG (header ends early)")
		}
		if data[i] != 0xFF {
			return 0, 0, fmt.Errorf("corrupt JPEG (no marker at byte %d)", i)
		}
		marker := data[i+1]
		if marker == 0x00 || (marker >= 0x02 && marker <= 0xBF) {
			// FF 00 is a stuffed byte inside entropy-coded data, never a marker; 02-BF are
			// reserved. libjpeg scans past such bytes for the next real marker, so reading
			// them as a segment with a length would skip what libjpeg reads: a second frame
			// header hidden from this check.
			return 0, 0, fmt.Errorf("corrupt JPEG (FF %02X at byte %d where a marker should be)", marker, i)
		}
		if marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7) {
			i += 2 // markers without a length
			continue
		}
		if marker == 0xD9 {
			return 0, 0, errors.New("corrupt JPEG (end of image before any frame)")
		}
		seg := int(data[i+2])<<8 | int(data[i+3])
		if seg < 2 || i+2+seg > len(data) {
			return w, h, truncatedError("truncated JPEG (a header segment runs past the end of the file)")
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
				return w, h, truncatedError("truncated JPEG (no end-of-image marker)")
			}
			return w, h, nil
		}
		i += 2 + seg
	}
}

func pngHeader(data []byte) (w, h int, err error) {
	if len(data) < 33 || string(data[12:16]) != "IHDR" {
		return 0, 0, truncatedError("truncated PNG (no IHDR header)")
	}
	w, h = int(binary.BigEndian.Uint32(data[16:20])), int(binary.BigEndian.Uint32(data[20:24]))
	tail := data[max(len(data)-64, 0):]
	if !bytes.Contains(tail, []byte("IEND")) {
		return w, h, truncatedError("truncated PNG (no IEND chunk)")
	}
	return w, h, nil
}

func bmpHeader(data []byte) (w, h int, err error) {
	w = int(int32(binary.LittleEndian.Uint32(data[18:22])))
	h = int(int32(binary.LittleEndian.Uint32(data[22:26])))
	if h < 0 { // top-down bitmap
		h = -h
	}
	return w, h, nil
}

func webpHeader(data []byte) (w, h int, err error) {
	if len(data) < 30 {
		return 0, 0, truncatedError("truncated WebP (header ends early)")
	}
	switch string(data[12:16]) {
	case "VP8X": // extended: 24-bit canvas size minus one
		w = 1 + (int(data[24]) | int(data[25])<<8 | int(data[26])<<16)
		h = 1 + (int(data[27]) | int(data[28])<<8 | int(data[29])<<16)
	case "VP8L": // lossless: 14-bit sizes minus one after the signature byte
		b := binary.LittleEndian.Uint32(data[21:25])
		w, h = 1+int(b&0x3FFF), 1+int(b>>14&0x3FFF)
	case "VP8 ": // lossy: 14-bit sizes after the start code
		w = int(binary.LittleEndian.Uint16(data[26:28]) & 0x3FFF)
		h = int(binary.LittleEndian.Uint16(data[28:30]) & 0x3FFF)
	default:
		return 0, 0, fmt.Errorf("unsupported WebP chunk %q", data[12:16])
	}
	return w, h, nil
}
