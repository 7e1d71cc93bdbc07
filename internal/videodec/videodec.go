// Package videodec decodes a group of pictures of an H.264 or H.265 stream with FFmpeg's
// libavcodec and converts its last picture to BGR with libswscale: what an RTSP camera needs at
// a tick, without OpenCV's videoio (which loads GStreamer, gphoto2, dc1394 and imgcodecs) and
// without a file.
//
// The input is an Annex-B elementary stream (start codes before every NAL unit) holding the
// parameter sets, a key frame and the access units after it, with the offset of each access unit.
// Only the last picture is converted; by default the non-reference pictures before the last
// access unit are not decoded at all (no later picture refers to them).
//
// FFmpeg is not linked: the first Last (or Load) opens libavutil, libswscale and libavcodec with
// dlopen, so a process that never decodes (no RTSP camera, `edgecam --version`) does not load
// them. Only their headers are needed to build (libavcodec-dev, libavutil-dev, libswscale-dev).
package videodec

/*
#include <stdlib.h>
#include "videodec.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"math"
	"strings"
	"sync"
	"time"
	"unsafe"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/imageinfo"
)

// Codec is the compression of a stream.
type Codec int

const (
	H264 Codec = C.VD_H264
	H265 Codec = C.VD_H265
)

func (c Codec) String() string {
	switch c {
	case H264:
		return "H.264"
	case H265:
		return "H.265"
	}
	return fmt.Sprintf("codec(%d)", int(c))
}

// Options tune a Decoder. The zero value is the default chosen by measurement (README, "RTSP
// source").
type Options struct {
	// Threads is the decoder's thread count; 0 means DefaultThreads, -1 lets FFmpeg choose (one
	// per core plus one).
	Threads int
	// KeepDecoder keeps the codec context between groups (flushed) instead of opening one per
	// group. It holds the decoder's picture buffers between captures.
	KeepDecoder bool
	// DecodeNonRef decodes every picture, also the non-reference ones before the last access
	// unit that nothing refers to.
	DecodeNonRef bool
	// Budget bounds the time one Last spends decoding a group, and one Feed the access units it
	// is given: when it runs out before the last access unit, the call fails (ErrOverBudget)
	// instead of holding the decoder for as long as the access units take. 0 means
	// DefaultBudget; negative, no limit.
	Budget time.Duration
}

// DefaultBudget is the decode time Last allows a group, and Feed one call's access units, when
// Options.Budget is 0. A 1080p group of 250 pictures (10 s at 25 fps) decodes in about 1 s on x86
// and a few on a Raspberry Pi 4; a hostile one of thousands of tiny access units took minutes.
const DefaultBudget = 5 * time.Second

// ErrOverBudget matches (errors.Is) the error of a group whose decoding ran out of time.
var ErrOverBudget = errors.New("decode time budget exhausted")

// DefaultThreads is the decoder thread count when Options.Threads is 0.
const DefaultThreads = 1

// Result says what one Last call decoded.
type Result struct {
	// Pictures is how many pictures the decoder returned (skipped ones are not counted).
	Pictures int
	// Refused is how many access units or pictures the decoder refused as corrupt; decoding
	// went on with the next.
	Refused int
}

// defaultSonames are the FFmpeg libraries Load opens, in order (libswscale and libavcodec need
// libavutil): the major versions of the headers the package is built with, e.g.
// libavcodec.so.59 with FFmpeg 5.1 (Debian and Raspberry Pi OS bookworm). packaging/main.go
// lists them too, for the .deb's Depends.
var defaultSonames = []string{C.GoString(C.vd_soname_avutil), C.GoString(C.vd_soname_swscale), C.GoString(C.vd_soname_avcodec)}

var (
	loadOnce sync.Once
	loadErr  error
	// sonames is what Load opens: defaultSonames, but a test points it at a missing library.
	sonames = defaultSonames
)

// Load opens FFmpeg's libraries and resolves the functions the decoder calls, once per process;
// Last does it the first time it runs. The error (also returned by every Last) says which
// packages to install. Loading is not retried: a library installed later is used after a restart.
func Load() error {
	loadOnce.Do(func() { loadErr = load(sonames) })
	return loadErr
}

// load opens the libraries libs (libavutil, libswscale, libavcodec) and, when all of them and
// every function are found, makes the decoder use them.
func load(libs []string) error {
	names := make([]*C.char, len(libs))
	for i, n := range libs {
		names[i] = C.CString(n)
		defer C.free(unsafe.Pointer(names[i]))
	}
	var msg [512]C.char
	if C.vd_load(names[0], names[1], names[2], &msg[0], C.size_t(len(msg))) == 0 {
		return nil
	}
	pkgs := make([]string, len(defaultSonames))
	for i, so := range defaultSonames {
		pkgs[i] = debPackage(so)
	}
	return fmt.Errorf("videodec: RTSP cameras need FFmpeg's %s, %s and %s: apt install %s, then restart edgecam (%s)",
		pkgs[2], pkgs[0], pkgs[1], strings.Join(pkgs, " "), C.GoString(&msg[0]))
}

// debPackage is the Debian package that ships a library's soname: "libavcodec.so.59" is in
// libavcodec59.
func debPackage(soname string) string {
	name, major, _ := strings.Cut(soname, ".so.")
	return name + major
}

// Decoder decodes groups of pictures. It is not safe for concurrent use; Close releases it.
type Decoder struct {
	c      *C.vd // made by the first Last, once FFmpeg is loaded
	closed bool
	o      Options
	units  []C.int // the access-unit offsets handed to C, reused
}

// New returns a decoder. It does not load FFmpeg: its first Last does.
func New(o Options) (*Decoder, error) {
	return &Decoder{o: o}, nil
}

// Close releases the decoder. It is safe to call more than once.
func (d *Decoder) Close() {
	if d.c != nil {
		C.vd_free(d.c)
		d.c = nil
	}
	d.closed = true
}

// start is what Last and Feed check and set up before decoding: the decoder open, the codec
// known, the access units valid (none is valid with none), the library loaded and the native
// decoder allocated. It returns maxPixels with its default and the thread count to pass to C.
func (d *Decoder) start(codec Codec, stream []byte, units []int, maxPixels int64, none bool) (int64, int, error) {
	if d.closed {
		return 0, 0, errors.New("videodec: decoder is closed")
	}
	if codec != H264 && codec != H265 {
		return 0, 0, fmt.Errorf("videodec: unknown codec %d", int(codec))
	}
	d.units = d.units[:0]
	if len(units) > 0 || !none {
		if err := d.setUnits(stream, units); err != nil {
			return 0, 0, fmt.Errorf("videodec: %s: %w", codec, err)
		}
	}
	if err := Load(); err != nil {
		return 0, 0, err
	}
	if d.c == nil {
		if d.c = C.vd_new(); d.c == nil {
			return 0, 0, errors.New("videodec: out of memory")
		}
	}
	if maxPixels <= 0 {
		maxPixels = imageinfo.DefaultMaxPixels
	}
	threads := d.o.Threads
	switch {
	case threads == 0:
		threads = DefaultThreads
	case threads < 0:
		threads = 0
	}
	return maxPixels, threads, nil
}

// budget is Options.Budget with its default, 0 for no limit.
func (d *Decoder) budget() time.Duration {
	switch b := d.o.Budget; {
	case b == 0:
		return DefaultBudget
	case b < 0:
		return 0
	default:
		return b
	}
}

// Last decodes the group of pictures in stream, whose access units start at the byte offsets
// units (ascending; each ends where the next starts, the last at the end of stream), and returns
// its last picture as an 8-bit BGR Mat, which the caller closes. Pictures over maxPixels
// (width x height; 0 means imageinfo.DefaultMaxPixels) are refused before their memory is
// allocated. Corrupt access units are skipped; it fails when no picture could be decoded.
func (d *Decoder) Last(codec Codec, stream []byte, units []int, maxPixels int64) (gocv.Mat, Result, error) {
	maxPixels, threads, err := d.start(codec, stream, units, maxPixels, false)
	if err != nil {
		return gocv.Mat{}, Result{}, err
	}
	budget := d.budget()
	var r C.vd_result
	C.vd_decode(d.c, C.int(codec), C.int(threads), cbool(!d.o.DecodeNonRef), cbool(d.o.KeepDecoder), C.int64_t(maxPixels),
		C.int64_t(budget), (*C.uint8_t)(unsafe.Pointer(&stream[0])), C.int(len(stream)), &d.units[0], C.int(len(d.units)), &r)
	res, err := d.checkResult(codec, &r, maxPixels, budget, len(units), len(stream),
		"the group of pictures since the key frame is too long to decode at a capture (shorten the camera's key frame interval)")
	if err != nil {
		return gocv.Mat{}, res, err
	}
	w, h := int(r.width), int(r.height)
	if w > 0 && h > 0 && (w < MinSide || h < MinSide) {
		C.vd_release(d.c)
		return gocv.Mat{}, res, fmt.Errorf("%s: picture is %dx%d, smaller than %dx%d: not a camera's picture (refused)", codec, w, h, MinSide, MinSide)
	}
	if r.pictures == 0 {
		why := "the data holds no complete picture"
		if r.refused > 0 {
			why = avError(r.first_err, &r)
		}
		return gocv.Mat{}, res, fmt.Errorf("%s: no picture decoded from %d access units (%d bytes): %s", codec, len(units), len(stream), why)
	}
	m, err := d.convert(codec, w, h)
	return m, res, err
}

// checkResult says what a vd_decode or vd_feed gave, and its error when it stopped (a fatal
// error, the budget exhausted, with hint on what to do) or decoded a picture over maxPixels;
// the decoder is then released.
func (d *Decoder) checkResult(codec Codec, r *C.vd_result, maxPixels int64, budget time.Duration, units, bytes int, hint string) (Result, error) {
	res := Result{Pictures: int(r.pictures), Refused: int(r.refused)}
	var err error
	switch w, h := int(r.width), int(r.height); {
	case r.fatal != 0:
		err = fmt.Errorf("%s decoder: %s", codec, avError(r.fatal, r))
	case r.over_budget != 0:
		err = fmt.Errorf("%s: %w: stopped after %v at access unit %d of %d (%d bytes): %s", codec, ErrOverBudget, budget, int(r.units_done), units, bytes, hint)
	case w > 0 && h > 0:
		if e := imageinfo.CheckPixels(w, h, maxPixels); e != nil {
			err = fmt.Errorf("%s: %w", codec, e)
		}
	}
	if err != nil {
		C.vd_release(d.c)
	}
	return res, err
}

// MinSide is the smallest width and height Last converts: no camera sends smaller pictures, and
// libswscale's converters are only exercised (and measured) on real sizes.
const MinSide = 16

// strideAlign is the pixels a converted row's stride is rounded up to. libswscale's x86 YUV-to-BGR
// converters write whole blocks of 8 pixels (16 for some formats) and, when the rounded row does
// not fit in the destination stride, convert one block less instead: a 34-pixel row of a
// 34-pixel-wide Mat came out with its last 2 columns never written, and rows under 8 pixels
// were written far past their buffer. With the stride rounded up to 16 pixels every block fits.
const strideAlign = 16

// convert writes the decoded picture of codec as BGR into a new continuous w x h Mat. Pictures
// under MinSide a side are refused here too, whoever decoded them.
func (d *Decoder) convert(codec Codec, w, h int) (gocv.Mat, error) {
	m, err := d.convertBGR(w, h)
	if err != nil {
		return gocv.Mat{}, fmt.Errorf("%s: converting the %dx%d picture to BGR: %w", codec, w, h, err)
	}
	return m, nil
}

func (d *Decoder) convertBGR(w, h int) (gocv.Mat, error) {
	if w < MinSide || h < MinSide {
		C.vd_drop_last(d.c)
		return gocv.Mat{}, fmt.Errorf("picture is %dx%d, smaller than %dx%d: not a camera's picture (refused)", w, h, MinSide, MinSide)
	}
	aw := (w + strideAlign - 1) / strideAlign * strideAlign
	// One spare row after the picture on top, should a converter write a block past the end of the
	// last row's stride too.
	block := gocv.NewMatWithSize(h+1, aw, gocv.MatTypeCV8UC3)
	defer block.Close()
	pix, err := block.DataPtrUint8()
	if err != nil {
		C.vd_release(d.c)
		return gocv.Mat{}, err
	}
	// pix is OpenCV's memory, not Go's: C may write to it.
	if e := C.vd_convert(d.c, (*C.uint8_t)(unsafe.Pointer(&pix[0])), C.int(block.Step())); e != 0 {
		return gocv.Mat{}, errors.New(avError(e, nil))
	}
	if aw == w {
		// The usual camera width (a multiple of 16): the picture's rows are continuous already;
		// the view keeps the whole block alive until it is closed.
		return block.RowRange(0, h), nil
	}
	region := block.Region(image.Rect(0, 0, w, h))
	defer region.Close()
	return region.Clone(), nil
}

// setUnits checks the access-unit offsets and copies them for C.
func (d *Decoder) setUnits(stream []byte, units []int) error {
	if len(stream) == 0 || len(units) == 0 {
		return errors.New("no data")
	}
	if len(stream) > math.MaxInt32 {
		return fmt.Errorf("%d bytes is too much data", len(stream))
	}
	d.units = d.units[:0]
	prev := -1
	for _, u := range units {
		if u <= prev || u >= len(stream) {
			return fmt.Errorf("access unit offset %d out of order or past the %d bytes of data", u, len(stream))
		}
		prev = u
		d.units = append(d.units, C.int(u))
	}
	return nil
}

// avError is FFmpeg's text for an error code, with the first error the decoder logged.
func avError(code C.int, r *C.vd_result) string {
	var buf [128]C.char
	C.vd_strerror(code, &buf[0], C.size_t(len(buf)))
	s := C.GoString(&buf[0])
	if r != nil && r.msg[0] != 0 {
		s += " (FFmpeg: " + C.GoString(&r.msg[0]) + ")"
	}
	return s
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
