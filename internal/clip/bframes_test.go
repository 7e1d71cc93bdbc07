package clip

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/testfixture"
	"github.com/edgecam/edgecam/internal/videodec"
)

// ffmpegPictures is every picture of the clip at path, in presentation order, as the ffmpeg
// command decodes and converts it to BGR.
func ffmpegPictures(t *testing.T, path string, w, h int) [][]byte {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-i", path, "-f", "rawvideo", "-pix_fmt", "bgr24", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg decoding %s: %v", filepath.Base(path), err)
	}
	size := w * h * 3
	if len(out)%size != 0 {
		t.Fatalf("ffmpeg gave %d bytes, not whole %dx%d BGR pictures", len(out), w, h)
	}
	var all [][]byte
	for ; len(out) > 0; out = out[size:] {
		all = append(all, out[:size])
	}
	return all
}

// Clips with B-frames (H.264 with 2 and 3 of them, H.265 with open groups of pictures; MP4
// plain and fragmented, MOV, elementary streams) give their 30 pictures in presentation order,
// 0.1 s apart, each the picture the ffmpeg command decodes at that place: going forwards one by
// one, skipping, and jumping back.
func TestBFrames(t *testing.T) {
	tolerance := 0
	if os.Getenv(testfixture.EnvEmulated) == "1" {
		tolerance = 3 // the host's ffmpeg converts to BGR with x86 rounding
	}
	h264 := []string{"-c:v", "libx264", "-g", "7", "-bf", "2", "-pix_fmt", "yuv420p"}
	h265 := []string{"-c:v", "libx265", "-x265-params", "log-level=error:bframes=3:keyint=7:open-gop=1", "-pix_fmt", "yuv420p"}
	with := func(base []string, more ...string) []string { return append(base[:len(base):len(base)], more...) }
	for _, c := range []struct {
		name string
		args []string
	}{
		{"bframes.mp4", h264},
		{"bframes3.mp4", with(h264, "-bf", "3")},
		{"bframes.mov", h264},
		{"bframes-fragmented.mp4", with(h264, "-movflags", "frag_keyframe+empty_moov+default_base_moof")},
		{"bframes-hevc.mp4", h265},
		{"bframes.h264", h264},
		{"bframes.h265", h265},
	} {
		t.Run(c.name, func(t *testing.T) {
			if strings.Contains(strings.Join(c.args, " "), "libx265") {
				hasEncoder(t, "libx265")
			}
			p := ffmpeg(t, c.name, append(testsrc[:len(testsrc):len(testsrc)], c.args...)...)
			clip, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			want := ffmpegPictures(t, p, 320, 240)
			if clip.Len() != 30 || len(want) != 30 {
				t.Fatalf("%d pictures, ffmpeg decodes %d, want 30", clip.Len(), len(want))
			}
			if isContainer(p) {
				reordered := 0
				for i, u := range clip.order {
					if u != i {
						reordered++
					}
				}
				if reordered == 0 {
					t.Fatalf("no picture shown out of decoding order: the clip has no B-frames")
				}
				t.Logf("%d of %d pictures shown out of decoding order", reordered, clip.Len())
			}
			// An elementary stream's times are its frame rate's (H.265's: DefaultFPS). A
			// fragmented MP4 from ffmpeg has no edit list: its first picture is shown at 0.2 s, as
			// ffprobe says too.
			step, t0 := 100*time.Millisecond, time.Duration(0)
			if !isContainer(p) {
				step = time.Duration(float64(time.Second) / clip.FPS)
				if clip.FPS == 0 {
					step = time.Second / DefaultFPS
				}
			}
			if strings.Contains(c.name, "fragmented") {
				t0 = 200 * time.Millisecond
			}
			for i := 0; i < clip.Len(); i++ {
				if got, want := clip.Time(i), t0+time.Duration(i)*step; got-want > time.Millisecond || want-got > time.Millisecond {
					t.Fatalf("picture %d at %v, want %v", i, got, want)
				}
			}
			dec, _ := videodec.New(videodec.Options{})
			defer dec.Close()
			forwards := make([]int, clip.Len())
			for i := range forwards {
				forwards[i] = i
			}
			for _, order := range [][]int{forwards, {0, 3, 6, 9, 17, 28, 29, 4, 2, 15, 13, 12, 27}} {
				for _, i := range order {
					m, err := clip.Picture(dec, i, 0)
					if err != nil {
						t.Fatalf("picture %d: %v", i, err)
					}
					if d := maxDiff(t, m, want[i]); d > tolerance {
						t.Errorf("picture %d differs from ffmpeg's by up to %d per channel", i, d)
					}
					m.Close()
				}
			}
		})
	}
}

// maxDiff is the largest difference per channel between m and the BGR picture b of its size.
func maxDiff(t *testing.T, m gocv.Mat, b []byte) int {
	t.Helper()
	ref, err := gocv.NewMatFromBytes(m.Rows(), m.Cols(), gocv.MatTypeCV8UC3, b)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	diff := gocv.NewMat()
	defer diff.Close()
	gocv.AbsDiff(m, ref, &diff)
	flat := diff.Reshape(1, 0)
	defer flat.Close()
	_, most, _, _ := gocv.MinMaxLoc(flat)
	return int(most)
}
