package analysis

import (
	"github.com/edgecam/edgecam/internal/coco"
	"github.com/edgecam/edgecam/internal/crossing"
)

// Counts are crossings per line and label, in and out.
type Counts struct {
	lines []crossing.Line
	m     map[countKey]*[2]int // [in, out]
}

type countKey struct {
	line  int
	label string
}

// NewCounts returns empty counts for lines.
func NewCounts(lines []crossing.Line) *Counts {
	return &Counts{lines: lines, m: map[countKey]*[2]int{}}
}

// Add counts the events.
func (c *Counts) Add(evs []crossing.Event) {
	for _, e := range evs {
		k := countKey{e.Line, e.Label}
		v := c.m[k]
		if v == nil {
			v = new([2]int)
			c.m[k] = v
		}
		if e.In {
			v[0]++
		} else {
			v[1]++
		}
	}
}

// Get returns the in and out counts of a line's label.
func (c *Counts) Get(line int, label string) (in, out int) {
	if v := c.m[countKey{line, label}]; v != nil {
		return v[0], v[1]
	}
	return 0, 0
}

// Line returns the in and out counts of a line, all labels together.
func (c *Counts) Line(line int) (in, out int) {
	for k, v := range c.m {
		if k.line == line {
			in += v[0]
			out += v[1]
		}
	}
	return in, out
}

// LineKey is the telemetry key prefix of a line's label: "<line>_<label>" with the label in its
// DTDL-safe form when safe is set.
func LineKey(line, label string, safe bool) string {
	if safe {
		label = coco.SafeName(label)
	}
	return line + "_" + label
}

// Set sets the in and out counts of a line's label.
func (c *Counts) Set(line int, label string, in, out int) {
	c.m[countKey{line, label}] = &[2]int{in, out}
}
