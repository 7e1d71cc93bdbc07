package camera

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/testfixture"
)

// A Streamer reads an RTSP stream's pictures in order, each decoded once: newer frame times,
// the stream's size, ErrNoNewFrame when nothing arrived, and over key frames (a group every
// second) without losing the thread.
func TestRTSPStreamer(t *testing.T) {
	testfixture.RequireFFmpeg(t)
	clip := testfixture.MakeClipWith(t, testfixture.ClipOptions{Width: 320, Height: 240, FPS: 10, GOP: 10, Seconds: 4})
	feed := testfixture.StartRTSPFeed(t, testfixture.FreeAddr(t), clip)
	defer feed.Stop()
	src, err := New(config.Camera{ID: "door", Type: "rtsp", URL: feed.URL("", "")})
	if err != nil {
		t.Fatal(err)
	}
	defer Close(src)
	if NewStreamer(&fileSource{}, 5) != nil {
		t.Fatal("a file camera has a Streamer")
	}
	st := NewStreamer(src, 5)
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var last time.Time
	frames, none := 0, 0
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) || frames == 0 {
		if ctx.Err() != nil {
			t.Fatal("no frame within 30 s")
		}
		f, err := st.Next(ctx)
		switch {
		case errors.Is(err, ErrNoNewFrame):
			none++
		case err != nil:
			if frames > 0 {
				t.Fatalf("after %d frames: %v", frames, err)
			}
		default:
			if f.Mat.Cols() != 320 || f.Mat.Rows() != 240 || !f.Time.After(last) {
				t.Fatalf("frame %d: %dx%d at %v after %v", frames, f.Mat.Cols(), f.Mat.Rows(), f.Time, last)
			}
			last = f.Time
			frames++
			f.Close()
		}
		time.Sleep(70 * time.Millisecond)
	}
	// 3 s of a 10 fps stream polled every 70 ms: about 30 frames, more than one group of pictures.
	if frames < 20 || none == 0 {
		t.Fatalf("%d frames and %d empty polls in 3 s; want about 30 and some", frames, none)
	}
}
