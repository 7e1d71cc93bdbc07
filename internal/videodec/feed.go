package videodec

/*
#include <stdlib.h>
#include "videodec.h"

int vd_feed(vd *d, int codec, int threads, int64_t max_pixels, int64_t budget_ns,
	const uint8_t *buf, int len, const int *offs, int n, vd_result *r);
*/
import "C"

import (
	"errors"
	"unsafe"

	"gocv.io/x/gocv"
)

// ErrNoPicture is Feed's error when the access units gave no new picture (the decoder holds
// them back, or they were corrupt).
var ErrNoPicture = errors.New("videodec: no new picture")

// Feed decodes the access units of stream at the offsets units (as Last takes them), continuing
// the stream decoded by the previous Feed calls: give it every access unit once, in order, from
// a key frame on. It returns the newest picture they gave as an 8-bit BGR Mat (the caller closes
// it), or ErrNoPicture. One call decodes for at most Options.Budget (DefaultBudget): past it, it
// fails with ErrOverBudget and drops the stream's decoding state, so that the next Feed must
// start from a key frame (as after Reset). Continuous analysis uses it so that each picture is
// decoded once, not once per analysed frame as a group of pictures given to Last is. Reset
// starts over (after a lost packet or a new stream); Last and Feed must not be mixed on one
// Decoder.
func (d *Decoder) Feed(codec Codec, stream []byte, units []int, maxPixels int64) (gocv.Mat, Result, error) {
	maxPixels, threads, err := d.start(codec, stream, units, maxPixels)
	if err != nil {
		return gocv.Mat{}, Result{}, err
	}
	budget := d.budget()
	var r C.vd_result
	C.vd_feed(d.c, C.int(codec), C.int(threads), C.int64_t(maxPixels), C.int64_t(budget),
		(*C.uint8_t)(unsafe.Pointer(&stream[0])), C.int(len(stream)), &d.units[0], C.int(len(d.units)), &r)
	res, err := d.checkResult(codec, &r, maxPixels, budget, len(units), len(stream),
		"given to one Feed (a stream of many tiny access units, or more than this machine decodes in time): the decoder starts again at the next key frame given")
	if err != nil {
		return gocv.Mat{}, res, err
	}
	if r.pictures == 0 {
		return gocv.Mat{}, res, ErrNoPicture
	}
	m, err := d.convert(codec, int(r.width), int(r.height))
	return m, res, err
}

// Reset drops the decoder's state: the next Feed starts a new stream (from a key frame).
func (d *Decoder) Reset() {
	if d.c != nil {
		C.vd_release(d.c)
	}
}
