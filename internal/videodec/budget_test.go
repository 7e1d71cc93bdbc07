package videodec

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestBudget: a group whose decoding outlasts the budget fails with ErrOverBudget, saying where
// it stopped, and the decoder goes on with the next group (kept or not).
func TestBudget(t *testing.T) {
	data, units := encode(t, H264, 320, 240, 30, "-preset", "ultrafast", "-bf", "0")
	for _, o := range []Options{{Budget: time.Nanosecond}, {Budget: time.Nanosecond, KeepDecoder: true}} {
		d, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		m, _, err := d.Last(H264, data, units, 0)
		m.Close()
		if !errors.Is(err, ErrOverBudget) || !strings.Contains(err.Error(), "stopped after 1ns at access unit 0 of 30") {
			t.Errorf("%+v: %v, want ErrOverBudget", o, err)
		}
		t.Log(err)
		d.o.Budget = 0
		m, _, err = d.Last(H264, data, units, 0)
		if err != nil || m.Cols() != 320 {
			t.Errorf("%+v, then the default budget: %v", o, err)
		}
		m.Close()
		d.Close()
	}
}

// tinyUnits is a hostile group of a 1080p key frame, two pictures and n tiny access units after
// them (a static P-frame of a few bytes repeated: the issue measured 1,500 of them at 0.88 s).
func tinyUnits(t *testing.T, n int) (data []byte, units []int, size int) {
	data, units = encodeSource(t, H264, "color=c=0x3080E0:size=1920x1080:rate=25", "yuv420p", 3, "-c:v", "libx264", "-preset", "ultrafast", "-bf", "0")
	p := data[units[2]:]
	for range n {
		units = append(units, len(data))
		data = append(data, p...)
	}
	return data, units, len(p)
}

// TestManyTinyUnits: a hostile group of 20,000 tiny access units stops at the default budget
// instead of holding the decoder for as long as they take. The time is logged, not asserted.
func TestManyTinyUnits(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes for up to DefaultBudget")
	}
	data, units, size := tinyUnits(t, 20_000)
	d, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	start := time.Now()
	m, r, err := d.Last(H264, data, units, 0)
	took := time.Since(start)
	m.Close()
	t.Logf("%d access units (%d bytes, %d each): %+v %v in %v", len(units), len(data), size, r, err, took.Round(time.Millisecond))
	if !errors.Is(err, ErrOverBudget) && err == nil && took > DefaultBudget {
		t.Errorf("decoded past the budget without error")
	}
}

// TestFeedBudget: Feed has the same budget, per call. With a budget of 1 ns it stops before the
// first access unit; a hostile run of 20,000 tiny access units (about 12 s of decoding at the
// issue's measure) given to one Feed fails with ErrOverBudget at a 200 ms budget, saying where
// it stopped, instead of holding the decoder for as long as they take. Either way the decoder's
// state is dropped and the next Feed, from the key frame, decodes.
func TestFeedBudget(t *testing.T) {
	small, smallUnits := encode(t, H264, 320, 240, 30, "-preset", "ultrafast", "-bf", "0")
	data, units, _ := tinyUnits(t, 20_000)
	for _, c := range []struct {
		budget time.Duration
		data   []byte
		units  []int
		want   string
	}{
		{time.Nanosecond, small, smallUnits, "stopped after 1ns at access unit 0 of 30"},
		{200 * time.Millisecond, data, units, "stopped after 200ms at access unit "},
	} {
		d, err := New(Options{Budget: c.budget})
		if err != nil {
			t.Fatal(err)
		}
		m, r, err := d.Feed(H264, c.data, c.units, 0)
		m.Close()
		t.Logf("%d access units: %+v %v", len(c.units), r, err)
		if !errors.Is(err, ErrOverBudget) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), fmt.Sprintf("unit %d of", len(c.units))) {
			t.Errorf("budget %v, %d access units: %v, want ErrOverBudget %q", c.budget, len(c.units), err, c.want)
		}
		d.o.Budget = 0
		m, _, err = d.Feed(H264, small, smallUnits[:3], 0)
		if err != nil || m.Cols() != 320 {
			t.Errorf("budget %v, then the default budget from the key frame: %v", c.budget, err)
		}
		m.Close()
		d.Close()
	}
}
