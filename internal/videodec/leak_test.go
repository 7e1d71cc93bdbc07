package videodec

import (
	"testing"

	"github.com/edgecam/edgecam/internal/memtune"
)

// heapGrowth runs round(10), then round(n), and returns the C heap in use before and after the
// second.
func heapGrowth(round func(n int), n int) (before, after uint64) {
	round(10)
	memtune.Trim()
	before = memtune.InUse()
	round(n)
	memtune.Trim()
	return before, memtune.InUse()
}

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
	const n = 100
	before, after := heapGrowth(round, n)
	t.Logf("C heap in use: %d KB before, %d KB after %d more rounds (%d decodes)", before>>10, after>>10, n, n*8)
	// A leaked packet or picture is 10 KB to 230 KB per decode; allocator noise stays well under.
	if after > before && after-before > 256<<10 {
		t.Errorf("C heap in use grew %d KB over %d decodes: a leak", (after-before)>>10, n*8)
	}
}

// TestNoLeakFeed: decoders fed with Feed and FeedUntil (a picture converted, one held back by
// ErrSkipped when the decoder is reset or closed, a drain) leave the C heap in use where it
// was.
func TestNoLeakFeed(t *testing.T) {
	data, units := encode(t, H264, 320, 240, 10, "-preset", "ultrafast", "-bf", "0")
	even := make([]int64, len(units)) // every other picture number: FeedUntil skips the odd ones
	for i := range even {
		even[i] = int64(2 * i)
	}
	// The calls of a round, on one decoder: reset first when reset is set.
	steps := []struct {
		reset  bool
		stream []byte
		units  []int
		w      Want
	}{
		{true, data, units, Want{Index: 2, Tags: even}},    // picture 2
		{false, nil, nil, Want{Index: 100, Drain: true}},   // none: drained
		{false, data[:units[1]], []int{0}, Want{Index: 1}}, // refused after the drain
		{true, data, units, Want{Index: 3, Tags: even}},    // ErrSkipped, picture 4 held back
		{false, data, units, Want{Index: 5, Tags: even}},   // picture 6 held back at Close
	}
	round := func(n int) {
		for i := 0; i < n; i++ {
			d, _ := New(Options{})
			m, _, _ := d.Feed(H264, data, units[:3], 0)
			m.Close()
			for _, s := range steps {
				if s.reset {
					d.Reset()
				}
				m, _, _ := d.FeedUntil(H264, s.stream, s.units, 0, s.w)
				m.Close()
			}
			d.Close()
		}
	}
	const n = 100
	before, after := heapGrowth(round, n)
	t.Logf("C heap in use: %d KB before, %d KB after %d more rounds", before>>10, after>>10, n)
	// A picture held back and leaked is 115 KB a round.
	if after > before && after-before > 2<<20 {
		t.Errorf("C heap in use grew %d KB over %d rounds: a leak", (after-before)>>10, n)
	}
}
