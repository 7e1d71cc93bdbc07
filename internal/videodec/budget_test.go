package videodec

import (
	"errors"
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

// TestManyTinyUnits: a hostile group of 20,000 tiny access units (a static 1080p P-frame of a
// few bytes repeated: the issue measured 1,500 of them at 0.88 s) stops at the default budget
// instead of holding the decoder for as long as they take. The time is logged, not asserted.
func TestManyTinyUnits(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes for up to DefaultBudget")
	}
	data, units := encodeSource(t, H264, "color=c=0x3080E0:size=1920x1080:rate=25", "yuv420p", 3, "-c:v", "libx264", "-preset", "ultrafast", "-bf", "0")
	p := data[units[2]:]
	const n = 20_000
	for range n {
		units = append(units, len(data))
		data = append(data, p...)
	}
	d, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	start := time.Now()
	m, r, err := d.Last(H264, data, units, 0)
	took := time.Since(start)
	m.Close()
	t.Logf("%d access units (%d bytes, %d each): %+v %v in %v", len(units), len(data), len(p), r, err, took.Round(time.Millisecond))
	if !errors.Is(err, ErrOverBudget) && err == nil && took > DefaultBudget {
		t.Errorf("decoded past the budget without error")
	}
}
