package camera

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/edgecam/edgecam/internal/videodec"
)

// ErrNoNewFrame is Streamer.Next's error when no picture arrived since the previous one.
var ErrNoNewFrame = errors.New("no new frame since the last one")

// Streamer reads a video source's pictures in order for continuous analysis, decoding each
// access unit once: an RTSP source's Capture decodes the group of pictures since the key frame
// at every call, which at several frames a second would decode most pictures many times over,
// and a Raspberry Pi camera's Capture starts rpicam-still for every picture.
type Streamer interface {
	// Next returns the newest picture (a Frame with a Mat the caller closes), or ErrNoNewFrame
	// when none arrived since the previous call.
	Next(ctx context.Context) (*Frame, error)
	// Close releases the streamer (not its source).
	Close()
}

// rtspStreamer is an RTSP source's Streamer.
type rtspStreamer struct {
	s    *rtspSource
	dec  *videodec.Decoder
	fed  int    // access units of the current group already decoded
	key  []byte // the start of the current group's first access unit, to tell a new group
	offs []int
}

// NewStreamer returns a Streamer of src for fps analysed frames a second, or nil when src is
// not a video source (rtsp, rpi).
func NewStreamer(src Source, fps float64) Streamer {
	dec, _ := videodec.New(videodec.Options{})
	switch s := src.(type) {
	case *rtspSource:
		return &rtspStreamer{s: s, dec: dec}
	case *rpiSource:
		return newRPiStreamer(s, fps, dec)
	}
	dec.Close()
	return nil
}

// Close releases the streamer's decoder (not the source).
func (st *rtspStreamer) Close() { st.dec.Close() }

// Next returns the newest picture, decoding the access units that arrived since the previous
// call (from the key frame after a new group or session started), or ErrNoNewFrame.
func (st *rtspStreamer) Next(ctx context.Context) (*Frame, error) {
	s := st.s
	s.decMu.Lock() // one reader of the group at a time, with Capture
	defer s.decMu.Unlock()
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return nil, fmt.Errorf("camera %s: rtsp source is closed", s.id)
	case s.gop.frames() == 0:
		err := fmt.Errorf("camera %s: rtsp stream %s: no picture yet", s.id, s.shownURL)
		if !s.downSince.IsZero() {
			err = fmt.Errorf("camera %s: rtsp stream %s down since %s: reconnecting (%v)", s.id, s.shownURL, s.downSince.Format(time.TimeOnly), s.lastErr)
		}
		s.mu.Unlock()
		return nil, err
	}
	at := s.gop.lastAt
	if age, limit := time.Since(at), s.frameAgeLimit(); age > limit {
		s.mu.Unlock()
		return nil, fmt.Errorf("camera %s: rtsp stream %s: the newest frame is %v old, more than maxFrameAge %v: the stream stalled, reconnecting",
			s.id, s.shownURL, age.Round(100*time.Millisecond), limit)
	}
	buf, units, codec := s.gop.lend()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.gop.giveBack()
		s.mu.Unlock()
	}()
	end0 := len(buf)
	if len(units) > 1 {
		end0 = units[1]
	}
	id := buf[units[0]:min(end0, units[0]+256)]
	if !bytes.Equal(id, st.key) || st.fed > len(units) {
		st.dec.Reset()
		st.fed = 0
		st.key = append(st.key[:0], id...)
	}
	if st.fed == len(units) {
		return nil, ErrNoNewFrame
	}
	base := units[st.fed]
	st.offs = st.offs[:0]
	for _, u := range units[st.fed:] {
		st.offs = append(st.offs, u-base)
	}
	m, _, err := st.dec.Feed(codec, buf[base:], st.offs, s.maxPixels)
	st.fed = len(units)
	if err != nil {
		if !errors.Is(err, videodec.ErrNoPicture) {
			st.key = st.key[:0] // start again from the next group
		}
		return nil, fmt.Errorf("camera %s: rtsp stream %s: %w", s.id, s.shownURL, err)
	}
	return &Frame{Camera: s.id, Time: at, Mat: m}, nil
}
