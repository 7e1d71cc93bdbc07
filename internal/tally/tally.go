// Package tally turns a frame's predictions into the telemetry body edgecam sends: predictions
// at or above the score threshold are counted per label, the tally is sent only when a label of
// interest was seen, and the minimum labels are padded with 0 so dashboards get continuous lines.
//
// The package knows nothing of the detector: it takes Prediction values (label and score), so it
// stays free of cgo and fast to test.
package tally

import (
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/edgecam/edgecam/internal/coco"
)

// Prediction is one detection: its class label and its confidence score in [0,1].
type Prediction struct {
	Label string
	Score float64
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
}

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

// Tally counts preds with the rules' threshold and applies the rules: the whole tick in one call.
func (r Rules) Tally(preds []Prediction) (body map[string]int, send bool) {
	return r.Apply(Count(preds, r.Threshold))
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
