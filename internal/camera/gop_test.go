package camera

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/testfixture"
)

// TestGOPDecoderLastPicture: decoding a group of pictures (grabbing all but the last) gives the
// same last picture as converting every one, also when the access-unit count is off (the
// fallback reads them all), for H.264 and H.265 elementary streams of a moving test pattern.
func TestGOPDecoderLastPicture(t *testing.T) {
	testfixture.RequireFFmpeg(t)
	for _, c := range []struct{ name, codec, format string }{{"h264", "libx264", "h264"}, {"h265", "libx265", "hevc"}} {
		t.Run(c.name, func(t *testing.T) {
			es := filepath.Join(t.TempDir(), "gop."+c.format)
			out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
				"-frames:v", "20", "-c:v", c.codec, "-preset", "ultrafast", "-g", "50", "-bf", "0", "-f", c.format, es).CombinedOutput()
			if err != nil {
				t.Skipf("ffmpeg cannot encode %s: %v\n%s", c.name, err, out)
			}
			data, err := os.ReadFile(es)
			if err != nil {
				t.Fatal(err)
			}
			d, err := newGOPDecoder("t")
			if err != nil {
				t.Fatal(err)
			}
			defer d.close()
			decodeWith := func(units int) gocv.Mat {
				t.Helper()
				if _, err := d.load(data); err != nil {
					t.Fatal(err)
				}
				m, n, err := d.decode(units)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%d access units: %d pictures read", units, n)
				return m
			}
			all := decodeWith(1) // skips nothing: converts all 20
			defer all.Close()
			for _, units := range []int{20, 25} {
				m := decodeWith(units)
				diff := gocv.NewMat()
				gocv.AbsDiff(all, m, &diff)
				if s := diff.Sum(); m.Cols() != 320 || s.Val1+s.Val2+s.Val3 != 0 {
					t.Errorf("%d access units: last picture %dx%d differs from the fully converted one by %v", units, m.Cols(), m.Rows(), s)
				}
				diff.Close()
				m.Close()
			}
			if _, err := d.load([]byte("not a video")); err != nil {
				t.Fatal(err)
			}
			if _, _, err := d.decode(3); err == nil {
				t.Error("decoded garbage")
			}
		})
	}
}
