package testfixture

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"
)

// relay is an in-process RTSP server (gortsplib) that lets one client publish a stream
// and others play it, like a camera (or mediamtx) would serve it.
type relay struct {
	server *gortsplib.Server

	mu        sync.Mutex
	stream    *gortsplib.ServerStream
	publisher *gortsplib.ServerSession
	published chan struct{} // closed when a publisher is recording
}

func (r *relay) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stream != nil && ctx.Session == r.publisher {
		r.stream.Close()
		r.stream = nil
	}
}

func (r *relay) OnDescribe(*gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stream == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, r.stream, nil
}

func (r *relay) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stream != nil {
		r.stream.Close()
		r.publisher.Close()
	}
	r.stream = &gortsplib.ServerStream{Server: r.server, Desc: ctx.Description}
	if err := r.stream.Initialize(); err != nil {
		r.stream = nil
		return &base.Response{StatusCode: base.StatusBadRequest}, err
	}
	r.publisher = ctx.Session
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (r *relay) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if ctx.Session.State() == gortsplib.ServerSessionStatePreRecord {
		return &base.Response{StatusCode: base.StatusOK}, nil, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stream == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, r.stream, nil
}

func (r *relay) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (r *relay) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	r.mu.Lock()
	stream := r.stream
	select {
	case <-r.published:
	default:
		close(r.published)
	}
	r.mu.Unlock()
	ctx.Session.OnPacketRTPAny(func(medi *description.Media, _ format.Format, pkt *rtp.Packet) {
		stream.WritePacketRTP(medi, pkt)
	})
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// RTSPFeed is a running RTSP server on 127.0.0.1 with ffmpeg publishing a looped clip to it.
type RTSPFeed struct {
	relay  *relay
	ffmpeg *exec.Cmd
	exited chan struct{}
}

// StartRTSPFeed starts an RTSP server on addr and ffmpeg publishing clip to rtsp://addr/cam, and
// waits until the stream is being published.
func StartRTSPFeed(t testing.TB, addr, clip string) *RTSPFeed {
	t.Helper()
	r := &relay{published: make(chan struct{})}
	r.server = &gortsplib.Server{Handler: r, RTSPAddress: addr, WriteQueueSize: 8192}
	var err error
	for try := 0; ; try++ { // the port of a just-stopped server may linger briefly
		if err = r.server.Start(); err == nil || try == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
		r.server = &gortsplib.Server{Handler: r, RTSPAddress: addr, WriteQueueSize: 8192}
	}
	if err != nil {
		t.Fatalf("start RTSP server on %s: %v", addr, err)
	}
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-stream_loop", "-1",
		"-i", clip, "-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp", "rtsp://"+addr+"/cam")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.server.Close()
		t.Fatalf("start ffmpeg publisher: %v", err)
	}
	f := &RTSPFeed{relay: r, ffmpeg: cmd, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(f.exited) }()
	select {
	case <-r.published:
	case <-f.exited:
		r.server.Close()
		t.Fatal("ffmpeg publisher exited before publishing")
	case <-time.After(60 * time.Second):
		f.Stop()
		t.Fatal("ffmpeg did not publish within 60s")
	}
	return f
}

// Stop kills the publisher and closes the server (and with it every client connection).
func (f *RTSPFeed) Stop() {
	syscall.Kill(-f.ffmpeg.Process.Pid, syscall.SIGKILL)
	<-f.exited
	f.relay.server.Close()
}

// RequireFFmpeg skips the test loudly when ffmpeg is missing (make deps installs it).
func RequireFFmpeg(t testing.TB) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("\n" + strings.Repeat("!", 70) + "\nSKIPPING RTSP TEST: ffmpeg is not installed (run `make deps` or apt-get install ffmpeg)\n" +
			strings.Repeat("!", 70))
	}
}

// MakeClip encodes a short H.264 clip (MPEG-4 part 2 if libx264 is missing) of a still photo,
// with a key frame every second, for the publisher to loop.
func MakeClip(t testing.TB, photoPath string) string {
	t.Helper()
	clip := filepath.Join(t.TempDir(), "clip.mp4")
	codec := []string{"-c:v", "libx264", "-preset", "ultrafast", "-tune", "stillimage", "-crf", "18"}
	if out, _ := exec.Command("ffmpeg", "-hide_banner", "-encoders").Output(); !strings.Contains(string(out), "libx264") {
		codec = []string{"-c:v", "mpeg4", "-q:v", "2"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-loop", "1", "-framerate", "10",
		"-i", photoPath, "-t", "2", "-pix_fmt", "yuv420p", "-g", "10"}, codec...)
	out, err := exec.CommandContext(ctx, "ffmpeg", append(args, clip)...).CombinedOutput()
	if err != nil {
		t.Fatalf("make test clip: %v\n%s", err, out)
	}
	return clip
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Freeze stops the publisher (SIGSTOP) without closing anything: the stream stalls, as a
// camera that hangs; Thaw resumes it.
func (f *RTSPFeed) Freeze() { syscall.Kill(-f.ffmpeg.Process.Pid, syscall.SIGSTOP) }

// Thaw resumes a frozen publisher.
func (f *RTSPFeed) Thaw() { syscall.Kill(-f.ffmpeg.Process.Pid, syscall.SIGCONT) }
