package videodec

import (
	"testing"

	"github.com/edgecam/edgecam/internal/memtune"
)

// TestNoLeak: many groups decoded (with every option, and bad data) leave the C heap in use
// where it was: every packet, frame and codec context is freed.
func TestNoLeak(t *testing.T) {
	data, units := encode(t, H264, 320, 240, 10, "-preset", "ultrafast", "-bf", "0")
	hevc, hevcUnits := encode(t, H265, 320, 240, 10, "-preset", "ultrafast")
	round := func(n int) {
		for _, o := range []Options{{}, {KeepDecoder: true, Threads: 2}} {
			d, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				for _, in := range []struct {
					codec Codec
					data  []byte
					units []int
				}{{H264, data, units}, {H265, hevc, hevcUnits}, {H264, data[units[2]:], []int{0}}, {H265, data, units}} {
					m, _, _ := d.Last(in.codec, in.data, in.units, 0)
					m.Close()
				}
			}
			d.Close()
		}
	}
	round(10)
	memtune.Trim()
	before := memtune.InUse()
	const n = 100
	round(n)
	memtune.Trim()
	after := memtune.InUse()
	t.Logf("C heap in use: %d KB before, %d KB after %d more rounds (%d decodes)", before>>10, after>>10, n, n*8)
	// A leaked packet or picture is 10 KB to 230 KB per decode; allocator noise stays well under.
	if after > before && after-before > 256<<10 {
		t.Errorf("C heap in use grew %d KB over %d decodes: a leak", (after-before)>>10, n*8)
	}
}
