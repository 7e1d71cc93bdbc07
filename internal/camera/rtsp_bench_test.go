package camera

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/testfixture"
)

// The RTSP benchmarks run against a camera-like stream: 1920x1080 H.264 at 25 fps, 4 Mbit/s
// constant bit rate, a key frame every 2 s (50 frames), served by the test RTSP server process
// (its CPU is not counted: only this process's).
//
//	go test -run '^$' -bench RTSP -benchtime 10x ./internal/camera/
//
// BenchmarkRTSPIdle measures the CPU this process uses between ticks (EDGECAM_IDLE_SECONDS,
// default 60) from /proc/self/stat; BenchmarkRTSPCapture the latency from the tick to the
// decoded frame and the frame's age.

func benchFeed(b *testing.B) *testfixture.RTSPFeed {
	testfixture.RequireFFmpeg(b)
	clip := testfixture.MakeClipWith(b, testfixture.ClipOptions{Width: 1920, Height: 1080, FPS: 25, GOP: 50, Seconds: 10, Bitrate: "4M"})
	return testfixture.StartRTSPFeed(b, testfixture.FreeAddr(b), clip)
}

func benchSource(b *testing.B, feed *testfixture.RTSPFeed) Source {
	src, err := New(config.Camera{ID: "bench", Type: config.TypeRTSP, URL: feed.URL("", ""), Timeout: 30 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	f, err := src.Capture(testCtx(b))
	if err != nil {
		b.Fatal(err)
	}
	if f.Mat.Cols() != 1920 || f.Mat.Rows() != 1080 {
		b.Fatalf("frame %dx%d, want 1920x1080", f.Mat.Cols(), f.Mat.Rows())
	}
	f.Close()
	return src
}

// cpuTime is this process's user + system CPU time so far (/proc/self/stat utime + stime).
func cpuTime(b *testing.B) time.Duration {
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which may hold spaces) start after the last ')'.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const clkTck = 100 // sysconf(_SC_CLK_TCK) on Linux
	return time.Duration(utime+stime) * time.Second / clkTck
}

// BenchmarkRTSPIdle: one tick, then the CPU used until the next one (a 60 s period by default),
// in % of one core. Run it with -benchtime 1x.
func BenchmarkRTSPIdle(b *testing.B) {
	feed := benchFeed(b)
	defer feed.Stop()
	src := benchSource(b, feed)
	defer Close(src)
	idle := 60 * time.Second
	if v := os.Getenv("EDGECAM_IDLE_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("EDGECAM_IDLE_SECONDS=%q", v)
		}
		idle = time.Duration(n) * time.Second
	}
	b.ResetTimer()
	var idleCPU, tickCPU time.Duration
	for i := 0; i < b.N; i++ {
		c0 := cpuTime(b)
		f, err := src.Capture(testCtx(b))
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
		c1 := cpuTime(b)
		time.Sleep(idle)
		idleCPU += cpuTime(b) - c1
		tickCPU += c1 - c0
	}
	b.ReportMetric(100*idleCPU.Seconds()/(idle.Seconds()*float64(b.N)), "idle-%core")
	b.ReportMetric(float64(tickCPU.Milliseconds())/float64(b.N), "capture-cpu-ms")
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	b.ReportMetric(float64(ru.Maxrss)/1024, "maxrss-MB")
}

// BenchmarkRTSPCapture: the time from the tick (Capture called) to the decoded frame, and the
// frame's age at the tick (when it was asked for) and when it is returned. Captures are spread
// over the stream's group of pictures (one every 0.7 s), so the decoded group has on average
// half of the 50 frames.
func BenchmarkRTSPCapture(b *testing.B) {
	feed := benchFeed(b)
	defer feed.Stop()
	src := benchSource(b, feed)
	defer Close(src)
	var ageAsked, ageReturned, latency, cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		time.Sleep(700 * time.Millisecond)
		b.StartTimer()
		c0 := cpuTime(b)
		asked := time.Now()
		f, err := src.Capture(testCtx(b))
		if err != nil {
			b.Fatal(err)
		}
		done := time.Now()
		cpu += cpuTime(b) - c0
		latency += done.Sub(asked)
		ageAsked += asked.Sub(f.Time)
		ageReturned += done.Sub(f.Time)
		f.Close()
	}
	n := float64(b.N)
	b.ReportMetric(float64(latency.Milliseconds())/n, "tick-to-frame-ms")
	b.ReportMetric(float64(ageAsked.Milliseconds())/n, "age-at-tick-ms")
	b.ReportMetric(float64(ageReturned.Milliseconds())/n, "age-returned-ms")
	b.ReportMetric(float64(cpu.Milliseconds())/n, "capture-cpu-ms")
}
