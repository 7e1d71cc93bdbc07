// Package track follows detected objects from frame to frame and gives each a stable ID: a
// ByteTrack-like multi-object tracker (Zhang et al., 2022). Each track's box moves with a
// constant-velocity Kalman filter; every frame, high-score detections are matched first with
// every track (also those lost for a while), then low-score detections with the tracks still
// unmatched, so an object whose score dips (partly hidden, blurred) keeps its track. A track
// that is not seen is kept as lost for Options.Buffer frames and picks up its old ID when it is
// matched again; a new object needs two consecutive sightings before it is reported.
//
// Matching is by the overlap (IoU) of the predicted box and the detection, within one label,
// greedily from the best overlap down; a third pass matches what is left by the distance of
// the centres (Options.Jump), for objects that moved further than their width in one frame. It allocates nothing per frame once its slices have
// grown to the number of objects.
//
// github.com/LdDl/mot-go (v0.4.0) was evaluated and not used: its tracks are keyed by random
// UUIDs in a map (IDs unfit for a picture or a log, and an iteration order that changes from run
// to run), it allocates its matrices on every frame, matches across labels, and brings gonum, a
// Hungarian solver and pkg/errors for what is here about 300 lines.
package track

import (
	"cmp"
	"math"
	"slices"

	"github.com/edgecam/edgecam/internal/box"
)

// Detection is one object in a frame.
type Detection struct {
	// Box is x1, y1, x2, y2 (any unit, the same for every frame; edgecam uses fractions).
	Box   [4]float64
	Score float64
	Label string
}

// Track is a followed object as of the newest frame.
type Track struct {
	// ID is unique within the tracker, from 1, never reused.
	ID int
	// Box is the filtered box (x1, y1, x2, y2); for a lost track, where it is predicted to be.
	Box   [4]float64
	Label string
	// Score is that of the last detection matched.
	Score float64
	// Hits counts the frames in which the track was matched; Lost the frames since it last was
	// (0: seen in the newest frame).
	Hits, Lost int
	// Det is the index of the detection matched in the newest frame, or -1.
	Det int
}

// Options tune a Tracker; the zero value of each field is its default (ByteTrack's, with a
// buffer for 5 frames a second).
type Options struct {
	// High is the score from which a detection is matched in the first pass and may start a
	// track: 0.5 by default.
	High float64
	// Low is the lowest score matched at all (second pass): 0.1 by default.
	Low float64
	// NewTrack is the score a detection unmatched by any track needs to start one: 0.6.
	NewTrack float64
	// MatchIoU is the least overlap of a high-score detection with a track's predicted box: 0.2.
	MatchIoU float64
	// LowMatchIoU is the least overlap for a low-score detection: 0.5.
	LowMatchIoU float64
	// Buffer is how many frames a track is kept while unseen: 15 (3 s at 5 frames a second).
	Buffer int
	// Jump is how far, in box heights, the centre of a high-score detection left over by both
	// passes may be from the predicted centre of a track left over too, for them to be matched
	// in a third pass, nearest first: 0.5 by default; negative turns the pass off. It keeps a
	// track whose object moved more than its own width between two frames (a frame skipped by a
	// busy device, a new track whose speed is not known yet).
	Jump float64
}

func (o Options) withDefaults() Options {
	if o.High <= 0 {
		o.High = 0.5
	}
	if o.Low <= 0 {
		o.Low = 0.1
	}
	if o.NewTrack <= 0 {
		o.NewTrack = 0.6
	}
	if o.MatchIoU <= 0 {
		o.MatchIoU = 0.2
	}
	if o.LowMatchIoU <= 0 {
		o.LowMatchIoU = 0.5
	}
	if o.Buffer <= 0 {
		o.Buffer = 15
	}
	if o.Jump == 0 {
		o.Jump = 0.5
	}
	return o
}

type state struct {
	Track
	kf        kalman
	confirmed bool // matched in two frames: reported
	matched   bool // in the current Update
}

type pair struct {
	iou    float64
	ti, di int
}

// Tracker follows objects across the frames given to Update. It is not safe for concurrent use.
type Tracker struct {
	o      Options
	next   int
	tracks []*state
	free   []*state // removed tracks' memory, reused
	pairs  []pair
	used   []bool // detections matched in this frame
	out    []Track
}

// New returns a tracker.
func New(o Options) *Tracker { return &Tracker{o: o.withDefaults(), next: 1} }

// SetOptions replaces the tracker's options (zero fields: their defaults) from the next Update,
// e.g. a score threshold changed at run time; the tracks and their IDs stay.
func (t *Tracker) SetOptions(o Options) { t.o = o.withDefaults() }

// Update advances the tracker by one frame with its detections and returns the tracks seen in it
// (confirmed, Lost == 0), ordered by ID. The slice is reused by the next Update.
func (t *Tracker) Update(dets []Detection) []Track {
	for _, s := range t.tracks {
		s.kf.predict()
		s.matched = false
		s.Det = -1
	}
	t.used = t.used[:0]
	for range dets {
		t.used = append(t.used, false)
	}
	// First pass: high-score detections with every track, seen or lost.
	t.match(dets, t.o.High, 2, t.o.MatchIoU, false)
	// Second pass: low-score detections with the tracks seen in the previous frame that are
	// still unmatched; a lost track is not revived by a weak detection.
	t.match(dets, t.o.Low, t.o.High, t.o.LowMatchIoU, true)
	// Third pass: what is left, by the distance of the centres.
	if t.o.Jump > 0 {
		t.matchNear(dets)
	}

	kept := t.tracks[:0]
	for _, s := range t.tracks {
		switch {
		case s.matched:
			s.Lost = 0
		case !s.confirmed: // a one-frame sighting not seen again: noise
			t.free = append(t.free, s)
			continue
		default:
			s.Lost++
			if s.Lost > t.o.Buffer {
				t.free = append(t.free, s)
				continue
			}
		}
		kept = append(kept, s)
	}
	clear(t.tracks[len(kept):])
	t.tracks = kept
	for i, d := range dets {
		if t.used[i] || d.Score < t.o.NewTrack {
			continue
		}
		var s *state
		if n := len(t.free); n > 0 {
			s, t.free = t.free[n-1], t.free[:n-1]
			*s = state{}
		} else {
			s = new(state)
		}
		s.ID, s.Label, s.Score, s.Hits, s.Det = t.next, d.Label, d.Score, 1, i
		t.next++
		s.kf.init(d.Box)
		s.Box = d.Box
		t.tracks = append(t.tracks, s)
	}
	t.out = t.out[:0]
	for _, s := range t.tracks {
		if s.confirmed && s.Lost == 0 {
			t.out = append(t.out, s.Track)
		}
	}
	// Tracks are created in ID order and only removed, so t.tracks is sorted by ID already.
	for _, s := range t.tracks {
		if !s.matched {
			s.Box = s.kf.box()
		}
	}
	return t.out
}

// match pairs the unmatched detections scoring in [lo, hi) with the unmatched tracks (only those
// seen in the previous frame when recentOnly) whose predicted box overlaps them by at least
// minIoU, best overlap first.
func (t *Tracker) match(dets []Detection, lo, hi, minIoU float64, recentOnly bool) {
	t.pairs = t.pairs[:0]
	for ti, s := range t.tracks {
		if s.matched || recentOnly && s.Lost > 0 {
			continue
		}
		pb := s.kf.box()
		for di, d := range dets {
			if t.used[di] || d.Score < lo || d.Score >= hi || d.Label != s.Label {
				continue
			}
			if v := box.IoU(pb, d.Box); v >= minIoU {
				t.pairs = append(t.pairs, pair{v, ti, di})
			}
		}
	}
	t.assign(dets)
}

// assign matches the pairs, best (highest iou field) first, each track and detection once.
func (t *Tracker) assign(dets []Detection) {
	slices.SortFunc(t.pairs, func(a, b pair) int {
		if c := cmp.Compare(b.iou, a.iou); c != 0 {
			return c
		}
		if c := cmp.Compare(a.ti, b.ti); c != 0 {
			return c
		}
		return cmp.Compare(a.di, b.di)
	})
	for _, p := range t.pairs {
		s := t.tracks[p.ti]
		if s.matched || t.used[p.di] {
			continue
		}
		d := dets[p.di]
		s.kf.update(d.Box)
		s.Box = s.kf.box()
		s.Score, s.Det = d.Score, p.di
		s.Hits++
		s.matched, s.confirmed = true, true
		t.used[p.di] = true
	}
}

// matchNear pairs the unmatched high-score detections with the unmatched tracks seen in the
// previous frame whose predicted centre is within Jump box heights, nearest first.
func (t *Tracker) matchNear(dets []Detection) {
	t.pairs = t.pairs[:0]
	for ti, s := range t.tracks {
		if s.matched || s.Lost > 0 {
			continue
		}
		pb := s.kf.box()
		h := pb[3] - pb[1]
		if h <= 0 {
			continue
		}
		cx, cy := (pb[0]+pb[2])/2, (pb[1]+pb[3])/2
		for di, d := range dets {
			if t.used[di] || d.Score < t.o.High || d.Label != s.Label {
				continue
			}
			dx, dy := (d.Box[0]+d.Box[2])/2-cx, (d.Box[1]+d.Box[3])/2-cy
			if dist := math.Hypot(dx, dy) / h; dist <= t.o.Jump {
				t.pairs = append(t.pairs, pair{-dist, ti, di}) // nearest sorts first
			}
		}
	}
	t.assign(dets)
}

// Alive is how many tracks the tracker holds, lost ones included: while it is not 0 an object
// may still be in the scene.
func (t *Tracker) Alive() int { return len(t.tracks) }

// All returns every track held (confirmed or not, seen or lost) as of the newest frame, ordered
// by ID, appended to dst.
func (t *Tracker) All(dst []Track) []Track {
	for _, s := range t.tracks {
		dst = append(dst, s.Track)
	}
	return dst
}
