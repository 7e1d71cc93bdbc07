package clip

import (
	"testing"

	"github.com/edgecam/edgecam/internal/videodec"
)

// Parse never panics on hostile data, and the access units it finds lie within it.
func FuzzParse(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68, 0xce, 0, 0, 1, 0x65, 0x88, 0x80, 0, 0, 1, 0x41, 0x9a})
	f.Add([]byte{0, 0, 1, 0x09, 0x10, 0, 0, 1, 0x65, 0x80, 0, 0, 0, 0, 1})
	f.Add([]byte{0, 0, 1, 0x40, 0x01, 0, 0, 1, 0x26, 0x01, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, codec := range []videodec.Codec{videodec.H264, videodec.H265} {
			c, err := Parse(codec, data)
			if err != nil {
				continue
			}
			prev := -1
			for i, u := range c.units {
				if u <= prev || u >= len(data) {
					t.Fatalf("unit %d at %d (previous %d, %d bytes)", i, u, prev, len(data))
				}
				prev = u
			}
			if !c.key[0] {
				t.Fatal("first unit is not a key frame")
			}
		}
	})
}
