package camera

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/testfixture"
)

// A Raspberry Pi camera's Streamer runs rpicam-vid (here a stand-in on PATH that plays a clip
// as rpicam-vid writes it: an H.264 elementary stream on stdout, in real time) and returns its
// pictures in order, decoded once each.
func TestRPiStreamer(t *testing.T) {
	testfixture.RequireFFmpeg(t)
	clip := testfixture.MakeClipWith(t, testfixture.ClipOptions{Width: 320, Height: 240, FPS: 10, GOP: 10, Seconds: 10})
	bin := t.TempDir()
	args := filepath.Join(bin, "args")
	script := "#!/bin/sh\necho \"$@\" > " + args + "\nexec ffmpeg -hide_banner -loglevel error -nostdin -re -i " + clip +
		" -c:v copy -bsf:v h264_mp4toannexb -f h264 -\n"
	if err := os.WriteFile(filepath.Join(bin, "rpicam-vid"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	src, err := New(config.Camera{ID: "pi", Type: "rpi", Rotation: 180, Width: 320, Height: 240})
	if err != nil {
		t.Fatal(err)
	}
	defer Close(src)
	st := NewStreamer(src, 5)
	if st == nil {
		t.Fatal("no Streamer for an rpi camera")
	}
	defer st.Close()
	var last time.Time
	frames := 0
	deadline := time.Now().Add(20 * time.Second)
	for frames < 15 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		f, err := st.Next(context.Background())
		if errors.Is(err, ErrNoNewFrame) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.Mat.Cols() != 320 || f.Mat.Rows() != 240 || !f.Time.After(last) {
			t.Fatalf("frame %d: %dx%d at %v after %v", frames, f.Mat.Cols(), f.Mat.Rows(), f.Time, last)
		}
		last = f.Time
		frames++
		f.Close()
	}
	if frames < 15 {
		t.Fatalf("%d frames in 20 s at 5 a second", frames)
	}
	b, _ := os.ReadFile(args)
	for _, want := range []string{"--codec h264", "--inline", "-o -", "--rotation 180", "--width 320", "--framerate 5"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("rpicam-vid arguments %q lack %q", b, want)
		}
	}
}

// The splitter cuts a stream into the same access units however the bytes arrive.
func FuzzAUSplitter(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68, 0xce, 0, 0, 1, 0x65, 0x88, 0x80, 0, 0, 1, 0x41, 0x9a, 0, 0, 1, 0x41, 0x9b, 0, 0, 1, 9}, uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		split := func(n int) (out []string) {
			var sp auSplitter
			for i := 0; i < len(data); i += n {
				sp.write(data[i:min(len(data), i+n)], func(au []byte, _ bool) { out = append(out, string(au)) })
			}
			return out
		}
		a, b := split(len(data)+1), split(int(step)%7+1)
		if len(a) != len(b) {
			t.Fatalf("%d access units at once, %d in pieces", len(a), len(b))
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("access unit %d differs", i)
			}
		}
	})
}
