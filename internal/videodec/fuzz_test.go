package videodec

import (
	"os"
	"testing"
)

// FuzzLast: corrupt, truncated and made-up streams give a picture or an error, never a crash
// (run by scripts/fuzz-short.sh; seeds: 3 pictures of 32x32 H.264 and H.265 in testdata).
// The first byte picks the codec; the rest is split into access units as a camera's would be.
func FuzzLast(f *testing.F) {
	for i, name := range []string{"testdata/tiny.h264", "testdata/tiny.hevc"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte{byte(i)}, data...))
		f.Add(append([]byte{byte(i)}, data[:len(data)*2/3]...))
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
		if err == nil && (m.Cols() <= 0 || m.Rows() <= 0 || m.Cols()*m.Rows() > 256*256) {
			t.Errorf("a %dx%d picture", m.Cols(), m.Rows())
		}
		m.Close()
	})
}
