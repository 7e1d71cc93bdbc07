// Package tally turns a frame's predictions into the telemetry body edgecam sends: predictions
// at or above the score threshold (or their label's own filter), and whose anchor is outside
// every mask, are counted per label for the frame and for each zone they are in; the tally is
// sent only when a label of interest was seen in the frame, and the minimum labels are padded
// with 0 so dashboards get continuous lines. A zone's counts are keyed "<zone>_<label>".
//
// The package knows nothing of the detector: it takes Prediction values (label, score and box
// in fractions of the frame), so it stays free of cgo and fast to test.
package tally

import (
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/edgecam/edgecam/internal/coco"
	"github.com/edgecam/edgecam/internal/zone"
)

// Prediction is one detection: its class label, its confidence score in [0,1] and its box.
type Prediction struct {
	Label string
	Score float64
	// Box is x1, y1, x2, y2 in fractions of the frame's width and height (0..1). Zones, masks
	// and area filters use it; without them it may stay zero.
	Box [4]float64
}

// Filter is one label's own acceptance rule, applied before counting.
type Filter struct {
	// MinScore replaces Rules.Threshold for this label when > 0 (it may be lower or higher).
	MinScore float64
	// MinArea and MaxArea bound the box's area in fractions of the frame (1 = the whole frame);
	// MaxArea 0 means no upper bound.
	MinArea, MaxArea float64
}

// Zone is a region of the frame with its own tally.
type Zone struct {
	// Name prefixes the zone's keys: "<Name>_<label>".
	Name    string
	Polygon zone.Polygon
	// Anchor is the point of a box that must be inside Polygon.
	Anchor zone.Anchor
	// Labels, when set, are the only labels counted in the zone, and those padded with 0 in its
	// tally; when empty every label is counted and Rules.Minimum is padded.
	Labels []string
}

// Mask is a region whose objects are ignored everywhere (frame and zones).
type Mask struct {
	Polygon zone.Polygon
	Anchor  zone.Anchor
}

// Count counts the predictions with Score >= threshold per label into a new map.
func Count(preds []Prediction, threshold float64) map[string]int {
	return CountInto(make(map[string]int), preds, threshold)
}

// CountInto is Count into counts, which is cleared first and returned; reusing one map across
// frames makes counting allocation-free.
func CountInto(counts map[string]int, preds []Prediction, threshold float64) map[string]int {
	clear(counts)
	for _, p := range preds {
		if p.Score >= threshold {
			counts[p.Label]++
		}
	}
	return counts
}

// Rules decide whether a tally is sent and what its body holds.
type Rules struct {
	// Threshold is the minimum score of a counted prediction (used by Tally).
	Threshold float64
	// Interest: the tally is sent only when one of these labels was counted (compared
	// case-insensitively). Empty means every label is of interest and every tally is sent, even
	// one with nothing in it, as the original application did when the list was missing: the body
	// then holds the Minimum labels with 0, a steady heartbeat for dashboards.
	Interest []string
	// Minimum labels are added with a count of 0 when they were not seen.
	Minimum []string
	// SafeNames writes the DTDL-safe names ("traffic_light") as keys instead of the COCO names
	// ("traffic light"); edgecam does this when a DTDL model ID is announced.
	SafeNames bool
	// Filters are per-label rules (by canonical label), applied by Keep.
	Filters map[string]Filter
	// Masks drop the predictions anchored in them, before counting.
	Masks []Mask
	// Zones get their own counts in the body (see Counter).
	Zones []Zone
}

// Keep reports whether a prediction is counted: its score reaches its label's MinScore (or the
// Threshold), its box area is within its label's bounds, and its anchor is in no mask.
func (r Rules) Keep(p Prediction) bool {
	why, _ := r.check(p)
	return why == kept
}

type dropReason int

const (
	kept dropReason = iota
	lowScore
	smallArea
	largeArea
	masked
)

// check says whether p is kept, or why not (with the limit it failed, or the mask's index).
func (r Rules) check(p Prediction) (dropReason, float64) {
	f, ok := r.Filters[p.Label]
	min := r.Threshold
	if ok && f.MinScore > 0 {
		min = f.MinScore
	}
	if !(p.Score >= min) {
		return lowScore, min
	}
	if ok && (f.MinArea > 0 || f.MaxArea > 0) {
		a := Area(p.Box)
		if a < f.MinArea {
			return smallArea, f.MinArea
		}
		if f.MaxArea > 0 && a > f.MaxArea {
			return largeArea, f.MaxArea
		}
	}
	for i, m := range r.Masks {
		if m.Polygon.Contains(m.Anchor.Of(p.Box)) {
			return masked, float64(i)
		}
	}
	return kept, 0
}

// Area is a box's area in fractions of the frame.
func Area(box [4]float64) float64 { return max(0, box[2]-box[0]) * max(0, box[3]-box[1]) }

// Dropped says why Keep drops p ("score 0.53 < 0.6", "in mask 0", ...), or "" when it keeps it;
// for people checking a configuration (edgecam detect).
func (r Rules) Dropped(p Prediction) string {
	why, v := r.check(p)
	switch why {
	case lowScore:
		return fmt.Sprintf("score %.2f < %g", p.Score, v)
	case smallArea:
		return fmt.Sprintf("area %.3f < %g", Area(p.Box), v)
	case largeArea:
		return fmt.Sprintf("area %.3f > %g", Area(p.Box), v)
	case masked:
		return fmt.Sprintf("in mask %d", int(v))
	}
	return ""
}

// Holds reports whether zone z counts p: its label is one of the zone's (or the zone has none)
// and its anchor is inside the polygon. It does not apply the Rules' filters and masks.
func (z *Zone) Holds(p Prediction) bool {
	return z.counts(p.Label) && z.Polygon.Contains(z.Anchor.Of(p.Box))
}

// counts reports whether zone z counts label.
func (z *Zone) counts(label string) bool {
	if len(z.Labels) == 0 {
		return true
	}
	for _, l := range z.Labels {
		if sameLabel(l, label) {
			return true
		}
	}
	return false
}

// Counter tallies frames under Rules, reusing its maps and zone keys so that steady-state
// counting allocates nothing. The zero value is ready; a Counter is not safe for concurrent use.
type Counter struct {
	frame map[string]int
	zones []map[string]int
	keys  map[zoneLabel]string
}

type zoneLabel struct {
	zone, label string
	safe        bool
}

// TallyInto counts preds under r (Keep, then the frame and every zone the prediction's anchor is
// in), writes the body into body (cleared first) and reports whether it should be sent: as
// ApplyInto for the frame's counts, plus for each zone its counts as "<zone>_<label>", padded
// with 0 for the zone's Labels, or else r.Minimum.
func (c *Counter) TallyInto(r Rules, body map[string]int, preds []Prediction) (send bool) {
	if c.frame == nil {
		c.frame, c.keys = map[string]int{}, map[zoneLabel]string{}
	}
	clear(c.frame)
	for len(c.zones) < len(r.Zones) {
		c.zones = append(c.zones, map[string]int{})
	}
	for i := range r.Zones {
		clear(c.zones[i])
	}
	for _, p := range preds {
		if !r.Keep(p) {
			continue
		}
		c.frame[p.Label]++
		for i := range r.Zones {
			if r.Zones[i].Holds(p) {
				c.zones[i][p.Label]++
			}
		}
	}
	if !r.ApplyInto(body, c.frame) {
		return false
	}
	for i := range r.Zones {
		z := &r.Zones[i]
		for label, n := range c.zones[i] {
			body[c.key(r, z.Name, label)] += n
		}
		pad := z.Labels
		if len(pad) == 0 {
			pad = r.Minimum
		}
		for _, label := range pad {
			k := c.key(r, z.Name, label)
			if _, seen := body[k]; !seen {
				body[k] = 0
			}
		}
	}
	return true
}

// key returns "<zone>_<label key>", cached.
func (c *Counter) key(r Rules, zoneName, label string) string {
	zl := zoneLabel{zoneName, label, r.SafeNames}
	if k, ok := c.keys[zl]; ok {
		return k
	}
	k := ZoneKey(zoneName, r.key(label))
	c.keys[zl] = k
	return k
}

// ZoneKey is the body key of a label counted in a zone: "<zone>_<label>".
func ZoneKey(zoneName, labelKey string) string { return zoneName + "_" + labelKey }

// Apply builds the body for counts (label -> count, as from Count) and reports whether it
// should be sent. counts is not modified.
func (r Rules) Apply(counts map[string]int) (body map[string]int, send bool) {
	body = make(map[string]int, len(counts)+len(r.Minimum))
	return body, r.ApplyInto(body, counts)
}

// ApplyInto is Apply writing into body, which is cleared first; reusing one map across frames
// makes it allocation-free.
func (r Rules) ApplyInto(body, counts map[string]int) (send bool) {
	clear(body)
	if !r.interesting(counts) {
		return false
	}
	for label, n := range counts {
		body[r.key(label)] += n
	}
	for _, label := range r.Minimum {
		k := r.key(label)
		if _, seen := body[k]; !seen {
			body[k] = 0
		}
	}
	return true
}

// Tally counts preds under the rules and applies them: the whole tick in one call (see
// Counter.TallyInto).
func (r Rules) Tally(preds []Prediction) (body map[string]int, send bool) {
	var c Counter
	body = map[string]int{}
	return body, c.TallyInto(r, body, preds)
}

func (r Rules) interesting(counts map[string]int) bool {
	if len(r.Interest) == 0 {
		return true
	}
	for label, n := range counts {
		if n <= 0 {
			continue
		}
		for _, want := range r.Interest {
			if sameLabel(label, want) {
				return true
			}
		}
	}
	return false
}

// sameLabel compares labels ASCII-case-insensitively, taking ' ' and '_' as equal, so that
// "traffic_light" matches "Traffic Light".
func sameLabel(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := lower(a[i]), lower(b[i])
		if x == '_' {
			x = ' '
		}
		if y == '_' {
			y = ' '
		}
		if x != y {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// safeNames caches the DTDL-safe name of every COCO label, so keying a body allocates nothing.
var safeNames = func() map[string]string {
	m := make(map[string]string, len(coco.Names))
	for _, n := range coco.Names {
		m[n] = coco.SafeName(n)
	}
	return m
}()

func (r Rules) key(label string) string {
	if !r.SafeNames {
		return label
	}
	if s, ok := safeNames[label]; ok {
		return s
	}
	return coco.SafeName(label)
}

// Marshal renders a body as flat JSON with sorted keys: {"bicycle":0,"bus":1,"person":3}.
func Marshal(body map[string]int) []byte {
	var e Encoder
	return slices.Clone(e.Encode(body))
}

// Encoder renders bodies like Marshal, reusing its buffers: after the first few bodies it
// allocates nothing. The zero value is ready to use; an Encoder is not safe for concurrent use.
type Encoder struct {
	keys []string
	buf  []byte
}

// Encode returns the JSON of body. The slice is valid until the next call to Encode.
func (e *Encoder) Encode(body map[string]int) []byte {
	e.keys = e.keys[:0]
	for k := range body {
		e.keys = append(e.keys, k)
	}
	slices.Sort(e.keys)
	b := append(e.buf[:0], '{')
	for i, k := range e.keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(body[k]), 10)
	}
	b = append(b, '}')
	e.buf = b
	return b
}

// appendString appends s as a JSON string. Labels are plain text, but quotes, backslashes and
// control characters are escaped, and invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}
