// Package crossing counts tracked objects crossing lines drawn on a camera's frame: footfall
// through a door, cars leaving a car park. A line is a segment in fractions of the frame with a
// direction that counts as in; the opposite one counts as out.
//
// A track counts when its anchor (the bottom-centre of its box by default) passes from one side
// of the line to the other through the segment, and then stays on the new side for
// Options.Settle frames. Each track counts at most once per direction and line. Points within
// Options.Band of the line are on it, on neither side: a track that stops on the line or walks
// along it is not counted. When the tracker loses an object and finds it again under a new ID
// (an ID switch), the new ID takes over the history of a recently vanished track of the same
// label close by, so the crossing is counted once: not twice, and not lost.
//
// It has no cgo dependency and allocates nothing per frame once its state has grown to the
// number of tracks.
package crossing

import (
	"fmt"
	"math"
	"slices"

	"github.com/edgecam/edgecam/internal/track"
	"github.com/edgecam/edgecam/internal/zone"
)

// Direction is a direction of movement in the picture.
type Direction int

const (
	Left Direction = iota + 1
	Right
	Up
	Down
)

// Direction names as written in the configuration.
var dirNames = [...]string{Left: "left", Right: "right", Up: "up", Down: "down"}

func (d Direction) String() string {
	if d >= Left && d <= Down {
		return dirNames[d]
	}
	return fmt.Sprintf("direction(%d)", int(d))
}

// ParseDirection reads left, right, up or down.
func ParseDirection(s string) (Direction, error) {
	for d := Left; d <= Down; d++ {
		if dirNames[d] == s {
			return d, nil
		}
	}
	return 0, fmt.Errorf("unknown direction %q: use left, right, up or down (the movement in the picture that counts as in)", s)
}

func (d Direction) vector() zone.Point {
	switch d {
	case Left:
		return zone.Point{X: -1}
	case Right:
		return zone.Point{X: 1}
	case Up:
		return zone.Point{Y: -1}
	}
	return zone.Point{Y: 1}
}

// Across reports whether moving in direction d crosses the line from a to b rather than
// running along it: left and right cross a steep line (at least 45° from the horizontal), up
// and down a flat one (at most 45°), in fractions of the frame.
func Across(a, b zone.Point, d Direction) bool {
	dx, dy := math.Abs(b.X-a.X), math.Abs(b.Y-a.Y)
	if d == Left || d == Right {
		return dy >= dx
	}
	return dx >= dy
}

// Line is one counting line.
type Line struct {
	Name string
	// A and B are the ends of the segment, in fractions of the frame.
	A, B zone.Point
	// In is the direction of movement that counts as in.
	In Direction
	// Labels, when set, are the only labels counted.
	Labels []string
	Anchor zone.Anchor
}

// Event is one counted crossing.
type Event struct {
	// Line is the index of the line in the Counter's lines.
	Line  int
	Label string
	// Track is the ID of the track that crossed.
	Track int
	// In is true for a crossing in the line's In direction, false for the opposite one.
	In bool
}

// Options tune a Counter; the zero value of each field is its default.
type Options struct {
	// Settle is how many frames a track must be seen on the new side before its crossing
	// counts: 3 by default (0.6 s at 5 frames a second).
	Settle int
	// Band is the distance from the line, in fractions of the frame, within which an anchor is
	// on the line: 0.02 by default.
	Band float64
	// Handover is how far, in fractions of the frame, a new track may appear from a vanished
	// one and take over its history: 0.1 by default.
	Handover float64
	// Forget is how many frames the history of a track not seen is kept: 25 by default.
	Forget int
}

func (o Options) withDefaults() Options {
	if o.Settle <= 0 {
		o.Settle = 3
	}
	if o.Band <= 0 {
		o.Band = 0.02
	}
	if o.Handover <= 0 {
		o.Handover = 0.1
	}
	if o.Forget <= 0 {
		o.Forget = 25
	}
	return o
}

// lineState is one track's history with one line.
type lineState struct {
	side     int8       // the side the track settled on: -1, 1, or 0 before it was seen off the line
	last     zone.Point // the last anchor seen on that side
	pending  int8       // the other side, once the track was seen there
	valid    bool       // the move to pending went through the segment
	settle   int        // frames seen on the pending side
	countedI bool       // counted in
	countedO bool       // counted out
}

type trackState struct {
	id     int
	label  string
	centre zone.Point
	seen   int // frame number last seen
	lines  []lineState
	taken  bool // handed over to another ID
}

// Counter counts crossings over a camera's lines. It is not safe for concurrent use.
type Counter struct {
	o      Options
	lines  []Line
	inSign []int8 // per line: the sign of the side change that is "in"
	frame  int
	tracks map[int]*trackState
	free   []*trackState
	events []Event
	fresh  []int // IDs first seen in this frame
}

// New returns a counter for lines (validated: two distinct points, a direction across them).
func New(lines []Line, o Options) *Counter {
	c := &Counter{o: o.withDefaults(), lines: lines, tracks: map[int]*trackState{}}
	for _, l := range lines {
		d := l.B
		d.X -= l.A.X
		d.Y -= l.A.Y
		v := l.In.vector()
		// Moving by v changes the side value cross(AB, AP) by cross(AB, v).
		s := int8(1)
		if d.X*v.Y-d.Y*v.X < 0 {
			s = -1
		}
		c.inSign = append(c.inSign, s)
	}
	return c
}

// Lines returns the counter's lines.
func (c *Counter) Lines() []Line { return c.lines }

func (c *Counter) counts(li int, label string) bool {
	l := c.lines[li].Labels
	return len(l) == 0 || slices.Contains(l, label)
}

// side returns the side of p relative to line li (-1 or 1), or 0 within the band around it.
func (c *Counter) side(li int, p zone.Point) int8 {
	l := &c.lines[li]
	dx, dy := l.B.X-l.A.X, l.B.Y-l.A.Y
	n := math.Hypot(dx, dy)
	if n == 0 {
		return 0
	}
	dist := (dx*(p.Y-l.A.Y) - dy*(p.X-l.A.X)) / n
	switch {
	case dist > c.o.Band:
		return 1
	case dist < -c.o.Band:
		return -1
	}
	return 0
}

// throughSegment reports whether the path from p to q crosses line li within its segment
// (with the band's tolerance at its ends).
func (c *Counter) throughSegment(li int, p, q zone.Point) bool {
	l := &c.lines[li]
	rx, ry := q.X-p.X, q.Y-p.Y
	sx, sy := l.B.X-l.A.X, l.B.Y-l.A.Y
	den := rx*sy - ry*sx
	if den == 0 {
		return false
	}
	// p + t r = A + u s
	ax, ay := l.A.X-p.X, l.A.Y-p.Y
	u := (ax*ry - ay*rx) / den
	tol := c.o.Band / math.Hypot(sx, sy)
	return u >= -tol && u <= 1+tol
}

// Update takes the tracks seen in the newest frame (boxes in fractions of the frame) and
// returns the crossings they completed, in track order. The slice is reused by the next Update.
func (c *Counter) Update(tracks []track.Track) []Event {
	c.frame++
	c.events = c.events[:0]
	c.fresh = c.fresh[:0]
	for i := range tracks {
		t := &tracks[i]
		if s, ok := c.tracks[t.ID]; ok {
			c.step(s, t)
		} else {
			c.fresh = append(c.fresh, i)
		}
	}
	// New IDs after known ones: a vanished track's history is free to take over only once the
	// tracks still seen have been updated.
	for _, i := range c.fresh {
		t := &tracks[i]
		s := c.handover(t)
		if s == nil {
			s = c.newState(t)
		}
		c.tracks[t.ID] = s
		c.step(s, t)
	}
	for id, s := range c.tracks {
		if c.frame-s.seen > c.o.Forget || s.taken {
			delete(c.tracks, id)
			c.free = append(c.free, s)
		}
	}
	return c.events
}

func (c *Counter) newState(t *track.Track) *trackState {
	var s *trackState
	if n := len(c.free); n > 0 {
		s, c.free = c.free[n-1], c.free[:n-1]
		ls := s.lines[:0]
		*s = trackState{lines: ls}
	} else {
		s = &trackState{}
	}
	s.id, s.label = t.ID, t.Label
	for range c.lines {
		s.lines = append(s.lines, lineState{})
	}
	return s
}

// handover finds the history of a track of t's label that vanished recently within Handover of
// t's first position, and moves it to t.
func (c *Counter) handover(t *track.Track) *trackState {
	p := zone.Center.Of(t.Box)
	var best *trackState
	bestD := c.o.Handover
	for _, s := range c.tracks {
		if s.seen >= c.frame || s.taken || s.label != t.Label {
			continue
		}
		if d := math.Hypot(s.centre.X-p.X, s.centre.Y-p.Y); d <= bestD || best != nil && d == bestD && s.id < best.id {
			best, bestD = s, d
		}
	}
	if best == nil {
		return nil
	}
	delete(c.tracks, best.id)
	n := c.newState(t)
	n.lines = append(n.lines[:0], best.lines...)
	best.taken = true
	c.free = append(c.free, best)
	return n
}

func (c *Counter) step(s *trackState, t *track.Track) {
	s.seen = c.frame
	s.centre = zone.Center.Of(t.Box)
	for li := range c.lines {
		if !c.counts(li, t.Label) {
			continue
		}
		ls := &s.lines[li]
		p := c.lines[li].Anchor.Of(t.Box)
		side := c.side(li, p)
		switch {
		case side == 0: // on the line: neither side; a pending crossing waits
		case ls.side == 0: // first seen off the line: where it starts
			ls.side, ls.last = side, p
		case side == ls.side: // back on (or still on) its side: a pending crossing is off
			ls.last, ls.pending, ls.settle, ls.valid = p, 0, 0, false
		default: // on the other side
			if ls.pending != side {
				ls.pending, ls.settle = side, 0
				ls.valid = c.throughSegment(li, ls.last, p)
			}
			ls.settle++
			if ls.settle < c.o.Settle {
				break
			}
			in := side-ls.side == 2*c.inSign[li]
			if ls.valid && (in && !ls.countedI || !in && !ls.countedO) {
				if in {
					ls.countedI = true
				} else {
					ls.countedO = true
				}
				c.events = append(c.events, Event{Line: li, Label: t.Label, Track: t.ID, In: in})
			}
			ls.side, ls.last, ls.pending, ls.settle, ls.valid = side, p, 0, 0, false
		}
	}
}
