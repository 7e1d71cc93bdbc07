package camera

import (
	"fmt"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/testfixture"
)

// RTSP streams of pictures a few pixels wide (2x2 and 6x4 overflowed libswscale's buffer and
// aborted the process) fail every capture with a clear error and leave the source working; a
// one-colour 34x18 stream (its last 2 columns came out black) is captured one colour.
func TestRTSPTinyPictures(t *testing.T) {
	testfixture.RequireFFmpeg(t)
	if testing.Short() {
		t.Skip("RTSP tests skipped in -short mode")
	}
	for _, size := range [][2]int{{2, 2}, {6, 4}, {34, 18}} {
		w, h := size[0], size[1]
		t.Run(fmt.Sprintf("%dx%d", w, h), func(t *testing.T) {
			clip := testfixture.MakeClipWith(t, testfixture.ClipOptions{Lavfi: "color=c=0x3080E0", Width: w, Height: h})
			feed := testfixture.StartRTSPFeed(t, testfixture.FreeAddr(t), clip)
			defer feed.Stop()
			src, err := New(config.Camera{ID: "tiny", Type: config.TypeRTSP, URL: feed.URL("", ""), Timeout: 20 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer Close(src)
			for range 3 {
				f, err := src.Capture(testCtx(t))
				if w < 16 || h < 16 {
					wantErr(t, err, "camera tiny: rtsp stream", fmt.Sprintf("picture is %dx%d, smaller than 16x16", w, h))
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if f.Mat.Cols() != w || f.Mat.Rows() != h {
					t.Fatalf("a %dx%d frame, want %dx%d", f.Mat.Cols(), f.Mat.Rows(), w, h)
				}
				b := f.Mat.ToBytes()
				for i := 0; i < len(b); i += 3 {
					if b[i] != b[0] || b[i+1] != b[1] || b[i+2] != b[2] || int(b[0])+int(b[1])+int(b[2]) < 100 {
						t.Fatalf("pixel (%d,%d) is %v, the first %v: not one colour", i/3%w, i/3/w, b[i:i+3], b[:3])
					}
				}
				f.Close()
				time.Sleep(200 * time.Millisecond)
			}
		})
	}
}
