package camera

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/edgecam/edgecam/internal/config"
)

// rpiCommands are the Raspberry Pi camera stills tools, newest first: rpicam-still on Raspberry
// Pi OS bookworm, libcamera-still and libcamera-jpeg on older images.
var rpiCommands = []string{"rpicam-still", "libcamera-still", "libcamera-jpeg"}

const (
	// rpiDefaultTimeout bounds one rpicam-still run: camera start-up, exposure and JPEG encoding.
	rpiDefaultTimeout = 20 * time.Second
	// rpiPreviewMillis is the -t value: how long the camera runs (auto exposure and white
	// balance settle) before the still is taken. rpicam-still's default is 5 s.
	rpiPreviewMillis = 1000
	// rpiStderrMax caps the stderr kept for an error message.
	rpiStderrMax = 16 << 10
	// rpiWaitDelay is how long the output pipes may stay open after the process was killed.
	rpiWaitDelay = 2 * time.Second
)

// rpiSource runs rpicam-still (or an older equivalent) for every capture, with the JPEG on stdout.
type rpiSource struct {
	id        string
	command   string   // empty: look rpiCommands up on PATH at each capture
	args      []string // after the output, preview and -t arguments: size, rotation, extra
	timeout   time.Duration
	maxBytes  int64
	maxPixels int64
}

func newRPi(c config.Camera) (*rpiSource, error) {
	if c.Rotation != 0 && c.Rotation != 180 {
		return nil, fmt.Errorf("camera %s: rotation %d is not supported: use 0 or 180", c.ID, c.Rotation)
	}
	if c.Width < 0 || c.Height < 0 {
		return nil, fmt.Errorf("camera %s: width/height %dx%d must not be negative (0 = camera default)",
			c.ID, c.Width, c.Height)
	}
	s := &rpiSource{id: c.ID, command: c.Command, timeout: timeoutOr(c, rpiDefaultTimeout), maxBytes: maxBytes(c), maxPixels: MaxPixels(c)}
	if c.Rotation == 180 {
		s.args = append(s.args, "--rotation", "180")
	}
	if c.Width > 0 {
		s.args = append(s.args, "--width", strconv.Itoa(c.Width))
	}
	if c.Height > 0 {
		s.args = append(s.args, "--height", strconv.Itoa(c.Height))
	}
	s.args = append(s.args, c.Args...)
	return s, nil
}

// lookCommand returns the path of the stills tool to run.
func (s *rpiSource) lookCommand() (string, error) {
	if s.command != "" {
		p, err := exec.LookPath(s.command)
		if err != nil {
			return "", fmt.Errorf("camera %s: command %q: %w", s.id, s.command, err)
		}
		return p, nil
	}
	for _, name := range rpiCommands {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("camera %s: none of %s found on PATH: install rpicam-apps (sudo apt install rpicam-apps) or set the camera's command",
		s.id, strings.Join(rpiCommands, ", "))
}

// argsFor returns the arguments for the tool at path. libcamera-jpeg only writes JPEG and has
// no --encoding option.
func (s *rpiSource) argsFor(path string) []string {
	args := make([]string, 0, len(s.args)+7)
	args = append(args, "-o", "-", "--nopreview", "-t", strconv.Itoa(rpiPreviewMillis))
	if filepath.Base(path) != "libcamera-jpeg" {
		args = append(args, "--encoding", "jpg")
	}
	return append(args, s.args...)
}

// Capture runs the stills tool once and returns its JPEG. A run that outlives the timeout is
// killed with its whole process group.
func (s *rpiSource) Capture(ctx context.Context) (*Frame, error) {
	path, err := s.lookCommand()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	name := filepath.Base(path)
	cmd := exec.CommandContext(ctx, path, s.argsFor(path)...)
	stdout := &cappedBuffer{max: s.maxBytes}
	stderr := &tailBuffer{max: rpiStderrMax}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = minimalEnv() // never the configuration's secrets
	// Own process group, so a timeout kills the tool and anything it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = rpiWaitDelay

	start := time.Now()
	err = cmd.Run()
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("camera %s: %s did not finish within %v: killed (is the camera connected and not used by another program?)%s",
				s.id, name, s.timeout, stderrSuffix(stderr))
		}
		return nil, fmt.Errorf("camera %s: %s: %w", s.id, name, ctx.Err())
	}
	if err != nil {
		return nil, fmt.Errorf("camera %s: %s failed (%v)%s", s.id, name, err, stderrSuffix(stderr))
	}
	if stdout.over {
		return nil, errTooLarge(s.id, name+" output", s.maxBytes)
	}
	if err := checkImage(s.id, name+" output", stdout.buf.Bytes(), s.maxPixels); err != nil {
		return nil, fmt.Errorf("%w%s", err, stderrSuffix(stderr))
	}
	return &Frame{Camera: s.id, Time: start, Data: stdout.buf.Bytes(), MaxPixels: s.maxPixels}, nil
}

// stderrSuffix returns the tool's last stderr lines for an error message (rpicam-still logs
// many INFO lines before the one that explains a failure), or "".
func stderrSuffix(b *tailBuffer) string {
	const keep = 4
	var lines []string
	for _, l := range strings.Split(string(b.Bytes()), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return ""
	}
	prefix := ""
	if len(lines) > keep || b.cut {
		lines = lines[max(0, len(lines)-keep):]
		prefix = "... "
	}
	return ": " + prefix + strings.Join(lines, " | ")
}

// cappedBuffer keeps the first max bytes written to it and drops the rest, remembering that it
// did. It never fails a write, so the writing process is never blocked on a full pipe.
type cappedBuffer struct {
	buf  bytes.Buffer
	max  int64
	over bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - int64(b.buf.Len()); int64(len(p)) > room {
		b.over = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return b.buf.Write(p)
}

// tailBuffer keeps the last max bytes written to it (the end of a log explains a failure).
type tailBuffer struct {
	buf []byte
	max int
	cut bool
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if len(b.buf) > 2*b.max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max:]...)
		b.cut = true
	}
	return len(p), nil
}

// Bytes returns at most the last max bytes written.
func (b *tailBuffer) Bytes() []byte {
	if len(b.buf) > b.max {
		b.cut = true
		return b.buf[len(b.buf)-b.max:]
	}
	return b.buf
}
