package clip

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/videodec"
)

// encode makes a 3 s 10 fps clip of FFmpeg's test pattern with a key frame every 7 pictures.
func encode(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := append(testsrc[:len(testsrc):len(testsrc)], args...)
	return ffmpeg(t, name, append(cmd, "-g", "7", "-bf", "0", "-pix_fmt", "yuv420p")...)
}

func decodeAll(t *testing.T, path string) {
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 30 {
		t.Fatalf("%d access units, want 30", c.Len())
	}
	dec, _ := videodec.New(videodec.Options{})
	defer dec.Close()
	var prev gocv.Mat
	defer func() { prev.Close() }()
	for i := 0; i < c.Len(); i++ {
		m, err := c.Picture(dec, i, 0)
		if err != nil {
			t.Fatalf("picture %d: %v", i, err)
		}
		if m.Cols() != 320 || m.Rows() != 240 {
			t.Fatalf("picture %d is %dx%d", i, m.Cols(), m.Rows())
		}
		if i > 0 {
			diff := gocv.NewMat()
			gocv.AbsDiff(m, prev, &diff)
			grey := gocv.NewMat()
			gocv.CvtColor(diff, &grey, gocv.ColorBGRToGray)
			n := gocv.CountNonZero(grey)
			diff.Close()
			grey.Close()
			if n == 0 {
				t.Fatalf("picture %d equals picture %d: not the next picture", i, i-1)
			}
			prev.Close()
		}
		prev = m
	}
}

func TestH264(t *testing.T) {
	p := encode(t, "clip.h264", "-c:v", "libx264")
	decodeAll(t, p)
	c, _ := Open(p)
	if c.FPS != 10 {
		t.Errorf("FPS %v, want 10", c.FPS)
	}
}

func TestH265(t *testing.T) {
	hasEncoder(t, "libx265")
	decodeAll(t, encode(t, "clip.h265", "-c:v", "libx265", "-x265-params", "log-level=error"))
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	for name, want := range map[string]string{
		"a.mp4":   "not an MP4/MOV file",
		"a.avi":   "remux it into MP4 first",
		"a.xyz":   "unknown clip type",
		"no.h264": "no such file",
	} {
		if name == "a.mp4" {
			os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600)
		}
		if _, err := Open(filepath.Join(dir, name)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%s) = %v, want %q", name, err, want)
		}
	}
	if _, err := Parse(videodec.H264, []byte("not a stream")); err == nil {
		t.Error("Parse of garbage succeeded")
	}
}

// lastPicture decodes picture i as a camera's capture does: the whole group of pictures up to
// it, given to Last.
func lastPicture(t *testing.T, c *Clip, dec *videodec.Decoder, i int) gocv.Mat {
	k := i
	for !c.key[k] {
		k--
	}
	var buf []byte
	for _, p := range c.params[k] {
		if p != nil {
			buf = append(append(buf, 0, 0, 0, 1), p...)
		}
	}
	end := len(c.data)
	if i+1 < len(c.units) {
		end = c.units[i+1]
	}
	shift := len(buf) - c.units[k]
	buf = append(buf, c.data[c.units[k]:end]...)
	offs := []int{0}
	for j := k + 1; j <= i; j++ {
		offs = append(offs, c.units[j]+shift)
	}
	m, _, err := dec.Last(c.Codec, buf, offs, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Feeding the access units once each gives the same pictures as decoding each picture's group
// of pictures, forwards, skipping, and jumping back.
func TestPictureMatchesGroupDecode(t *testing.T) {
	c, err := Open(encode(t, "clip.h264", "-c:v", "libx264"))
	if err != nil {
		t.Fatal(err)
	}
	feed, _ := videodec.New(videodec.Options{})
	defer feed.Close()
	last, _ := videodec.New(videodec.Options{})
	defer last.Close()
	for _, i := range []int{0, 1, 2, 5, 6, 7, 13, 20, 29, 3, 4} {
		a, err := c.Picture(feed, i, 0)
		if err != nil {
			t.Fatalf("picture %d: %v", i, err)
		}
		b := lastPicture(t, c, last, i)
		diff := gocv.NewMat()
		gocv.AbsDiff(a, b, &diff)
		grey := gocv.NewMat()
		gocv.CvtColor(diff, &grey, gocv.ColorBGRToGray)
		n := gocv.CountNonZero(grey)
		for _, m := range []*gocv.Mat{&a, &b, &diff, &grey} {
			m.Close()
		}
		if n != 0 {
			t.Errorf("picture %d: %d pixels differ from the group decode", i, n)
		}
	}
}
