package videodec

/*
#include <stdlib.h>
#include "videodec.h"

int vd_feed(vd *d, int codec, int threads, int64_t max_pixels, int64_t budget_ns,
	const uint8_t *buf, int len, const int *offs, const int64_t *tags, int n, int64_t base, int64_t want, int drain,
	vd_result *r);
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"unsafe"

	"gocv.io/x/gocv"
)

// ErrNoPicture is Feed's error when the access units gave no new picture (the decoder holds
// them back, or they were corrupt), and FeedUntil's when they did not give the picture wanted.
var ErrNoPicture = errors.New("videodec: no new picture")

// ErrSkipped is FeedUntil's error when the decoder output a picture after the one wanted
// without the one wanted (it was corrupt, or refers to pictures before the key frame decoding
// started at).
var ErrSkipped = errors.New("videodec: the decoder skipped the picture")

// feedHint is what an exhausted budget says for Feed and FeedUntil.
const feedHint = "given to one Feed (a stream of many tiny access units, or more than this machine decodes in time): the decoder starts again at the next key frame given"

// Feed decodes the access units of stream at the offsets units (as Last takes them), continuing
// the stream decoded by the previous Feed calls: give it every access unit once, in order, from
// a key frame on. It returns the newest picture they gave as an 8-bit BGR Mat (the caller closes
// it), or ErrNoPicture. One call decodes for at most Options.Budget (DefaultBudget): past it, it
// fails with ErrOverBudget and drops the stream's decoding state, so that the next Feed must
// start from a key frame (as after Reset). Continuous analysis uses it so that each picture is
// decoded once, not once per analysed frame as a group of pictures given to Last is. Reset
// starts over (after a lost packet or a new stream); Last and Feed must not be mixed on one
// Decoder.
//
// A stream with B-frames comes out in presentation order, some access units later than the
// pictures are decoded; FeedUntil hands on a chosen picture of such a stream.
func (d *Decoder) Feed(codec Codec, stream []byte, units []int, maxPixels int64) (gocv.Mat, Result, error) {
	m, f, err := d.feed(codec, stream, units, maxPixels, Want{Index: math.MaxInt64})
	if err == nil && !f.found {
		err = ErrNoPicture
	}
	return m, f.Result, err
}

// Want is the picture FeedUntil decodes up to.
type Want struct {
	// Index is the picture's place in presentation order (the order the decoder outputs pictures
	// in).
	Index int64
	// Tags holds the index of each access unit's picture (as the container's timestamps give
	// it); nil numbers the pictures as the decoder outputs them, from Base.
	Tags []int64
	Base int64
	// Drain says that no access unit follows: once those given are sent, the decoder gives up
	// the pictures it holds back for reordering. Until Reset, only Drain calls may follow, with no
	// access units.
	Drain bool
}

// Fed says what one FeedUntil call did.
type Fed struct {
	Result
	// Units is how many of the access units given the decoder took: those after it must be given
	// again.
	Units int
	// Index is the index of the picture the call stopped at: Want.Index, or a later one with
	// ErrSkipped; -1 when none came (ErrNoPicture).
	Index int64
}

// FeedUntil decodes access units of stream at the offsets units, continuing the stream decoded
// by the previous calls as Feed does, until the decoder outputs the picture w.Index, and
// returns it as an 8-bit BGR Mat (the caller closes it). The pictures before it are dropped
// without being converted, and the access units after it are not decoded (Fed.Units says how
// many were). The decoder outputs pictures in presentation order, some access units after it
// decoded them when the stream has B-frames: feed the access units in decoding order, and drain
// the decoder at the end of the stream (w.Drain). It fails with ErrNoPicture (give more access
// units) or ErrSkipped (the picture never came; the one after it is kept for the next call), and
// as Feed does.
func (d *Decoder) FeedUntil(codec Codec, stream []byte, units []int, maxPixels int64, w Want) (gocv.Mat, Fed, error) {
	switch {
	case w.Index < 0 || w.Index == math.MaxInt64:
		return gocv.Mat{}, Fed{Index: -1}, fmt.Errorf("videodec: picture index %d out of range", w.Index)
	case w.Tags != nil && len(w.Tags) != len(units):
		return gocv.Mat{}, Fed{Index: -1}, fmt.Errorf("videodec: %d tags for %d access units", len(w.Tags), len(units))
	}
	m, f, err := d.feed(codec, stream, units, maxPixels, w)
	if err != nil {
		return m, f.Fed, err
	}
	switch {
	case !f.found:
		return m, f.Fed, ErrNoPicture
	case f.Index > w.Index:
		return m, f.Fed, fmt.Errorf("%w: picture %d did not come out of the decoder, picture %d came next", ErrSkipped, w.Index, f.Index)
	}
	return m, f.Fed, nil
}

// fed is one vd_feed's outcome.
type fed struct {
	Fed
	found bool // a picture with an index of want or more came (Fed.Index); converted when it is want
}

// feed runs vd_feed and converts the picture it stops at when it is the one wanted (the newest
// for Feed).
func (d *Decoder) feed(codec Codec, stream []byte, units []int, maxPixels int64, w Want) (gocv.Mat, fed, error) {
	f := fed{Fed: Fed{Index: -1}}
	maxPixels, threads, err := d.start(codec, stream, units, maxPixels, w.Drain)
	if err != nil {
		return gocv.Mat{}, f, err
	}
	var (
		buf    *C.uint8_t
		offs   *C.int
		tags   *C.int64_t
		r      C.vd_result
		newest = w.Index == math.MaxInt64
	)
	if len(d.units) > 0 {
		buf, offs = (*C.uint8_t)(unsafe.Pointer(&stream[0])), &d.units[0]
		if w.Tags != nil {
			tags = (*C.int64_t)(unsafe.Pointer(&w.Tags[0]))
		}
	}
	want := C.int64_t(C.VD_NEWEST)
	if !newest {
		want = C.int64_t(w.Index)
	}
	budget := d.budget()
	C.vd_feed(d.c, C.int(codec), C.int(threads), C.int64_t(maxPixels), C.int64_t(budget),
		buf, C.int(len(stream)), offs, tags, C.int(len(d.units)), C.int64_t(w.Base), want, cbool(w.Drain), &r)
	f.Result, err = d.checkResult(codec, &r, maxPixels, budget, len(units), len(stream), feedHint)
	f.Units = int(r.units_done)
	if err != nil {
		return gocv.Mat{}, f, err
	}
	f.found = r.found != 0 || newest && r.pictures > 0
	if !f.found {
		return gocv.Mat{}, f, nil
	}
	if !newest {
		f.Index = int64(r.tag)
		if f.Index != w.Index {
			return gocv.Mat{}, f, nil // kept in C for the next call
		}
	}
	m, err := d.convert(codec, int(r.width), int(r.height))
	return m, f, err
}

// Reset drops the decoder's state: the next Feed starts a new stream (from a key frame).
func (d *Decoder) Reset() {
	if d.c != nil {
		C.vd_release(d.c)
	}
}
