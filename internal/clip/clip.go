// Package clip reads a recorded H.264 or H.265 clip, an MP4 or MOV file (its first video track,
// plain or fragmented) or an elementary stream (Annex B: the .h264/.h265 file
// `ffmpeg -i rtsp://... -c copy out.h264` writes), into access units and decodes the picture of
// any of them with package videodec, the decoder RTSP cameras use.
package clip

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/videodec"
)

// Clip is an elementary stream split into access units, in decoding order, whose pictures are
// numbered in presentation order (the order they are shown in, which differs with B-frames).
type Clip struct {
	Codec videodec.Codec
	// FPS is the frame rate the stream's parameter sets give, or 0 when they give none; an MP4's
	// is its pictures over the time they span.
	FPS   float64
	data  []byte
	units []int  // offset of each access unit in data, in decoding order
	key   []bool // the access unit is a random access point
	// params is the offset and end of the newest parameter sets at or before each key frame.
	params [][3][]byte
	// times is each picture's presentation time, from the first, in presentation order; nil:
	// i/FPS.
	times []time.Duration
	// order is the access unit of each picture (in presentation order) and shown the picture of
	// each access unit, from an MP4's times; nil for an elementary stream, whose pictures are
	// numbered as the decoder outputs them (closed groups of pictures: a key frame's picture has
	// its access unit's number).
	order []int
	shown []int64
	// rasl is, for each access unit of an H.265 elementary stream, the RASL pictures after it
	// when it is a CRA: its leading pictures that need the group before it, which the decoder
	// drops when decoding starts at it. nil for an MP4.
	rasl []int

	buf        []byte // scratch: parameter sets + the access units being decoded
	offs       []int
	dec        *videodec.Decoder
	started    bool  // dec decodes this clip from a key frame on
	sent       int   // the access unit dec takes next
	out        int64 // the number of dec's next picture (elementary streams)
	done       int   // the first picture dec can still give without starting again
	withParams bool  // the next access units given start with the key frame's parameter sets
}

// Extensions names the file name endings Open reads.
const Extensions = ".mp4, .mov, .m4v, .h264, .264, .h265, .265 or .hevc"

// IsClip reports whether path names a clip Open reads.
func IsClip(path string) bool {
	_, ok := codecOf(path)
	return ok || isContainer(path)
}

// IsVideo reports whether path names a clip or another video file (Open says how to make a
// clip of it).
func IsVideo(path string) bool {
	return IsClip(path) || otherVideo(path)
}

func otherVideo(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".mkv", ".ts", ".webm", ".avi":
		return true
	}
	return false
}

// isContainer reports whether path names an MP4 or MOV file.
func isContainer(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".mp4", ".mov", ".m4v":
		return true
	}
	return false
}

// DefaultFPS is the frame rate of an elementary stream whose parameter sets give none.
const DefaultFPS = 25

// Time is picture i's presentation time from the clip's first picture: an MP4's sample times,
// or i over the frame rate for an elementary stream (DefaultFPS when it gives none).
func (c *Clip) Time(i int) time.Duration {
	if c.times != nil {
		return c.times[i]
	}
	fps := c.FPS
	if fps <= 0 {
		fps = DefaultFPS
	}
	return time.Duration(math.Round(float64(i) / fps * float64(time.Second)))
}

func codecOf(path string) (videodec.Codec, bool) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".h264", ".264":
		return videodec.H264, true
	case ".h265", ".265", ".hevc":
		return videodec.H265, true
	}
	return 0, false
}

var startCode = []byte{0, 0, 1}

// Open reads the clip at path: an MP4 or MOV file, or an elementary stream whose name's ending
// says the codec.
func Open(path string) (*Clip, error) {
	codec, ok := codecOf(path)
	if !ok && !isContainer(path) {
		if otherVideo(path) {
			return nil, fmt.Errorf("%s is a %s container: remux it into MP4 first: ffmpeg -i %s -c:v copy -an clip.mp4",
				filepath.Base(path), strings.ToLower(filepath.Ext(path)), filepath.Base(path))
		}
		return nil, fmt.Errorf("%s: unknown clip type: name an H.264 or H.265 clip %s", filepath.Base(path), Extensions)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !ok {
		if !isMP4(data) {
			return nil, fmt.Errorf("%s: not an MP4/MOV file (no ISO BMFF box at its start)", filepath.Base(path))
		}
		c, err := ParseMP4(data)
		if err != nil {
			var re *reencodeError
			if errors.As(err, &re) {
				re.file = filepath.Base(path)
			}
			return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
		}
		return c, nil
	}
	return Parse(codec, data)
}

// Parse splits data, an Annex-B elementary stream, into access units.
func Parse(codec videodec.Codec, data []byte) (*Clip, error) {
	c := &Clip{Codec: codec, data: data}
	var (
		params  [3][]byte
		hasVCL  bool // the current access unit has a picture's slice
		pending = -1 // start of non-VCL NAL units waiting for their access unit
		leadOf  = -1 // the key frame whose leading pictures the last access units are
	)
	for pos := 0; pos < len(data); {
		i := bytes.Index(data[pos:], startCode)
		if i < 0 {
			break
		}
		start := pos + i
		if start > 0 && data[start-1] == 0 { // 4-byte start code
			start--
		}
		n := pos + i + 3
		end := len(data)
		if j := bytes.Index(data[n:], startCode); j >= 0 {
			end = n + j
			for end > n && data[end-1] == 0 {
				end--
			}
		}
		nal := data[n:end]
		pos = end
		if len(nal) == 0 {
			continue
		}
		kind, first, key, param := c.classify(nal)
		switch {
		case kind == nalVCL:
			if first || !hasVCL {
				au := start
				if pending >= 0 {
					au = pending
				}
				c.units = append(c.units, au)
				c.key = append(c.key, key)
				c.params = append(c.params, params)
				c.rasl = append(c.rasl, 0)
				pending = -1
				switch lead := c.leading(nal); {
				case key:
					leadOf = len(c.units) - 1
				case lead == 0 || leadOf < 0:
					leadOf = -1
				case lead == 2:
					c.rasl[leadOf]++
				}
			}
			hasVCL = true
		default:
			if param >= 0 {
				params[param] = nal
			}
			if kind == nalAUD || hasVCL && pending < 0 || pending < 0 && len(c.units) == 0 {
				pending = start
			}
			if kind == nalAUD || hasVCL {
				hasVCL = false
			}
		}
		if key && len(c.params) > 0 {
			c.params[len(c.params)-1] = params
		}
	}
	if len(c.units) == 0 {
		return nil, errors.New("no picture in the stream: is it an H.264/H.265 Annex-B elementary stream?")
	}
	if !c.key[0] {
		// Pictures before the first key frame cannot be decoded.
		k := 0
		for k < len(c.key) && !c.key[k] {
			k++
		}
		if k == len(c.key) {
			return nil, errors.New("no key frame in the stream")
		}
		c.units, c.key, c.params, c.rasl = c.units[k:], c.key[k:], c.params[k:], c.rasl[k:]
	}
	if codec == videodec.H264 && c.params[0][1] != nil {
		var sps h264.SPS
		if sps.Unmarshal(c.params[0][1]) == nil {
			c.FPS = sps.FPS()
		}
	}
	return c, nil
}

type nalKind int

const (
	nalOther nalKind = iota
	nalVCL
	nalAUD
)

// classify says what a NAL unit is: a slice (and whether it starts a picture, and a random
// access point), an access unit delimiter, or another unit; param is 0..2 for VPS, SPS, PPS.
func (c *Clip) classify(n []byte) (kind nalKind, first, key bool, param int) {
	param = -1
	if c.Codec == videodec.H264 {
		t := n[0] & 0x1F
		switch {
		case t >= 1 && t <= 5:
			// first_mb_in_slice is the slice header's first Exp-Golomb value: 0 is a single 1 bit.
			return nalVCL, len(n) > 1 && n[1]&0x80 != 0, t == 5, -1
		case t == 9:
			return nalAUD, false, false, -1
		case t == 7:
			return nalOther, false, false, 1
		case t == 8:
			return nalOther, false, false, 2
		}
		return nalOther, false, false, -1
	}
	t := (n[0] >> 1) & 0x3F
	switch {
	case t <= 31:
		return nalVCL, len(n) > 2 && n[2]&0x80 != 0, t >= 16 && t <= 21, -1
	case t == 35:
		return nalAUD, false, false, -1
	case t >= 32 && t <= 34:
		return nalOther, false, false, int(t - 32)
	}
	return nalOther, false, false, -1
}

// leading says whether a slice is of an H.265 leading picture: 1 RADL, 2 RASL, 0 neither (and
// for H.264, whose key frames are IDR pictures: closed groups).
func (c *Clip) leading(n []byte) int {
	if c.Codec != videodec.H265 {
		return 0
	}
	switch (n[0] >> 1) & 0x3F {
	case 6, 7:
		return 1
	case 8, 9:
		return 2
	}
	return 0
}

// Len is the number of pictures (access units).
func (c *Clip) Len() int { return len(c.units) }

// unit is the access unit of picture i: an elementary stream's pictures are numbered as the
// decoder outputs them, picture i is decoded at about access unit i.
func (c *Clip) unit(i int) int {
	if c.order != nil {
		return c.order[i]
	}
	return i
}

// from is the first picture decoding from key frame k gives: k's own in an MP4; in an elementary
// stream, the first of its leading pictures that do not need the group before it (the pictures
// decoded before k are shown before it, and its RASL pictures before its RADL ones).
func (c *Clip) from(k int) int64 {
	if c.shown != nil {
		return c.shown[k]
	}
	if c.rasl != nil {
		return int64(k + c.rasl[k])
	}
	return int64(k)
}

// Picture decodes picture i (in presentation order, the order of Time) with dec and returns it
// as a BGR Mat the caller closes. The access units are decoded in decoding order and the
// pictures come out of the decoder in presentation order (B-frames some access units after
// they are decoded; at the end of the clip the decoder is drained). Going forwards (i after the
// previous call's), only the access units since the previous call are decoded, and the pictures
// between are dropped unconverted; otherwise decoding starts again from the key frame at or
// before i's access unit. dec must be used for nothing else meanwhile.
func (c *Clip) Picture(dec *videodec.Decoder, i int, maxPixels int64) (gocv.Mat, error) {
	if i < 0 || i >= len(c.units) {
		return gocv.Mat{}, fmt.Errorf("picture %d of %d", i, len(c.units))
	}
	u := c.unit(i)
	if dec != c.dec || !c.started || i < c.done {
		dec.Reset()
		// The key frame at or before u that gives i: an H.265 CRA's leading pictures, decoded
		// after it but shown before, need the group before it.
		k := u
		for k > 0 && (!c.key[k] || c.from(k) > int64(i)) {
			k--
		}
		c.dec, c.started, c.sent, c.out, c.done, c.withParams = dec, true, k, c.from(k), 0, true
	}
	for {
		end := min(max(u+1, c.sent+1), len(c.units))
		w := videodec.Want{Index: int64(i), Base: c.out, Drain: c.sent == len(c.units)}
		stream, offs := c.window(c.sent, end)
		if c.shown != nil && len(offs) > 0 {
			w.Tags = c.shown[c.sent:end]
		}
		m, f, err := dec.FeedUntil(c.Codec, stream, offs, maxPixels, w)
		c.sent += f.Units
		c.out += int64(f.Pictures)
		c.withParams = c.withParams && f.Units == 0
		switch {
		case err == nil:
			c.done = i + 1
			return m, nil
		case errors.Is(err, videodec.ErrSkipped):
			c.done = i + 1
			return gocv.Mat{}, fmt.Errorf("picture %d (of access unit %d): %w", i, u, err)
		case errors.Is(err, videodec.ErrNoPicture) && !w.Drain && f.Units > 0:
			continue // the decoder holds the picture back: give it the next access unit
		case errors.Is(err, videodec.ErrNoPicture):
			c.done = i + 1
			return gocv.Mat{}, fmt.Errorf("picture %d (of access unit %d) did not come out of the decoder: a corrupt access unit", i, u)
		}
		c.started = false
		return gocv.Mat{}, err
	}
}

// window copies the access units from..end-1 into c.buf, after the parameter sets of from (a key
// frame) when c.withParams, and returns them with their offsets; nothing when from is end.
func (c *Clip) window(from, end int) ([]byte, []int) {
	c.buf, c.offs = c.buf[:0], c.offs[:0]
	if from >= end {
		return nil, nil
	}
	if c.withParams {
		for _, p := range c.params[from] {
			if p != nil {
				c.buf = append(c.buf, 0, 0, 0, 1)
				c.buf = append(c.buf, p...)
			}
		}
	}
	stop := len(c.data)
	if end < len(c.units) {
		stop = c.units[end]
	}
	shift := len(c.buf) - c.units[from]
	c.buf = append(c.buf, c.data[c.units[from]:stop]...)
	c.offs = append(c.offs, 0)
	for j := from + 1; j < end; j++ {
		c.offs = append(c.offs, c.units[j]+shift)
	}
	return c.buf, c.offs
}
