package analysis_test

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/analysis"
	"github.com/edgecam/edgecam/internal/camera"
	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/tally"
	"github.com/edgecam/edgecam/internal/testfixture"
	"github.com/edgecam/edgecam/internal/testfixture/dettest"
	"github.com/edgecam/edgecam/internal/yolo"
)

// BenchmarkContinuous1080p25 is one camera's continuous analysis at 5 frames a second: a
// 1920x1080 25 fps H.264 stream (4 Mbit/s, a key frame every 2 s, like an IP camera's main
// stream) served by an RTSP server process, read, decoded and analysed by this process (motion,
// model when something moves, tracker, a line). One op is one second; %core is the CPU time of
// the whole process (RTSP client, decoder, motion, model) per second of wall time. static: a
// still scene with sensor noise; moving: FFmpeg's moving test pattern (the model every frame).
func BenchmarkContinuous1080p25(b *testing.B) {
	testfixture.RequireFFmpeg(b)
	det := benchDetector(b)
	for _, scene := range []struct {
		name  string
		input []string
	}{
		{"static", []string{"-loop", "1", "-i", testfixture.Photo(b, "bus.jpg"), "-vf", "scale=1920:1080,noise=alls=4:allf=t,format=yuv420p"}},
		{"moving", []string{"-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25", "-vf", "format=yuv420p"}},
	} {
		b.Run(scene.name, func(b *testing.B) {
			clip := filepath.Join(b.TempDir(), "clip.mp4")
			args := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin"}, scene.input...)
			args = append(args, "-r", "25", "-t", "20", "-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", "50",
				"-b:v", "4M", "-maxrate", "4M", "-bufsize", "4M", clip)
			if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
				b.Fatalf("ffmpeg: %v\n%s", err, out)
			}
			feed := testfixture.StartRTSPFeed(b, testfixture.FreeAddr(b), clip)
			defer feed.Stop()
			src, err := camera.New(config.Camera{ID: "bench", Type: config.TypeRTSP, URL: feed.URL("", "")})
			if err != nil {
				b.Fatal(err)
			}
			defer camera.Close(src)
			f, err := src.Capture(context.Background()) // waits for the stream's first picture
			if err != nil {
				b.Fatal(err)
			}
			f.Close()
			st := camera.NewStreamer(src, 5)
			defer st.Close()
			a := analysis.New(det, analysis.Options{Rules: tally.Rules{Threshold: 0.5}})
			defer a.Close()
			ctx := context.Background()
			var last time.Time
			step := func() {
				f, err := st.Next(ctx)
				if errors.Is(err, camera.ErrNoNewFrame) {
					return
				}
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				if !f.Time.After(last) {
					return
				}
				last = f.Time
				if _, err := a.Analyze(f.Mat, f.Time); err != nil {
					b.Fatal(err)
				}
			}
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for i := 0; i < 30; i++ { // warm up (6 s): the stream, the model, the background, the first tracks
				<-tick.C
				step()
			}
			inf0 := a.Inferences
			var ru0, ru1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			start := time.Now()
			b.ResetTimer()
			for i := 0; i < b.N*5; i++ {
				<-tick.C
				step()
			}
			wall := time.Since(start)
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			cpu := time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()) + time.Duration(ru1.Stime.Nano()-ru0.Stime.Nano())
			b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "%core")
			b.ReportMetric(float64(a.Inferences-inf0)/wall.Seconds(), "inferences/s")
		})
	}
}

func benchDetector(b *testing.B) *yolo.Detector { return dettest.Open(b, yolo.Options{}) }
