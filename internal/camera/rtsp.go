package camera

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/config"
)

const (
	// rtspDefaultTimeout is how old a frame may be to count as current, how long the first
	// capture waits for the stream to come up, and how long the watchdog lets a stream go
	// without a frame before it reopens it.
	rtspDefaultTimeout = 10 * time.Second
	// ffmpegOptionsEnv passes options to OpenCV's FFmpeg backend at open time.
	ffmpegOptionsEnv = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
	// rtspFFmpegOptions: RTSP over TCP (no lost UDP packets, works through NAT), and a 5 s socket
	// I/O timeout (microseconds) so a read on a dead stream returns instead of blocking. FFmpeg 5
	// (Debian and Raspberry Pi OS bookworm) calls it "timeout"; FFmpeg 4 called it "stimeout".
	rtspFFmpegOptions = "rtsp_transport;tcp|timeout;5000000"
	// Reopen backoff after a failure: doubles from min to max, back to min after a good session.
	rtspBackoffMin = 500 * time.Millisecond
	rtspBackoffMax = 8 * time.Second
	// rtspOpenTimeout bounds opening a stream (connect, RTSP handshake, FFmpeg probing the
	// stream) when the timeout is shorter.
	rtspOpenTimeout = 30 * time.Second
	// rtspWatchdogTick is how often the watchdog looks at the time of the last frame.
	rtspWatchdogTick = 250 * time.Millisecond
	// rtspCloseWait bounds Close while a reader is blocked in OpenCV: beyond the FFmpeg socket
	// timeout and OpenCV's own 30 s interrupt timeout.
	rtspCloseWait = 35 * time.Second
)

// openMu serialises opens that set OPENCV_FFMPEG_CAPTURE_OPTIONS, a process-wide variable.
var openMu sync.Mutex

// rtspSource keeps an FFmpeg-readable stream open and drained by a background reader, so a
// capture returns the newest frame, not one that waited in a buffer. A watchdog reopens a stream
// that stalls or drops, with backoff; meanwhile captures fail at once.
//
// Frames are double-buffered: the reader decodes into back, then swaps it with front under mu.
// Neither Mat is reallocated per frame (OpenCV reuses a Mat of the same size).
type rtspSource struct {
	id       string
	url      string
	shownURL string
	timeout  time.Duration

	mu        sync.Mutex
	front     gocv.Mat  // newest frame
	frontAt   time.Time // when front was read; zero before the first frame
	up        bool      // the current session delivers frames
	downSince time.Time // zero while up, or before the first open finished
	lastErr   error     // why the stream is down
	wake      chan struct{}
	closed    bool

	back gocv.Mat // owned by the reader goroutine of the current session

	// Watchdog state of the current session.
	opened    atomic.Bool  // the stream is open
	frames    atomic.Int64 // frames read
	lastAlive atomic.Int64 // unix nanoseconds of the session start, the open or the newest frame

	stop chan struct{} // closed by Close
	done chan struct{} // closed when the supervisor and its reader have finished
}

func newRTSP(c config.Camera) (*rtspSource, error) {
	if c.URL == "" {
		return nil, fmt.Errorf("camera %s: type rtsp needs url (the stream URL, e.g. rtsp://user:password@host:554/stream)", c.ID)
	}
	shown := "the configured URL"
	if u, err := url.Parse(c.URL); err == nil {
		shown = u.Redacted()
	}
	s := &rtspSource{
		id:       c.ID,
		url:      c.URL,
		shownURL: shown,
		timeout:  timeoutOr(c, rtspDefaultTimeout),
		front:    gocv.NewMat(),
		back:     gocv.NewMat(),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go s.supervise()
	return s, nil
}

// Capture returns a copy of the newest frame if it is younger than the timeout. Right after New
// it waits (up to the timeout) for the stream to come up; while the stream is down or stalled
// it fails at once.
func (s *rtspSource) Capture(ctx context.Context) (*Frame, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	s.mu.Lock()
	for {
		switch {
		case s.closed:
			s.mu.Unlock()
			return nil, fmt.Errorf("camera %s: rtsp source is closed", s.id)
		case s.up && time.Since(s.frontAt) <= s.timeout:
			f := &Frame{Camera: s.id, Time: s.frontAt, Mat: gocv.NewMat()}
			s.front.CopyTo(&f.Mat)
			s.mu.Unlock()
			return f, nil
		case s.up:
			at := s.frontAt
			s.mu.Unlock()
			return nil, fmt.Errorf("camera %s: rtsp stream %s stalled: no frame since %s",
				s.id, s.shownURL, at.Format(time.TimeOnly))
		case !s.downSince.IsZero():
			err := fmt.Errorf("camera %s: rtsp stream %s down since %s: reconnecting (%v)",
				s.id, s.shownURL, s.downSince.Format(time.TimeOnly), s.lastErr)
			s.mu.Unlock()
			return nil, err
		}
		// Still opening: wait for the first frame or a failure.
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

// Close stops the reader and releases the stream and the frames. If the reader is blocked in
// OpenCV it waits for it (bounded by the FFmpeg socket timeout); after rtspCloseWait it returns
// an error and the reader cleans up by itself when its read returns.
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
	select {
	case <-s.done:
		return nil
	case <-time.After(rtspCloseWait):
		return fmt.Errorf("camera %s: rtsp reader still blocked in a read after %v: it will exit when the read returns",
			s.id, rtspCloseWait)
	}
}

// supervise runs reader sessions until Close: open, read until failure or stall, back off,
// reopen. It owns the Mats' lifetime and never runs two sessions at once, so a Mat or a
// VideoCapture is never used after it is closed.
func (s *rtspSource) supervise() {
	defer close(s.done)
	defer func() {
		s.mu.Lock()
		s.front.Close()
		s.mu.Unlock()
		s.back.Close()
	}()
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

// session opens the stream in a reader goroutine and watches it. It returns when the reader
// has exited: with the reason the stream ended, whether it delivered frames, and whether it
// ended because of Close.
func (s *rtspSource) session() (err error, delivered, stopped bool) {
	var quit atomic.Bool
	result := make(chan error, 1)
	s.opened.Store(false)
	s.frames.Store(0)
	s.lastAlive.Store(time.Now().UnixNano())
	go func() { result <- s.read(&quit) }()

	tick := time.NewTicker(rtspWatchdogTick)
	defer tick.Stop()
	for {
		select {
		case err := <-result:
			return err, s.frames.Load() > 0, false
		case <-s.stop:
			quit.Store(true)
			<-result
			return nil, false, true
		case now := <-tick.C:
			limit, what := s.timeout, "no frame"
			if !s.opened.Load() {
				limit, what = max(s.timeout, rtspOpenTimeout), "stream not open"
			}
			idle := now.Sub(time.Unix(0, s.lastAlive.Load()))
			if idle <= limit {
				continue
			}
			// Stalled: captures fail from now on; the reader is told to quit and is waited
			// for, since its VideoCapture cannot be closed under a running read. The FFmpeg
			// socket timeout makes that read return.
			quit.Store(true)
			stall := fmt.Errorf("%s for %v: stalled", what, idle.Round(time.Second))
			s.setDown(stall)
			select {
			case <-result:
				return stall, s.frames.Load() > 0, false
			case <-s.stop:
				<-result
				return nil, false, true
			}
		}
	}
}

// read opens the stream and reads frames into back until a read fails or quit is set.
func (s *rtspSource) read(quit *atomic.Bool) error {
	start := time.Now()
	// The watchdog's open budget counts from when this open really starts: opens are
	// serialised, and other cameras' opens must not use it up.
	vc, err := openStream(s.url, func() { s.lastAlive.Store(time.Now().UnixNano()) })
	if err != nil {
		return err
	}
	defer vc.Close()
	slog.Debug("rtsp stream opened", "camera", s.id, "url", s.shownURL, "took", time.Since(start))
	s.lastAlive.Store(time.Now().UnixNano())
	s.opened.Store(true)
	for !quit.Load() {
		if !vc.Read(&s.back) || s.back.Empty() {
			return errors.New("stream ended or could not be read")
		}
		s.publish()
	}
	return nil
}

// publish makes back the newest frame.
func (s *rtspSource) publish() {
	now := time.Now()
	s.frames.Add(1)
	s.lastAlive.Store(now.UnixNano())
	s.mu.Lock()
	s.front, s.back = s.back, s.front
	s.frontAt = now
	if !s.up {
		slog.Info("rtsp stream up", "camera", s.id, "url", s.shownURL)
	}
	s.up = true
	s.downSince = time.Time{}
	s.lastErr = nil
	s.wakeLocked()
	s.mu.Unlock()
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

// openStream opens url with OpenCV's FFmpeg backend, setting OPENCV_FFMPEG_CAPTURE_OPTIONS for
// the open unless the user set it. started is called once the open begins (after the wait for
// other cameras' opens).
func openStream(uri string, started func()) (*gocv.VideoCapture, error) {
	openMu.Lock()
	defer openMu.Unlock()
	started()
	if _, set := os.LookupEnv(ffmpegOptionsEnv); !set {
		os.Setenv(ffmpegOptionsEnv, rtspFFmpegOptions)
		defer os.Unsetenv(ffmpegOptionsEnv)
	}
	vc, err := gocv.VideoCaptureFileWithAPI(uri, gocv.VideoCaptureFFmpeg)
	if err != nil || !vc.IsOpened() {
		vc.Close()
		// gocv's error repeats the URL with its password: say it without.
		return nil, errors.New("cannot open the stream (wrong URL or credentials, or camera unreachable)")
	}
	return vc, nil
}
