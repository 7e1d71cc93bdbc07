package camera

import (
	"bytes"
	"fmt"
	"log/slog"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/edgecam/edgecam/internal/videodec"
)

var startCode = []byte{0, 0, 0, 1}

// maxAccessUnits caps a group of pictures: 4096 pictures is 164 s between key frames at 25 fps,
// longer than any camera setting (smart codecs stretch it to about 10 s; 60 s at most), while a
// 1080p group of that many tiny P-frames already takes about 4 s to decode (the decoder's time
// budget, videodec.DefaultBudget, stops the rest).
const maxAccessUnits = 4096

// gop is the current group of pictures of a stream as an Annex-B elementary stream: the
// parameter sets, the key frame and every access unit after it, as they arrived, with the offset
// of each access unit (what the decoder is given them by).
type gop struct {
	buf    []byte // reused from one group to the next
	units  []int  // offset in buf of each access unit; empty while waiting for a key frame
	codec  videodec.Codec
	lastAt time.Time // when the newest access unit's last packet arrived; kept across sessions
	width  int       // frame size from the sequence parameter set
	height int
	// overflow says why the group was dropped (it grew past maxBytes, or past maxAccessUnits):
	// waiting for the next key frame. Empty when not.
	overflow string
	// lent: a capture is decoding buf[:len] and units[:len] in place. Appending leaves them
	// alone; starting over must not overwrite them, so it takes new arrays instead.
	lent bool
}

// frames is the number of access units held.
func (g *gop) frames() int { return len(g.units) }

// truncate empties the group, reusing its memory unless a capture is reading it.
func (g *gop) truncate() {
	if g.lent {
		g.buf, g.units, g.lent = nil, nil, false
		return
	}
	g.buf = g.buf[:0]
	g.units = g.units[:0]
}

// reset forgets the pictures, keeping the buffer's memory and the time of the last picture.
func (g *gop) reset() {
	g.truncate()
	g.overflow = ""
}

// lend gives a capture the group to decode in place, without a copy; the capture calls
// giveBack when done. Both under the source's mutex.
func (g *gop) lend() (buf []byte, units []int, codec videodec.Codec) {
	g.lent = true
	return g.buf, g.units, g.codec
}

func (g *gop) giveBack() { g.lent = false }

// gopWriter collects one session's access units into its source's gop. It runs on the RTSP
// client's reader goroutine.
type gopWriter struct {
	s         *rtspSource
	codec     videodec.Codec
	forma     format.Format
	params    [3][]byte // VPS (H.265 only), SPS, PPS: the newest seen (SDP or in band)
	sps       []byte    // the SPS the frame size was read from
	lastAt    time.Time // arrival of the previous access unit of this session
	delivered bool      // this session has produced a decodable picture
}

// paramIndex says which parameter set a NAL unit is (0 VPS, 1 SPS, 2 PPS; -1 none) and
// whether it starts a random access point (IDR, CRA or BLA).
func (g *gopWriter) paramIndex(n []byte) (param int, key bool) {
	if len(n) == 0 {
		return -1, false
	}
	if g.codec == videodec.H264 {
		switch h264.NALUType(n[0] & 0x1F) {
		case h264.NALUTypeSPS:
			return 1, false
		case h264.NALUTypePPS:
			return 2, false
		case h264.NALUTypeIDR:
			return -1, true
		}
		return -1, false
	}
	switch t := h265.NALUType((n[0] >> 1) & 0x3F); t {
	case h265.NALUType_VPS_NUT:
		return 0, false
	case h265.NALUType_SPS_NUT:
		return 1, false
	case h265.NALUType_PPS_NUT:
		return 2, false
	default:
		return -1, t >= h265.NALUType_BLA_W_LP && t <= h265.NALUType_CRA_NUT
	}
}

// add appends an access unit that arrived at now.
func (g *gopWriter) add(au [][]byte, now time.Time) {
	key := false
	var inBand [3]bool
	for _, n := range au {
		p, k := g.paramIndex(n)
		key = key || k
		if p >= 0 {
			inBand[p] = true
			if !bytes.Equal(g.params[p], n) {
				g.params[p] = append([]byte(nil), n...)
			}
		}
	}
	s := g.s
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &s.gop
	if key {
		if g.params[1] == nil || g.params[2] == nil || (g.codec == videodec.H265 && g.params[0] == nil) {
			return // not decodable without its parameter sets; they usually come in band soon
		}
		if !bytes.Equal(g.sps, g.params[1]) {
			g.sps = g.params[1]
			b.width, b.height = spsSize(g.codec, g.sps)
		}
		b.reset()
		b.codec = g.codec
		b.units = append(b.units, 0) // the parameter sets belong to the key frame's unit
		for i, p := range g.params {
			if p != nil && !inBand[i] {
				b.buf = append(append(b.buf, startCode...), p...)
			}
		}
	} else if b.frames() == 0 {
		return // waiting for a key frame
	} else {
		b.units = append(b.units, len(b.buf))
	}
	for _, n := range au {
		b.buf = append(append(b.buf, startCode...), n...)
	}
	if int64(len(b.buf)) > s.maxBytes {
		if b.overflow == "" {
			slog.Warn("rtsp group of pictures larger than maxBytes: no frame until the next key frame (raise maxBytes, or lower the camera's key frame interval)",
				"camera", s.id, "maxBytes", s.maxBytes, "accessUnits", b.frames()-1)
		}
		b.truncate()
		b.overflow = fmt.Sprintf("larger than maxBytes %d: raise maxBytes or shorten the camera's key frame interval", s.maxBytes)
		return
	}
	if b.frames() > maxAccessUnits {
		// Decoding cost grows with access units, not bytes: thousands of tiny ones (a static
		// scene, or a hostile camera) would hold the decoder for minutes at a capture.
		if b.overflow == "" {
			slog.Warn("rtsp group of pictures has too many access units: no frame until the next key frame (lower the camera's key frame interval)",
				"camera", s.id, "maxAccessUnits", maxAccessUnits)
		}
		b.truncate()
		b.overflow = fmt.Sprintf("more than %d access units: shorten the camera's key frame interval", maxAccessUnits)
		return
	}
	if !g.lastAt.IsZero() {
		if d := now.Sub(g.lastAt); d < 10*time.Second {
			if s.interval == 0 {
				s.interval = d
			} else {
				s.interval += (d - s.interval) / 8
			}
		}
	}
	g.lastAt = now
	prev := b.lastAt
	b.lastAt = now
	if !g.delivered {
		g.delivered = true
		attrs := []any{"camera", s.id, "url", s.shownURL, "codec", g.codec, "width", b.width, "height", b.height, "transport", s.transport}
		if !s.downSince.IsZero() {
			attrs = append(attrs, "downFor", now.Sub(s.downSince).Round(time.Millisecond))
			if !prev.IsZero() {
				attrs = append(attrs, "noFrameFor", now.Sub(prev).Round(time.Millisecond))
			}
		}
		slog.Info("rtsp stream up", attrs...)
		s.downSince = time.Time{}
		s.lastErr = nil
		s.wakeLocked()
	}
}

// spsSize reads the frame size from a sequence parameter set; 0x0 when it cannot be parsed.
func spsSize(c videodec.Codec, sps []byte) (w, h int) {
	defer func() {
		if recover() != nil { // a corrupt SPS must not take the daemon down
			w, h = 0, 0
		}
	}()
	if c == videodec.H264 {
		var p h264.SPS
		if p.Unmarshal(sps) != nil {
			return 0, 0
		}
		return p.Width(), p.Height()
	}
	var p h265.SPS
	if p.Unmarshal(sps) != nil {
		return 0, 0
	}
	return p.Width(), p.Height()
}
