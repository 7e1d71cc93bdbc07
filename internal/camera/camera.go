// Package camera captures frames from the cameras edgecam watches: the Raspberry Pi camera
// (rpicam-still), an HTTP snapshot URL (Basic or Digest authentication), an RTSP stream (a
// gortsplib session that keeps the current group of pictures compressed and decodes it with
// libavcodec, package videodec, only at a capture) and an image file.
//
// A Source returns the latest frame or an error that names the camera and what went wrong.
// Sources are built from configuration with New and released with Close.
package camera

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/imagecodec"
	"github.com/edgecam/edgecam/internal/imageinfo"
)

// DefaultMaxBytes caps an encoded frame when config.Camera.MaxBytes is 0.
const DefaultMaxBytes int64 = config.DefaultMaxBytes

// DefaultMaxPixels caps a frame's width x height when config.Camera.MaxPixels is 0.
const DefaultMaxPixels int64 = imageinfo.DefaultMaxPixels

// Frame is one captured image. Data holds the encoded image (JPEG/PNG) as the camera delivered
// it (http, rpi, file); Mat holds decoded BGR pixels: an rtsp frame's, or Data decoded once by
// Image and kept for the rest of the tick. Close releases the Mat.
type Frame struct {
	// Camera is the ID of the camera that produced the frame.
	Camera string
	// Time is when the frame was captured (for rtsp: when its packets arrived).
	Time time.Time
	// Data is the encoded image; nil for an rtsp frame.
	Data []byte
	// Mat is the decoded BGR image: an rtsp frame's, or Data's once Image has decoded it; a zero
	// Mat before.
	Mat gocv.Mat
	// MaxPixels is the camera's maxPixels, the limit Image's decoder enforces on Data from the
	// size it reads; 0 means DefaultMaxPixels.
	MaxPixels int64
}

// HasMat reports whether the frame holds decoded pixels in Mat (rather than encoded Data).
func (f *Frame) HasMat() bool { return f != nil && f.Mat.Ptr() != nil }

// Close releases the frame's Mat, if any. It is safe to call more than once.
func (f *Frame) Close() error {
	if f.HasMat() {
		return f.Mat.Close()
	}
	return nil
}

// Image returns the frame as a BGR image: Mat, decoding Data into it the first time, so a tick
// that needs the pixels more than once (detection, the marked-up file, an upload) decodes them
// once. The frame owns the Mat: callers must not close or draw on it (Decode gives a copy).
// The pixel limit is checked once, by the decoder against the size it reads itself (for JPEG,
// libjpeg's header read) before it allocates: a frame over MaxPixels is refused with an error
// naming the maxPixels setting. The source already refused a header over it at capture; Data
// is not parsed a second time here.
func (f *Frame) Image() (gocv.Mat, error) {
	if f.HasMat() {
		return f.Mat, nil
	}
	m, err := decodeImage(f.Camera, "frame", f.Data, f.MaxPixels)
	if err != nil {
		return gocv.Mat{}, err
	}
	f.Mat = m
	return m, nil
}

// Decode returns a copy of the frame's BGR image (Image); the caller closes it.
func (f *Frame) Decode() (gocv.Mat, error) {
	m, err := f.Image()
	if err != nil {
		return gocv.Mat{}, err
	}
	return m.Clone(), nil
}

// Size returns the frame's width and height: Mat's, or read from Data's header without
// decoding it.
func (f *Frame) Size() (w, h int, err error) {
	if f.HasMat() {
		return f.Mat.Cols(), f.Mat.Rows(), nil
	}
	_, w, h, err = readHeader(f.Data)
	if err != nil {
		return 0, 0, fmt.Errorf("camera %s: %w", f.Camera, err)
	}
	return w, h, nil
}

// Source returns the latest frame, or an error that names the camera and what went wrong.
type Source interface {
	Capture(ctx context.Context) (*Frame, error)
}

// Status is what a streaming source knows between captures.
type Status struct {
	// Up: the stream is playing and its newest picture is within maxFrameAge.
	Up bool
	// FrameTime is when the newest picture arrived; zero before the first.
	FrameTime time.Time
}

// StatusReporter is a source that knows its state between captures (rtsp).
type StatusReporter interface {
	Status() Status
}

// New validates the kind-specific keys of c and builds its source. Sources that hold resources
// (rtsp keeps a session open) are released with Close.
func New(c config.Camera) (Source, error) {
	if c.Timeout < 0 {
		return nil, fmt.Errorf("camera %s: timeout %v is negative", c.ID, c.Timeout)
	}
	if c.MaxBytes < 0 {
		return nil, fmt.Errorf("camera %s: maxBytes %d is negative", c.ID, c.MaxBytes)
	}
	if c.ONVIF != nil {
		s, err := newONVIF(c)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	switch c.Type {
	case config.TypeRPi:
		return newRPi(c)
	case config.TypeHTTP:
		return newHTTP(c)
	case config.TypeRTSP:
		return newRTSP(c)
	case config.TypeFile:
		return newFile(c)
	case "":
		return nil, fmt.Errorf("camera %s: type is missing: use %s", c.ID, config.KindList(""))
	default:
		return nil, fmt.Errorf("camera %s: unknown type %q: use %s", c.ID, c.Type, config.KindList(""))
	}
}

// Close releases s if it holds resources (it implements io.Closer); other sources need nothing.
func Close(s Source) error {
	if c, ok := s.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

func maxBytes(c config.Camera) int64 {
	if c.MaxBytes > 0 {
		return c.MaxBytes
	}
	return DefaultMaxBytes
}

// MaxPixels returns c's frame pixel limit (DefaultMaxPixels when unset).
func MaxPixels(c config.Camera) int64 {
	if c.MaxPixels > 0 {
		return c.MaxPixels
	}
	return DefaultMaxPixels
}

// CheckFrameSize refuses a w x h frame of camera cameraID over maxPixels (0: the default), with
// an error that says what to change. Sources call it with the size from the image header or the
// stream before anything is decoded.
func CheckFrameSize(cameraID, from string, w, h int, maxPixels int64) error {
	if err := imageinfo.CheckPixels(w, h, maxPixels); err != nil {
		return overLimit(cameraID, from, err)
	}
	return nil
}

// overLimit words err, a size over the pixel limit or a bad size, for camera cameraID.
func overLimit(cameraID, from string, err error) error {
	return fmt.Errorf("camera %s: %s: %w (raise maxPixels if this is expected)", cameraID, from, err)
}

func timeoutOr(c config.Camera, def time.Duration) time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return def
}

// snippet returns the start of data for an error message, printable characters only.
func snippet(data []byte) string {
	const n = 60
	if len(data) > n {
		data = data[:n]
	}
	b := []byte(string(data))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '.'
		}
	}
	return string(b)
}

// checkImage returns an error when data is empty, not an image, truncated or has more than
// maxPixels pixels in its header, naming where it came from.
func checkImage(cameraID, from string, data []byte, maxPixels int64) error {
	_, _, err := frameSize(cameraID, from, data, maxPixels)
	return err
}

// checkPrefix checks the first bytes of an image still arriving: an error when they cannot
// start an image, or announce more than maxPixels; nil when they look right or are too few to
// tell (the whole image is checked again with checkImage).
func checkPrefix(cameraID, from string, prefix []byte, maxPixels int64) error {
	_, _, err := frameSize(cameraID, from, prefix, maxPixels)
	if err == nil || errors.Is(err, imageinfo.ErrTruncated) || len(prefix) < 16 {
		return nil
	}
	return err
}

// frameSize reads data's size from its header and checks it against maxPixels.
func frameSize(cameraID, from string, data []byte, maxPixels int64) (w, h int, err error) {
	if len(data) == 0 {
		return 0, 0, fmt.Errorf("camera %s: %s: empty image (0 bytes)", cameraID, from)
	}
	if imageinfo.Sniff(data) == "" && !bytes.HasPrefix(data, []byte{0xFF, 0xD8}) {
		return 0, 0, fmt.Errorf("camera %s: %s: not a JPEG or PNG image (%d bytes starting %q)",
			cameraID, from, len(data), snippet(data))
	}
	_, w, h, err = readHeader(data)
	if w > 0 && h > 0 {
		// Over the limit is the news even when the data is also cut short.
		if err := CheckFrameSize(cameraID, from, w, h, maxPixels); err != nil {
			return 0, 0, err
		}
	}
	if err != nil {
		return 0, 0, fmt.Errorf("camera %s: %s: %w", cameraID, from, err)
	}
	if err := CheckFrameSize(cameraID, from, w, h, maxPixels); err != nil {
		return 0, 0, err
	}
	return w, h, nil
}

// readHeader is imageinfo.Header; the frame tests count its calls.
var readHeader = imageinfo.Header

// decodeImage decodes data (from where) with the pixel limit applied by the decoder itself.
func decodeImage(cameraID, from string, data []byte, maxPixels int64) (gocv.Mat, error) {
	m, err := imagecodec.DecodeMax(data, maxPixels)
	if errors.Is(err, imageinfo.ErrTooManyPixels) {
		return gocv.Mat{}, overLimit(cameraID, from, err)
	}
	if err != nil {
		return gocv.Mat{}, fmt.Errorf("camera %s: %s: decode %d-byte image: %w", cameraID, from, len(data), err)
	}
	return m, nil
}

// errTooLarge reports a frame over the size limit.
func errTooLarge(cameraID, from string, limit int64) error {
	return fmt.Errorf("camera %s: %s: image larger than %d bytes (raise maxBytes if this is expected)",
		cameraID, from, limit)
}

// readLimited reads r up to limit bytes; more than limit is an error (errOverLimit). sizeHint,
// when positive, is the expected size (Content-Length, file size): the buffer is allocated once.
// Without a hint the data is read in blocks and joined once at the end, so a body that never
// ends costs limit bytes, not the 2-4x a doubling buffer and its garbage would.
func readLimited(r io.Reader, limit, sizeHint int64) ([]byte, error) {
	r = io.LimitReader(r, limit+1)
	if sizeHint > 0 && sizeHint <= limit {
		var buf bytes.Buffer
		buf.Grow(int(sizeHint) + bytes.MinRead)
		if _, err := buf.ReadFrom(r); err != nil {
			return nil, err
		}
		if int64(buf.Len()) > limit {
			return nil, errOverLimit
		}
		return buf.Bytes(), nil
	}
	const block = 256 << 10
	var blocks [][]byte
	var total int64
	for {
		b := make([]byte, block)
		n, err := io.ReadFull(r, b)
		if n > 0 {
			blocks = append(blocks, b[:n])
			total += int64(n)
		}
		if total > limit {
			// A body over the limit is a broken or hostile camera, and it will send the
			// next one too: give the memory back now, or the garbage collector's goal,
			// set while it was live, lets the next one double the heap.
			clear(blocks)
			blocks = nil
			debug.FreeOSMemory()
			return nil, errOverLimit
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(blocks) == 1 {
		return blocks[0], nil
	}
	return bytes.Join(blocks, nil), nil
}

var errOverLimit = errors.New("over the size limit")
