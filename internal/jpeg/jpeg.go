// Package jpeg decodes and encodes JPEG straight through libjpeg-turbo's libjpeg API, so that
// edgecam does not load OpenCV's imgcodecs (and the GDAL, GDCM and OpenEXR libraries it pulls
// in) for the one format it decodes on every tick.
//
// Decoding gives the pixels OpenCV 4.6's imdecode(IMREAD_COLOR or IMREAD_REDUCED_COLOR_n)
// gives, byte for byte: the same libjpeg settings (JDCT_ISLOW, fancy upsampling), BGR written by
// libjpeg itself (JCS_EXT_BGR, where OpenCV 4.6 decodes RGB and swaps every pixel), gray
// replicated to three channels, CMYK converted with OpenCV's formula, and the EXIF orientation
// applied as OpenCV reads it (imageinfo.Orientation). Encoding matches imencode(".jpg") with
// the same quality byte for byte.
//
// libjpeg reports errors with longjmp; the error manager and every libjpeg call live in one C
// function per decode or encode, so a longjmp never crosses a Go frame.
package jpeg

/*
#cgo pkg-config: libjpeg
#include <stdlib.h>
#include "codec.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/imageinfo"
)

// DefaultQuality is OpenCV's default JPEG quality (IMWRITE_JPEG_QUALITY), what gocv.IMEncode
// used for edgecam's marked-up and uploaded frames.
const DefaultQuality = 95

// ErrTruncated matches (errors.Is) the error of a JPEG whose data ends before its last pixels.
var ErrTruncated = errors.New("truncated JPEG")

// eofMessage is libjpeg's JWRN_JPEG_EOF text.
const eofMessage = "Premature end of JPEG file"

// ErrTooManyScans matches (errors.Is) the error of a progressive JPEG with more than MaxScans
// scans.
var ErrTooManyScans = errors.New("too many scans")

// MaxScans is the most scans Decode reads from a progressive JPEG: each scan is a pass over the
// whole image, so thousands of tiny ones (a few bytes each) would hold a decode for minutes.
const MaxScans = C.EC_MAX_SCANS

// A Decoder decodes JPEGs, reusing its scratch image between calls. It is not safe for
// concurrent use; the zero value is ready to use. Close releases its memory.
type Decoder struct {
	// MaxPixels is the largest frame (width x height, as libjpeg reads it) Decode allocates
	// for; larger ones are refused after the header is read. 0 means imageinfo.DefaultMaxPixels.
	MaxPixels int64

	res     C.ec_result
	rotated gocv.Mat // decoded pixels before the EXIF orientation is applied
}

// Close releases the decoder's scratch image. The decoder stays usable.
func (d *Decoder) Close() error {
	if d.rotated.Ptr() != nil {
		err := d.rotated.Close()
		d.rotated = gocv.Mat{}
		return err
	}
	return nil
}

// Decode decodes the JPEG data at 1/scale (1, 2, 4 or 8) into dst as 8-bit BGR, turned as its
// EXIF orientation says. dst's memory is reused when it already has the output's size and type
// (a zero Mat is fine: Decode allocates it); the caller closes dst. A frame over d.MaxPixels
// (the size libjpeg itself reads, which a crafted file can hide from other header parsers) is
// refused before any memory is allocated for it; corrupt data (libjpeg's warnings: data ending
// early, a marker inside a scan, garbage between segments) and progressive files with more than
// MaxScans scans are errors.
func (d *Decoder) Decode(data []byte, scale int, dst *gocv.Mat) error {
	switch scale {
	case 1, 2, 4, 8:
	default:
		return fmt.Errorf("decode JPEG: scale 1/%d: want 1, 2, 4 or 8", scale)
	}
	if len(data) == 0 {
		return errors.New("decode JPEG: empty data")
	}
	orientation := imageinfo.Orientation(data)
	target := dst
	if orientation >= 2 && orientation <= 8 {
		target = &d.rotated
	}
	if err := d.decode(data, scale, target); err != nil {
		return err
	}
	if target == dst {
		return nil
	}
	Orient(d.rotated, dst, orientation)
	return nil
}

// decode runs libjpeg into m, (re)allocating m once when its size or type is not the output's.
func (d *Decoder) decode(data []byte, scale int, m *gocv.Mat) error {
	for attempt := 0; attempt < 2; attempt++ {
		var (
			ptr    *C.uchar
			w, h   int
			stride int
		)
		if m.Ptr() != nil && !m.Empty() && m.Type() == gocv.MatTypeCV8UC3 && m.IsContinuous() {
			pix, err := m.DataPtrUint8()
			if err == nil && len(pix) > 0 {
				ptr, w, h, stride = (*C.uchar)(unsafe.Pointer(&pix[0])), m.Cols(), m.Rows(), m.Step()
			}
		}
		maxPixels := d.MaxPixels
		if maxPixels <= 0 {
			maxPixels = imageinfo.DefaultMaxPixels
		}
		C.ec_decode((*C.uchar)(unsafe.Pointer(unsafe.SliceData(data))), C.size_t(len(data)), C.int(scale),
			C.longlong(maxPixels), ptr, C.int(w), C.int(h), C.size_t(stride), &d.res)
		switch d.res.status {
		case C.EC_OK:
			return nil
		case C.EC_LIMIT:
			return fmt.Errorf("decode JPEG: %w", imageinfo.CheckPixels(int(d.res.width), int(d.res.height), maxPixels))
		case C.EC_SCANS:
			return fmt.Errorf("decode JPEG: %w: %s", ErrTooManyScans, C.GoString(&d.res.msg[0]))
		case C.EC_TRUNCATED:
			msg := C.GoString(&d.res.msg[0])
			if msg == eofMessage {
				return fmt.Errorf("decode JPEG: %w: %s", ErrTruncated, msg)
			}
			return fmt.Errorf("decode JPEG: %w: data ends early (%s)", ErrTruncated, msg)
		case C.EC_ERROR:
			return fmt.Errorf("decode JPEG: %s", C.GoString(&d.res.msg[0]))
		}
		// EC_SIZE: give m the output's size and decode again.
		ow, oh := int(d.res.width), int(d.res.height)
		if ow <= 0 || oh <= 0 {
			return fmt.Errorf("decode JPEG: bad output size %dx%d", ow, oh)
		}
		if m.Ptr() != nil {
			m.Close()
		}
		*m = gocv.NewMatWithSize(oh, ow, gocv.MatTypeCV8UC3)
	}
	return errors.New("decode JPEG: output size changed between two reads of the same header")
}

// Orient writes src into dst turned as EXIF orientation o says, with the operations OpenCV's
// ExifTransform uses, so the pixels are the same; for o outside 2-8 it copies src.
func Orient(src gocv.Mat, dst *gocv.Mat, o int) {
	if dst.Ptr() == nil {
		*dst = gocv.NewMat()
	}
	switch o {
	case 2:
		gocv.Flip(src, dst, 1)
	case 3:
		gocv.Flip(src, dst, -1)
	case 4:
		gocv.Flip(src, dst, 0)
	case 5:
		gocv.Transpose(src, dst)
	case 6:
		gocv.Transpose(src, dst)
		gocv.Flip(*dst, dst, 1)
	case 7:
		gocv.Transpose(src, dst)
		gocv.Flip(*dst, dst, -1)
	case 8:
		gocv.Transpose(src, dst)
		gocv.Flip(*dst, dst, 0)
	default:
		src.CopyTo(dst)
	}
}

// An Encoder encodes JPEGs, reusing its output buffer between calls. It is not safe for
// concurrent use; the zero value is ready to use. Close releases the buffer.
type Encoder struct {
	e C.ec_encoder
}

// Close releases the encoder's buffer. The encoder stays usable.
func (e *Encoder) Close() error {
	C.ec_encoder_free(&e.e)
	return nil
}

// Append encodes img (8-bit BGR, gray or BGRA whose alpha is dropped) as a JPEG of the given
// quality (1-100; 0 means DefaultQuality) and appends it to dst.
func (e *Encoder) Append(dst []byte, img gocv.Mat, quality int) ([]byte, error) {
	if quality == 0 {
		quality = DefaultQuality
	}
	if quality < 1 || quality > 100 {
		return dst, fmt.Errorf("encode JPEG: quality %d: want 1 to 100", quality)
	}
	if img.Empty() {
		return dst, errors.New("encode JPEG: empty image")
	}
	var channels int
	switch img.Type() {
	case gocv.MatTypeCV8UC1:
		channels = 1
	case gocv.MatTypeCV8UC3:
		channels = 3
	case gocv.MatTypeCV8UC4:
		channels = 4
	default:
		return dst, fmt.Errorf("encode JPEG: image type %v: want 8-bit BGR, gray or BGRA", img.Type())
	}
	w, h := img.Cols(), img.Rows()
	if w > 65500 || h > 65500 {
		return dst, fmt.Errorf("encode JPEG: image is %dx%d, more than JPEG's 65500 pixels a side", w, h)
	}
	src := img
	if !img.IsContinuous() {
		src = img.Clone()
		defer src.Close()
	}
	pix, err := src.DataPtrUint8()
	if err != nil {
		return dst, fmt.Errorf("encode JPEG: %w", err)
	}
	if C.ec_encode(&e.e, (*C.uchar)(unsafe.Pointer(&pix[0])), C.int(w), C.int(h), C.size_t(src.Step()),
		C.int(channels), C.int(quality)) != 0 {
		return dst, fmt.Errorf("encode JPEG: %s", C.GoString(&e.e.msg[0]))
	}
	return append(dst, unsafe.Slice((*byte)(unsafe.Pointer(e.e.buf)), int(e.e.len))...), nil
}

// Encode encodes img as a JPEG of the given quality (0: DefaultQuality) into a new slice.
func Encode(img gocv.Mat, quality int) ([]byte, error) {
	var e Encoder
	defer e.Close()
	return e.Append(nil, img, quality)
}
