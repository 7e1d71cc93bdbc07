package videodec

import (
	"os"
	"strings"
	"testing"
)

// FuzzLast: corrupt, truncated and made-up streams give a picture or an error, never a crash
// (run by scripts/fuzz-short.sh; seeds: 3 pictures of 32x32 H.264 and H.265, and of 2x2 and
// one-colour 34x18 H.264, the sizes libswscale overran or left unwritten, in testdata). The
// first byte picks the codec; the rest is split into access units as a camera's would be.
func FuzzLast(f *testing.F) {
	for _, name := range []string{"testdata/tiny.h264", "testdata/tiny.hevc", "testdata/tiny2x2.h264", "testdata/color34x18.h264"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		codec := byte(H264)
		if strings.HasSuffix(name, ".hevc") {
			codec = byte(H265)
		}
		f.Add(append([]byte{codec}, data...))
		f.Add(append([]byte{codec}, data[:len(data)*2/3]...))
	}
	d, err := New(Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer d.Close()
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 2 {
			return
		}
		codec := Codec(in[0] & 1)
		data := in[1:]
		// A small pixel limit: a made-up SPS can ask for 16384x16384 pictures.
		m, _, err := d.Last(codec, data, accessUnits(codec, data), 256*256)
		if err == nil && (m.Cols() < MinSide || m.Rows() < MinSide || m.Cols()*m.Rows() > 256*256) {
			t.Errorf("a %dx%d picture", m.Cols(), m.Rows())
		}
		m.Close()
	})
}
