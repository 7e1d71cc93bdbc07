package testfixture

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/auth"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/rtp"
)

// The RTSP test server runs in a process of its own, so a test can freeze it (SIGSTOP: its
// connections stay open and no packet flows, as with a hung IP camera), thaw it, or kill it.
// It is the test binary itself, re-executed with serverEnv set: init below turns such a process
// into the server (gortsplib) and starts ffmpeg publishing the clip to it, in one process group.
const serverEnv = "EDGECAM_TESTFIXTURE_RTSP_SERVER"

func init() {
	if spec := os.Getenv(serverEnv); spec != "" {
		os.Exit(serveRTSP(spec))
	}
}

// RTSPOptions configures a test RTSP server.
type RTSPOptions struct {
	// User and Pass, when set, are required from players (Digest only, or Basic too).
	User, Pass string
	Basic      bool
	// UDP lets players use the UDP transport (a free RTP/RTCP port pair is picked).
	UDP bool
}

type serverSpec struct {
	Addr, Clip string
	RTSPOptions
	UDPPort int
}

// RTSPFeed is a running RTSP server process on 127.0.0.1 with ffmpeg publishing a looped clip to
// rtsp://addr/cam.
type RTSPFeed struct {
	Addr  string
	cmd   *exec.Cmd
	stdin io.WriteCloser // held open: the server exits when it closes
	stop  func()         // in-process server (under emulation) instead of cmd

	exited chan struct{}
}

// StartRTSPFeed starts an RTSP server process on addr with ffmpeg publishing clip to
// rtsp://addr/cam, and waits until the stream is being published.
func StartRTSPFeed(t testing.TB, addr, clip string) *RTSPFeed {
	t.Helper()
	return StartRTSPFeedWith(t, addr, clip, RTSPOptions{})
}

// StartRTSPFeedWith is StartRTSPFeed with authentication or UDP.
func StartRTSPFeedWith(t testing.TB, addr, clip string, o RTSPOptions) *RTSPFeed {
	t.Helper()
	spec := serverSpec{Addr: addr, Clip: clip, RTSPOptions: o}
	if o.UDP {
		spec.UDPPort = freeUDPPair(t)
	}
	if os.Getenv(EnvEmulated) == "1" {
		// Under qemu-user the test binary cannot run itself (no binfmt_misc): the server runs
		// in this process, and Freeze stops only the publisher (see RequireFreezable).
		var err error
		for try := 0; try < 20; try++ {
			var stop func()
			if _, stop, err = startServer(spec, true); err == nil {
				return &RTSPFeed{Addr: addr, stop: stop}
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("RTSP server on %s: %v", addr, err)
	}
	js, _ := json.Marshal(spec)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var lastErr string
	for try := 0; try < 20; try++ { // the port of a just-stopped server may linger briefly
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), serverEnv+"="+string(js))
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		stdin, _ := cmd.StdinPipe() // the server exits when the test binary goes away
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatalf("start RTSP server process: %v", err)
		}
		f := &RTSPFeed{Addr: addr, cmd: cmd, stdin: stdin, exited: make(chan struct{})}
		line := make(chan string, 1)
		go func() {
			s, _ := bufio.NewReader(stdout).ReadString('\n')
			line <- strings.TrimSpace(s)
		}()
		go func() { cmd.Wait(); close(f.exited) }()
		select {
		case l := <-line:
			if l == "ready" {
				return f
			}
			lastErr = l
		case <-time.After(60 * time.Second):
			lastErr = "not publishing within 60s"
		}
		f.Stop()
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("RTSP server on %s: %s", addr, lastErr)
	return nil
}

// URL is the stream's URL, with user and password when given.
func (f *RTSPFeed) URL(user, pass string) string {
	if user == "" {
		return "rtsp://" + f.Addr + "/cam"
	}
	return "rtsp://" + user + ":" + pass + "@" + f.Addr + "/cam"
}

// Stop kills the server and its publisher (SIGKILL to the process group): every connection is
// reset.
func (f *RTSPFeed) Stop() {
	if f.stop != nil {
		f.stop()
		return
	}
	syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
	<-f.exited
	f.stdin.Close()
}

// Freeze stops the server and its publisher (SIGSTOP) without closing anything: the stream
// stalls with its connections open, as a hung camera's; Thaw resumes them.
func (f *RTSPFeed) Freeze() {
	if f.cmd != nil {
		syscall.Kill(-f.cmd.Process.Pid, syscall.SIGSTOP)
	}
}

// Thaw resumes a frozen server.
func (f *RTSPFeed) Thaw() {
	if f.cmd != nil {
		syscall.Kill(-f.cmd.Process.Pid, syscall.SIGCONT)
	}
}

// RequireFreezable skips a test that freezes the server when the server cannot run in a process
// of its own (under CPU emulation, see EnvEmulated).
func RequireFreezable(t testing.TB) {
	t.Helper()
	SkipIfEmulated(t, "the RTSP test server runs in the test process, so it cannot be frozen")
}

// serveRTSP is the server process: it returns the exit code.
func serveRTSP(js string) int {
	var spec serverSpec
	if err := json.Unmarshal([]byte(js), &spec); err != nil {
		fmt.Println("bad spec:", err)
		return 2
	}
	exited, stop, err := startServer(spec, false)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer stop()
	fmt.Println("ready")
	stdinEOF := make(chan struct{})
	go func() {
		var b [1]byte
		for {
			if _, err := os.Stdin.Read(b[:]); err != nil {
				close(stdinEOF)
				return
			}
		}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-exited:
		fmt.Fprintln(os.Stderr, "test RTSP server: ffmpeg publisher exited")
		return 1
	case <-stdinEOF:
	case <-sig:
	}
	return 0
}

// startServer starts the RTSP server and ffmpeg publishing to it, and waits until the stream is
// published. exited is closed when ffmpeg exits; stop ends both. ffmpeg gets a process group of
// its own when ownGroup is set (in-process servers), else it shares the server process's.
func startServer(spec serverSpec, ownGroup bool) (exited <-chan struct{}, stop func(), err error) {
	r := &relay{published: make(chan struct{}), opts: spec.RTSPOptions}
	// Long timeouts: a frozen and thawed server must not drop its publisher or players because
	// the clock ran on while it was stopped.
	r.server = &gortsplib.Server{Handler: r, RTSPAddress: spec.Addr, WriteQueueSize: 8192,
		ReadTimeout: 10 * time.Minute, WriteTimeout: 10 * time.Minute}
	if spec.UDPPort != 0 {
		r.server.UDPRTPAddress = "127.0.0.1:" + strconv.Itoa(spec.UDPPort)
		r.server.UDPRTCPAddress = "127.0.0.1:" + strconv.Itoa(spec.UDPPort+1)
	}
	if spec.User != "" && !spec.Basic {
		r.server.AuthMethods = []auth.VerifyMethod{auth.VerifyMethodDigestMD5}
	}
	if err := r.server.Start(); err != nil {
		return nil, nil, fmt.Errorf("start server: %w", err)
	}
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-stream_loop", "-1",
		"-i", spec.Clip, "-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp", "rtsp://"+spec.Addr+"/cam")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: ownGroup}
	if err := cmd.Start(); err != nil {
		r.server.Close()
		return nil, nil, fmt.Errorf("start ffmpeg publisher: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	stop = func() {
		cmd.Process.Kill()
		<-done
		r.server.Close()
	}
	select {
	case <-r.published:
		return done, stop, nil
	case <-done:
		err = errors.New("ffmpeg publisher exited before publishing")
	case <-time.After(60 * time.Second):
		err = errors.New("ffmpeg did not publish within 60s")
	}
	stop()
	return nil, nil, err
}

// relay is an RTSP server (gortsplib) that lets one client publish a stream and others play it,
// like a camera (or mediamtx) would serve it.
type relay struct {
	server *gortsplib.Server
	opts   RTSPOptions

	mu        sync.Mutex
	stream    *gortsplib.ServerStream
	publisher *gortsplib.ServerSession
	published chan struct{} // closed when a publisher is recording
}

// authorized checks a player's credentials; the publisher (ffmpeg, on loopback) needs none.
func (r *relay) authorized(conn *gortsplib.ServerConn, req *base.Request) bool {
	return r.opts.User == "" || conn.VerifyCredentials(req, r.opts.User, r.opts.Pass)
}

func (r *relay) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stream != nil && ctx.Session == r.publisher {
		r.stream.Close()
		r.stream = nil
	}
}

func (r *relay) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return r.play(ctx.Conn, ctx.Request)
}

// play answers a reader's DESCRIBE or SETUP: the published stream to an authorised reader.
func (r *relay) play(conn *gortsplib.ServerConn, req *base.Request) (*base.Response, *gortsplib.ServerStream, error) {
	if !r.authorized(conn, req) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
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
	return r.play(ctx.Conn, ctx.Request)
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

// RequireFFmpeg skips the test loudly when ffmpeg is missing (make deps installs it).
func RequireFFmpeg(t testing.TB) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("\n" + strings.Repeat("!", 70) + "\nSKIPPING RTSP TEST: ffmpeg is not installed (run `make deps` or apt-get install ffmpeg)\n" +
			strings.Repeat("!", 70))
	}
}

// ClipOptions describes a test clip. Zero values: H.264, 10 fps, a key frame every second, 2 s.
type ClipOptions struct {
	// Photo is the still image the clip shows; empty: FFmpeg's moving test pattern (testsrc2)
	// at Width x Height, or the lavfi source Lavfi (e.g. "color=c=red") at that size.
	Photo         string
	Lavfi         string
	Width, Height int
	// Codec is "h264" or "h265".
	Codec   string
	FPS     int
	GOP     int // frames from one key frame to the next
	Seconds int
	// Bitrate, e.g. "4M", encodes at a constant bit rate like a camera instead of constant quality.
	Bitrate string
}

// MakeClip encodes a short H.264 clip (MPEG-4 part 2 if libx264 is missing) of a still photo,
// with a key frame every second, for the publisher to loop.
func MakeClip(t testing.TB, photoPath string) string {
	t.Helper()
	return MakeClipWith(t, ClipOptions{Photo: photoPath})
}

// MakeClipWith encodes a clip as o says, for the publisher to loop.
func MakeClipWith(t testing.TB, o ClipOptions) string {
	t.Helper()
	if o.FPS == 0 {
		o.FPS = 10
	}
	if o.GOP == 0 {
		o.GOP = o.FPS
	}
	if o.Seconds == 0 {
		o.Seconds = 2
	}
	clip := filepath.Join(t.TempDir(), "clip.mp4")
	encoders, _ := exec.Command("ffmpeg", "-hide_banner", "-encoders").Output()
	var codec []string
	switch o.Codec {
	case "", "h264":
		codec = []string{"-c:v", "libx264", "-preset", "ultrafast", "-bf", "0"}
		if o.Bitrate == "" {
			codec = append(codec, "-crf", "18")
		}
		if o.Photo != "" {
			codec = append(codec, "-tune", "stillimage")
		}
		if !strings.Contains(string(encoders), "libx264") {
			codec = []string{"-c:v", "mpeg4", "-q:v", "2"}
		}
	case "h265":
		if !strings.Contains(string(encoders), "libx265") {
			t.Skip("ffmpeg has no libx265 encoder: H.265 test skipped")
		}
		codec = []string{"-c:v", "libx265", "-preset", "ultrafast", "-crf", "18", "-tag:v", "hvc1",
			"-x265-params", fmt.Sprintf("log-level=error:keyint=%d:min-keyint=%d:bframes=0", o.GOP, o.GOP)}
	default:
		t.Fatalf("MakeClipWith: unknown codec %q", o.Codec)
	}
	var input []string
	if o.Photo != "" {
		input = []string{"-loop", "1", "-framerate", strconv.Itoa(o.FPS), "-i", o.Photo}
	} else {
		src := "testsrc2"
		if o.Lavfi != "" {
			src = o.Lavfi + ":"
		} else {
			src += "="
		}
		input = []string{"-f", "lavfi", "-i", fmt.Sprintf("%ssize=%dx%d:rate=%d", src, o.Width, o.Height, o.FPS)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin"}, input...)
	args = append(args, "-t", strconv.Itoa(o.Seconds), "-pix_fmt", "yuv420p", "-g", strconv.Itoa(o.GOP))
	args = append(args, codec...)
	if o.Bitrate != "" {
		args = append(args, "-b:v", o.Bitrate, "-maxrate", o.Bitrate, "-bufsize", o.Bitrate)
	}
	args = append(args, clip)
	out, err := exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput()
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

// freeUDPPair returns an even UDP port p on 127.0.0.1 such that p and p+1 were free a moment ago
// (RTP and RTCP).
func freeUDPPair(t testing.TB) int {
	for try := 0; try < 100; try++ {
		a, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := a.LocalAddr().(*net.UDPAddr).Port
		a.Close()
		if p%2 == 1 {
			p--
		}
		a, err1 := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p))
		b, err2 := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p+1))
		if a != nil {
			a.Close()
		}
		if b != nil {
			b.Close()
		}
		if err1 == nil && err2 == nil {
			return p
		}
	}
	t.Fatal("no free UDP port pair")
	return 0
}
