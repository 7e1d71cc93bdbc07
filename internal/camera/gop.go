package camera

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"gocv.io/x/gocv"
	"golang.org/x/sys/unix"
)

type codec string

const (
	codecH264 codec = "H.264"
	codecH265 codec = "H.265"
)

var startCode = []byte{0, 0, 0, 1}

// gop is the current group of pictures of a stream as an Annex-B elementary stream: the
// parameter sets, the key frame and every access unit after it, as they arrived.
type gop struct {
	buf      []byte    // reused from one group to the next
	frames   int       // access units in buf; 0 while waiting for a key frame
	lastAt   time.Time // when the newest access unit's last packet arrived; kept across sessions
	width    int       // frame size from the sequence parameter set
	height   int
	overflow bool // the group grew past maxBytes: waiting for the next key frame
}

// reset forgets the pictures, keeping the buffer's memory and the time of the last picture.
func (g *gop) reset() {
	g.buf = g.buf[:0]
	g.frames = 0
	g.overflow = false
}

// gopWriter collects one session's access units into its source's gop. It runs on the RTSP
// client's reader goroutine.
type gopWriter struct {
	s         *rtspSource
	codec     codec
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
	if g.codec == codecH264 {
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
		if g.params[1] == nil || g.params[2] == nil || (g.codec == codecH265 && g.params[0] == nil) {
			return // not decodable without its parameter sets; they usually come in band soon
		}
		if !bytes.Equal(g.sps, g.params[1]) {
			g.sps = g.params[1]
			b.width, b.height = spsSize(g.codec, g.sps)
		}
		b.buf = b.buf[:0]
		b.frames = 0
		b.overflow = false
		for i, p := range g.params {
			if p != nil && !inBand[i] {
				b.buf = append(append(b.buf, startCode...), p...)
			}
		}
	} else if b.frames == 0 {
		return // waiting for a key frame
	}
	for _, n := range au {
		b.buf = append(append(b.buf, startCode...), n...)
	}
	if int64(len(b.buf)) > s.maxBytes {
		if !b.overflow {
			slog.Warn("rtsp group of pictures larger than maxBytes: no frame until the next key frame (raise maxBytes, or lower the camera's key frame interval)",
				"camera", s.id, "maxBytes", s.maxBytes, "accessUnits", b.frames)
		}
		b.buf = b.buf[:0]
		b.frames = 0
		b.overflow = true
		return
	}
	b.frames++
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
func spsSize(c codec, sps []byte) (w, h int) {
	defer func() {
		if recover() != nil { // a corrupt SPS must not take the daemon down
			w, h = 0, 0
		}
	}()
	if c == codecH264 {
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

// gopDecoder decodes a group of pictures with OpenCV's FFmpeg backend: the elementary stream
// goes into an anonymous in-memory file (memfd) that FFmpeg opens as /proc/self/fd/N, so
// nothing touches the disk and no decoder runs between captures.
type gopDecoder struct {
	id   string
	file *os.File
	path string
	cur  gocv.Mat // the newest decoded picture; handed to the caller
	next gocv.Mat // reused for every read
}

func newGOPDecoder(id string) (*gopDecoder, error) {
	fd, err := unix.MemfdCreate("edgecam-rtsp-"+id, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("camera %s: in-memory file for decoding: %w", id, err)
	}
	return &gopDecoder{
		id:   id,
		file: os.NewFile(uintptr(fd), "memfd"),
		path: fmt.Sprintf("/proc/self/fd/%d", fd),
		cur:  gocv.NewMat(),
		next: gocv.NewMat(),
	}, nil
}

// load replaces the file's content with buf.
func (d *gopDecoder) load(buf []byte) (int, error) {
	if err := d.file.Truncate(0); err != nil {
		return 0, fmt.Errorf("camera %s: in-memory file: %w", d.id, err)
	}
	n, err := d.file.WriteAt(buf, 0)
	if err != nil {
		return n, fmt.Errorf("camera %s: in-memory file: %w", d.id, err)
	}
	return n, nil
}

// decode decodes the loaded stream of units access units and returns its last picture (the
// caller closes it) and how many pictures were read. The pictures before the last are only
// decoded (grabbed), not converted to BGR. The file is emptied afterwards, so it holds no
// memory between captures.
func (d *gopDecoder) decode(units int) (gocv.Mat, int, error) {
	defer d.file.Truncate(0)
	n, err := d.read(units - 1)
	if err == nil && n == 0 && units > 1 {
		// Fewer pictures than access units (the decoder dropped some): read them all.
		n, err = d.read(0)
	}
	if err != nil {
		return gocv.Mat{}, 0, err
	}
	if n == 0 {
		return gocv.Mat{}, 0, fmt.Errorf("FFmpeg decoded no picture from the buffered stream")
	}
	m := d.cur
	d.cur = gocv.NewMat()
	return m, n, nil
}

// read opens the loaded stream, decodes skip pictures without converting them, then reads the
// rest into cur, the newest last. It returns how many it read after the skipped ones.
func (d *gopDecoder) read(skip int) (int, error) {
	vc, err := gocv.VideoCaptureFileWithAPI(d.path, gocv.VideoCaptureFFmpeg)
	if err != nil || !vc.IsOpened() {
		if vc != nil {
			vc.Close()
		}
		return 0, fmt.Errorf("FFmpeg cannot open the buffered stream")
	}
	defer vc.Close()
	if skip > 0 {
		vc.Grab(skip)
	}
	n := 0
	for vc.Read(&d.next) && !d.next.Empty() {
		d.cur, d.next = d.next, d.cur
		n++
	}
	return n, nil
}

func (d *gopDecoder) close() error {
	d.cur.Close()
	d.next.Close()
	return d.file.Close()
}
