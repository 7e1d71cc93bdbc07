package camera

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/edgecam/edgecam/internal/videodec"
)

// rpiVideoCommands are the Raspberry Pi camera video tools, newest first.
var rpiVideoCommands = []string{"rpicam-vid", "libcamera-vid"}

// rpiStreamer runs rpicam-vid for continuous analysis: an H.264 stream on its stdout (parameter
// sets before every key frame), split into access units as they arrive and decoded once each.
type rpiStreamer struct {
	s   *rpiSource
	fps float64
	dec *videodec.Decoder

	mu      sync.Mutex
	cmd     *exec.Cmd
	running bool
	err     error     // why the last run ended
	retryAt time.Time // no new run before
	buf     []byte    // access units received since the last Next
	units   []int
	at      time.Time // arrival of the newest access unit
	stderr  *tailBuffer
	stopped bool
	needKey bool // access units are dropped until the next key frame
	reset   bool // the decoder starts over at the next Next
}

func newRPiStreamer(s *rpiSource, fps float64, dec *videodec.Decoder) *rpiStreamer {
	return &rpiStreamer{s: s, fps: fps, dec: dec}
}

func (st *rpiStreamer) lookCommand() (string, error) {
	for _, name := range rpiVideoCommands {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("camera %s: continuous analysis needs %s on PATH (Raspberry Pi OS: apt install rpicam-apps)", st.s.id, rpiVideoCommands[0])
}

// start runs the video tool; st.mu is held.
func (st *rpiStreamer) start() error {
	path, err := st.lookCommand()
	if err != nil {
		return err
	}
	// The tool's own frame rate: the analysed rate, so it encodes no picture for nothing (at
	// least 5, so motion between two analysed frames stays small for the encoder too).
	rate := max(st.fps, 5)
	args := []string{"-t", "0", "--nopreview", "--codec", "h264", "--inline", "--intra", strconv.Itoa(int(2 * rate)),
		"--framerate", strconv.FormatFloat(rate, 'f', -1, 64), "-o", "-"}
	args = append(args, st.s.args...)
	cmd := exec.Command(path, args...)
	cmd.Env = minimalEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	st.stderr = &tailBuffer{max: rpiStderrMax}
	cmd.Stderr = st.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("camera %s: %s: %w", st.s.id, filepath.Base(path), err)
	}
	st.cmd, st.running, st.err = cmd, true, nil
	st.buf, st.units, st.needKey = st.buf[:0], st.units[:0], true
	go st.read(cmd, out, filepath.Base(path))
	return nil
}

// read splits the tool's output into access units until it ends.
func (st *rpiStreamer) read(cmd *exec.Cmd, out io.Reader, name string) {
	var sp auSplitter
	chunk := make([]byte, 64<<10)
	var rerr error
	for {
		n, err := out.Read(chunk)
		if n > 0 {
			now := time.Now()
			sp.write(chunk[:n], func(au []byte, key bool) {
				st.mu.Lock()
				defer st.mu.Unlock()
				if int64(len(st.buf)+len(au)) > st.s.maxBytes {
					// Next is not keeping up: drop what waits and start again at a key frame.
					st.buf, st.units, st.needKey = st.buf[:0], st.units[:0], true
				}
				if st.needKey {
					if !key {
						return
					}
					st.needKey, st.reset = false, true
				}
				st.units = append(st.units, len(st.buf))
				st.buf = append(st.buf, au...)
				st.at = now
			})
		}
		if err != nil {
			rerr = err
			break
		}
	}
	werr := cmd.Wait()
	st.mu.Lock()
	defer st.mu.Unlock()
	st.running = false
	if !st.stopped {
		if werr == nil && !errors.Is(rerr, io.EOF) {
			werr = rerr
		}
		st.err = fmt.Errorf("camera %s: %s ended (%v)%s", st.s.id, name, werr, stderrSuffix(st.stderr))
		st.retryAt = time.Now().Add(5 * time.Second)
	}
}

// Next returns the newest picture the tool sent since the previous call, starting the tool when
// it is not running (again 5 s after it ended).
func (st *rpiStreamer) Next(ctx context.Context) (*Frame, error) {
	st.mu.Lock()
	if !st.running {
		if st.stopped {
			st.mu.Unlock()
			return nil, fmt.Errorf("camera %s: closed", st.s.id)
		}
		if err := st.err; err != nil && time.Now().Before(st.retryAt) {
			st.mu.Unlock()
			return nil, err
		}
		if err := st.start(); err != nil {
			st.err, st.retryAt = err, time.Now().Add(5*time.Second)
			st.mu.Unlock()
			return nil, err
		}
	}
	if len(st.units) == 0 {
		st.mu.Unlock()
		return nil, ErrNoNewFrame
	}
	buf, units, at, reset := st.buf, st.units, st.at, st.reset
	st.buf, st.units, st.reset = nil, nil, false // the reader starts new arrays; these are ours to decode
	st.mu.Unlock()
	if reset {
		st.dec.Reset()
	}
	m, _, err := st.dec.Feed(videodec.H264, buf, units, st.s.maxPixels)
	if err != nil {
		if errors.Is(err, videodec.ErrNoPicture) {
			return nil, ErrNoNewFrame
		}
		return nil, fmt.Errorf("camera %s: %w", st.s.id, err)
	}
	return &Frame{Camera: st.s.id, Time: at, Mat: m}, nil
}

// Close stops the tool and releases the decoder.
func (st *rpiStreamer) Close() {
	st.mu.Lock()
	st.stopped = true
	if st.running && st.cmd != nil {
		syscall.Kill(-st.cmd.Process.Pid, syscall.SIGKILL)
	}
	st.mu.Unlock()
	st.dec.Close()
}

// auSplitter splits an H.264 Annex-B byte stream into access units as it arrives: an access
// unit ends where the next begins (an access unit delimiter, parameter sets or SEI after a
// picture's slices, or the first slice of the next picture).
type auSplitter struct {
	pending []byte // bytes not yet split into NAL units (from the last start code)
	au      []byte // the access unit being collected
	hasVCL  bool
	key     bool // it holds an IDR slice
}

var startCode3 = []byte{0, 0, 1}

func (sp *auSplitter) write(p []byte, emit func(au []byte, key bool)) {
	sp.pending = append(sp.pending, p...)
	for {
		i := bytes.Index(sp.pending, startCode3)
		if i < 0 {
			return
		}
		j := bytes.Index(sp.pending[i+3:], startCode3)
		if j < 0 {
			if i > 0 {
				sp.pending = append(sp.pending[:0], sp.pending[i:]...)
			}
			return
		}
		end := i + 3 + j
		for end > i+3 && sp.pending[end-1] == 0 { // a 4-byte start code's leading zero
			end--
		}
		sp.nal(sp.pending[i+3:end], emit)
		sp.pending = append(sp.pending[:0], sp.pending[end:]...)
	}
}

func (sp *auSplitter) nal(n []byte, emit func(au []byte, key bool)) {
	if len(n) == 0 {
		return
	}
	t := n[0] & 0x1F
	vcl := t >= 1 && t <= 5
	first := vcl && len(n) > 1 && n[1]&0x80 != 0
	starts := t == 9 || sp.hasVCL && (!vcl || first)
	if starts && len(sp.au) > 0 {
		emit(sp.au, sp.key)
		sp.au, sp.hasVCL, sp.key = sp.au[:0], false, false
	}
	sp.au = append(sp.au, 0, 0, 0, 1)
	sp.au = append(sp.au, n...)
	sp.hasVCL = sp.hasVCL || vcl
	sp.key = sp.key || t == 5
}
