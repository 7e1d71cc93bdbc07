package camera

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/rtp"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/imageinfo"
	"github.com/edgecam/edgecam/internal/redact"
	"github.com/edgecam/edgecam/internal/videodec"
)

const (
	// rtspDefaultTimeout bounds how long the first capture after start waits for the stream to
	// come up (connect, handshake, first key frame).
	rtspDefaultTimeout = 10 * time.Second
	// rtspMinFrameAge is the smallest default maxFrameAge: the default is this or 3 frame
	// intervals, whichever is larger.
	rtspMinFrameAge = 2 * time.Second
	// rtspHandshakeTimeout bounds connecting and the RTSP requests up to PLAY: a server that
	// accepts the connection but does not answer (a frozen camera) is given up on.
	rtspHandshakeTimeout = 10 * time.Second
	// rtspReadTimeout is the RTSP library's own timeout for an answer and for a silent
	// connection during play; edgecam's watchdog (maxFrameAge) is normally much faster.
	rtspReadTimeout = 30 * time.Second
	// Reopen backoff after a failure: doubles from min to max, back to min after a session
	// that delivered frames. The max is short so a thawed or restarted camera is back within
	// a few seconds.
	rtspBackoffMin = 500 * time.Millisecond
	rtspBackoffMax = 4 * time.Second
	// rtspWatchdogTick is how often the watchdog looks at the time of the last packet.
	rtspWatchdogTick = 250 * time.Millisecond
	// rtspUDPBuffer is the UDP receive buffer asked for.
	rtspUDPBuffer = 4 << 20
)

// rtspSource keeps an RTSP session open (gortsplib, TCP or UDP) and keeps the compressed access
// units of the current group of pictures, from the last key frame, without decoding them. A
// capture decodes that group with libavcodec (package videodec) and returns its last picture,
// so between ticks the source costs only the packet reception. A watchdog reconnects, with
// backoff, a session that fails or delivers nothing for maxFrameAge; a capture never returns a
// frame older than maxFrameAge.
type rtspSource struct {
	id        string
	u         *base.URL
	shownURL  string
	transport string // config.TransportTCP, UDP or Auto
	timeout   time.Duration
	maxAge    time.Duration // configured maxFrameAge; 0 = automatic
	maxBytes  int64
	maxPixels int64

	mu        sync.Mutex
	gop       gop
	interval  time.Duration // smoothed interval between access units; 0 before two arrived
	up        bool          // a session is playing
	downSince time.Time     // zero while up or before the first session ended
	lastErr   error         // why the stream is down
	wake      chan struct{} // closed when the first picture arrives or the first session fails
	closed    bool

	lastPacket atomic.Int64  // unix nanoseconds of the newest RTP packet (or the session start)
	lost       atomic.Uint64 // RTP packets lost in the current session

	dec *videodec.Decoder // owned by Capture, under decMu
	// decMu serialises captures: they share the decoder.
	decMu sync.Mutex

	stop chan struct{} // closed by Close
	done chan struct{} // closed when the supervisor has finished
}

var _ Source = (*rtspSource)(nil)
var _ StatusReporter = (*rtspSource)(nil)

func newRTSP(c config.Camera) (*rtspSource, error) {
	if c.URL == "" {
		return nil, fmt.Errorf("camera %s: type rtsp needs url (the stream URL, e.g. rtsp://user:password@host:554/stream)", c.ID)
	}
	raw := c.URL
	if pu, err := url.Parse(raw); err == nil && pu.User == nil && c.Username != "" {
		pu.User = url.UserPassword(c.Username, c.Password)
		raw = pu.String()
	}
	shown := redact.URL(raw)
	u, err := base.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("camera %s: url %s: %s (want rtsp://host:port/path)", c.ID, shown, redact.Text(err.Error()))
	}
	if c.MaxFrameAge < 0 {
		return nil, fmt.Errorf("camera %s: maxFrameAge %v is negative", c.ID, c.MaxFrameAge)
	}
	tr := c.Transport
	switch tr {
	case "":
		tr = config.TransportTCP
	case config.TransportTCP, config.TransportUDP, config.TransportAuto:
	default:
		return nil, fmt.Errorf("camera %s: transport %q: use tcp, udp or auto", c.ID, c.Transport)
	}
	dec, err := videodec.New(videodec.Options{})
	if err != nil {
		return nil, fmt.Errorf("camera %s: %w", c.ID, err)
	}
	s := &rtspSource{
		id:        c.ID,
		u:         u,
		shownURL:  shown,
		transport: tr,
		timeout:   timeoutOr(c, rtspDefaultTimeout),
		maxAge:    c.MaxFrameAge,
		maxBytes:  maxBytes(c),
		maxPixels: MaxPixels(c),
		dec:       dec,
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	go s.supervise()
	return s, nil
}

// frameAgeLimit is the configured maxFrameAge, or the larger of 2 s and 3 frame intervals.
// s.mu must be held.
func (s *rtspSource) frameAgeLimit() time.Duration {
	if s.maxAge > 0 {
		return s.maxAge
	}
	return max(rtspMinFrameAge, 3*s.interval)
}

// Capture decodes the current group of pictures and returns its last picture, stamped with the
// time its packets arrived. Right after New it waits (up to the timeout) for the stream to come
// up; while the stream is down, or when its newest picture is older than maxFrameAge, it fails
// at once.
func (s *rtspSource) Capture(ctx context.Context) (*Frame, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	s.decMu.Lock()
	defer s.decMu.Unlock()
	s.mu.Lock()
	for {
		now := time.Now()
		switch {
		case s.closed:
			s.mu.Unlock()
			return nil, fmt.Errorf("camera %s: rtsp source is closed", s.id)
		case s.gop.frames() > 0:
			limit, at := s.frameAgeLimit(), s.gop.lastAt
			if age := now.Sub(at); age > limit {
				s.mu.Unlock()
				return nil, fmt.Errorf("camera %s: rtsp stream %s: the newest frame is %v old, more than maxFrameAge %v (received %s): the stream stalled, reconnecting",
					s.id, s.shownURL, age.Round(100*time.Millisecond), limit, at.Format(time.TimeOnly))
			}
			if err := checkStreamSize(s.gop.width, s.gop.height, s.maxPixels); err != nil {
				s.mu.Unlock()
				return nil, fmt.Errorf("camera %s: rtsp stream %s: %v", s.id, s.shownURL, err)
			}
			// Decoded in place while packets keep arriving (appended after what is decoded).
			buf, units, codec := s.gop.lend()
			s.mu.Unlock()
			m, r, err := s.dec.Last(codec, buf, units, s.maxPixels)
			s.mu.Lock()
			s.gop.giveBack()
			s.mu.Unlock()
			if err != nil {
				return nil, fmt.Errorf("camera %s: rtsp stream %s: %v", s.id, s.shownURL, err)
			}
			if r.Refused > 0 { // lost packets, usually over UDP: the picture may show it
				slog.Debug("rtsp group of pictures decoded with corrupt access units", "camera", s.id,
					"refused", r.Refused, "accessUnits", len(units))
			}
			return &Frame{Camera: s.id, Time: at, Mat: m}, nil
		case s.gop.overflow != "":
			err := fmt.Errorf("camera %s: rtsp stream %s: the group of pictures since the last key frame is %s",
				s.id, s.shownURL, s.gop.overflow)
			s.mu.Unlock()
			return nil, err
		case !s.downSince.IsZero():
			err := fmt.Errorf("camera %s: rtsp stream %s down since %s: reconnecting (%v)",
				s.id, s.shownURL, s.downSince.Format(time.TimeOnly), s.lastErr)
			s.mu.Unlock()
			return nil, err
		}
		// Still opening: wait for the first picture or a failure.
		if s.wake == nil {
			s.wake = make(chan struct{})
		}
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("camera %s: rtsp stream %s: no frame yet after %v: still opening (is the camera reachable and the URL right?)",
					s.id, s.shownURL, s.timeout)
			}
			return nil, fmt.Errorf("camera %s: %w", s.id, ctx.Err())
		}
		s.mu.Lock()
	}
}

// checkStreamSize refuses a stream whose sequence parameter set announces more than maxPixels
// or fewer than videodec.MinSide pixels a side, before anything is decoded. A size of 0x0 (an
// SPS that mediacommon cannot parse but FFmpeg may) is left to the decoder, which applies both
// limits to the size it reads itself.
func checkStreamSize(w, h int, maxPixels int64) error {
	if w <= 0 || h <= 0 {
		return nil
	}
	if err := imageinfo.CheckPixels(w, h, maxPixels); err != nil {
		return err
	}
	if w < videodec.MinSide || h < videodec.MinSide {
		return fmt.Errorf("picture is %dx%d, smaller than %dx%d: not a camera's picture (refused)", w, h, videodec.MinSide, videodec.MinSide)
	}
	return nil
}

// Status reports whether the stream is playing and fresh, and when its newest picture arrived.
func (s *rtspSource) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{FrameTime: s.gop.lastAt}
	st.Up = s.up && s.gop.frames() > 0 && time.Since(s.gop.lastAt) <= s.frameAgeLimit()
	return st
}

// Close ends the session and releases the buffers.
func (s *rtspSource) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.wakeLocked()
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	s.decMu.Lock()
	defer s.decMu.Unlock()
	s.dec.Close()
	return nil
}

// supervise runs sessions until Close: open, play until failure or stall, back off, reopen.
func (s *rtspSource) supervise() {
	defer close(s.done)
	backoff := rtspBackoffMin
	for {
		err, delivered, stopped := s.session()
		if stopped {
			return
		}
		s.setDown(err)
		if delivered {
			backoff = rtspBackoffMin
		}
		select {
		case <-s.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, rtspBackoffMax)
	}
}

// session connects, plays and watches one RTSP session. It returns when the session has ended:
// with the reason, whether it delivered pictures, and whether it ended because of Close.
func (s *rtspSource) session() (err error, delivered, stopped bool) {
	c := &gortsplib.Client{
		Scheme:       s.u.Scheme,
		Host:         s.u.Host,
		ReadTimeout:  rtspReadTimeout,
		WriteTimeout: rtspHandshakeTimeout,
		// Room for a key frame's burst of packets over UDP (the kernel caps it at rmem_max).
		UDPReadBufferSize: rtspUDPBuffer,
		// Losses and undecodable packets are normal on UDP; the library would print each.
		OnPacketsLost: func(n uint64) { s.lost.Add(n) },
		OnDecodeError: func(err error) { slog.Debug("rtsp packet not decodable", "camera", s.id, "err", err) },
	}
	switch s.transport {
	case config.TransportTCP:
		c.Transport = ptr(gortsplib.TransportTCP)
	case config.TransportUDP:
		c.Transport = ptr(gortsplib.TransportUDP)
	}
	start := time.Now()
	s.lastPacket.Store(start.UnixNano())
	s.lost.Store(0)

	// The handshake blocks; Close or its time budget aborts it by closing the client.
	handshook := make(chan struct{})
	aborted := make(chan string, 1) // "": not aborted
	go func() {
		t := time.NewTimer(rtspHandshakeTimeout)
		defer t.Stop()
		select {
		case <-handshook:
			aborted <- ""
		case <-s.stop:
			c.Close()
			aborted <- "closed"
		case <-t.C:
			c.Close()
			aborted <- "timeout"
		}
	}()
	var g *gopWriter
	err = c.Start2()
	if err == nil {
		g, err = s.setup(c)
	}
	close(handshook)
	switch <-aborted {
	case "closed":
		c.Close()
		return nil, false, true
	case "timeout":
		err = fmt.Errorf("no answer within %v (the camera accepts connections but does not respond)", rtspHandshakeTimeout)
	}
	if err != nil {
		c.Close()
		return openError(err), false, false
	}
	slog.Debug("rtsp session playing", "camera", s.id, "url", s.shownURL, "codec", g.codec,
		"transport", s.transport, "tookMs", time.Since(start).Milliseconds())
	s.lastPacket.Store(time.Now().UnixNano())
	s.mu.Lock()
	s.up = true
	s.mu.Unlock()

	ended := make(chan error, 1)
	go func() { ended <- c.Wait() }()
	tick := time.NewTicker(rtspWatchdogTick)
	defer tick.Stop()
	for {
		select {
		case err := <-ended:
			return s.endSession(g, fmt.Errorf("session ended: %w", err))
		case <-s.stop:
			c.Close()
			<-ended
			s.endSession(g, nil)
			return nil, false, true
		case now := <-tick.C:
			s.mu.Lock()
			limit := s.frameAgeLimit()
			s.mu.Unlock()
			idle := now.Sub(time.Unix(0, s.lastPacket.Load()))
			if idle <= limit {
				continue
			}
			// Stalled (a hung camera keeps the connection open and sends nothing): tear the
			// session down now rather than wait for a read timeout.
			c.Close()
			<-ended
			return s.endSession(g, fmt.Errorf("stalled: no packet for %v", idle.Round(100*time.Millisecond)))
		}
	}
}

// endSession forgets the session's pictures (a new session starts from its first key frame).
func (s *rtspSource) endSession(g *gopWriter, err error) (error, bool, bool) {
	if n := s.lost.Load(); n > 0 {
		slog.Debug("rtsp packets lost in the session", "camera", s.id, "lost", n)
	}
	s.mu.Lock()
	delivered := g.delivered
	s.gop.reset()
	s.interval = 0
	s.mu.Unlock()
	return err, delivered, false
}

// setup describes the stream, picks its H.264 or H.265 video, sets it up and plays it.
func (s *rtspSource) setup(c *gortsplib.Client) (*gopWriter, error) {
	desc, _, err := c.Describe(s.u)
	if err != nil {
		return nil, fmt.Errorf("describe: %w", err)
	}
	var h264 *format.H264
	var h265 *format.H265
	var medi *description.Media
	g := &gopWriter{s: s}
	var depack func(*rtp.Packet) ([][]byte, error)
	if medi = desc.FindFormat(&h264); medi != nil {
		d, err := h264.CreateDecoder()
		if err != nil {
			return nil, err
		}
		depack = d.Decode
		g.codec = videodec.H264
		sps, pps := h264.SafeParams()
		g.params = [3][]byte{nil, sps, pps}
		g.forma = h264
	} else if medi = desc.FindFormat(&h265); medi != nil {
		d, err := h265.CreateDecoder()
		if err != nil {
			return nil, err
		}
		depack = d.Decode
		g.codec = videodec.H265
		vps, sps, pps := h265.SafeParams()
		g.params = [3][]byte{vps, sps, pps}
		g.forma = h265
	} else {
		return nil, fmt.Errorf("the stream has no H.264 or H.265 video (%s)", describeMedias(desc))
	}
	if _, err := c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	c.OnPacketRTP(medi, g.forma, func(pkt *rtp.Packet) {
		now := time.Now()
		s.lastPacket.Store(now.UnixNano())
		au, err := depack(pkt)
		if err != nil {
			return // more packets needed, or a loss: the depacketizer resyncs
		}
		g.add(au, now)
	})
	if _, err := c.Play(nil); err != nil {
		return nil, fmt.Errorf("play: %w", err)
	}
	return g, nil
}

// openError says what a failed handshake means.
func openError(err error) error {
	var bad liberrors.ErrClientBadStatusCode
	if errors.As(err, &bad) {
		switch bad.Code {
		case base.StatusUnauthorized:
			return fmt.Errorf("cannot open the stream: %v (wrong user or password?)", err)
		case base.StatusNotFound:
			return fmt.Errorf("cannot open the stream: %v (wrong path in the URL?)", err)
		}
	}
	return fmt.Errorf("cannot open the stream: %s", redact.Text(err.Error()))
}

func describeMedias(desc *description.Session) string {
	if len(desc.Medias) == 0 {
		return "no media"
	}
	s := ""
	for i, m := range desc.Medias {
		if i > 0 {
			s += ", "
		}
		s += string(m.Type)
		for _, f := range m.Formats {
			s += " " + f.Codec()
		}
	}
	return s
}

// setDown records that the stream is down because of err.
func (s *rtspSource) setDown(err error) {
	if err == nil {
		err = errors.New("stream ended")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.up || s.downSince.IsZero() {
		slog.Warn("rtsp stream down, reconnecting", "camera", s.id, "url", s.shownURL, "err", err)
		s.downSince = time.Now()
	}
	s.up = false
	s.lastErr = err
	s.wakeLocked()
}

func (s *rtspSource) wakeLocked() {
	if s.wake != nil {
		close(s.wake)
		s.wake = nil
	}
}

func ptr[T any](v T) *T { return &v }
