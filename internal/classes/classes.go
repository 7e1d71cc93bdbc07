// Package classes is the set of class names a model predicts, in model index order, and the
// name rules edgecam applies to them: case-insensitive lookup that also accepts the DTDL-safe
// spelling ("traffic_light"), and "did you mean" suggestions. COCO-80 is the default set; a
// custom-trained model brings its own (see FromModel).
package classes

import (
	"errors"
	"fmt"
	"strings"

	"github.com/edgecam/edgecam/internal/coco"
	"github.com/edgecam/edgecam/internal/suggest"
)

// Set is an ordered list of class names. The zero value is the COCO-80 set.
type Set struct {
	names  []string
	source string
}

// COCO returns the default set, the 80 COCO classes YOLOv5's released weights predict.
func COCO() Set { return Set{} }

// New returns the set of names (in model index order), saying where they came from (for
// messages, e.g. "labels file models/forklift.labels").
func New(names []string, source string) Set {
	return Set{names: append([]string(nil), names...), source: source}
}

// Names returns the class names in model index order. The slice must not be modified.
func (s Set) Names() []string {
	if s.names == nil {
		return coco.Names[:]
	}
	return s.names
}

// IsCOCO reports whether s is the default COCO-80 set.
func (s Set) IsCOCO() bool { return s.names == nil }

// Source says where the names came from: "COCO-80" for the default set.
func (s Set) Source() string {
	if s.names == nil {
		return "COCO-80"
	}
	return s.source
}

// Lookup finds a label case-insensitively, also accepting its DTDL-safe form ("traffic_light");
// it returns the canonical name.
func (s Set) Lookup(label string) (string, bool) {
	want := normalize(label)
	for _, n := range s.Names() {
		if normalize(n) == want {
			return n, true
		}
	}
	return "", false
}

// Suggest returns the name closest to label by edit distance, for "did you mean" hints.
func (s Set) Suggest(label string) string {
	want := normalize(label)
	best, bestD := "", -1
	for _, n := range s.Names() {
		if d := suggest.Distance(want, normalize(n)); bestD < 0 || d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// Canonical maps labels onto their canonical names (see Lookup), in the given order and without
// duplicates. Every unknown label is reported, each with the closest name.
func (s Set) Canonical(labels []string) ([]string, error) {
	out := make([]string, 0, len(labels))
	var errs []error
	for _, l := range labels {
		name, err := s.canonical(l)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !contains(out, name) {
			out = append(out, name)
		}
	}
	return out, errors.Join(errs...)
}

func (s Set) canonical(l string) (string, error) {
	if strings.TrimSpace(l) == "" {
		return "", errors.New("empty label")
	}
	if name, ok := s.Lookup(l); ok {
		return name, nil
	}
	if s.IsCOCO() {
		return "", fmt.Errorf("unknown label %q (did you mean %q?)", l, s.Suggest(l))
	}
	return "", fmt.Errorf("unknown label %q for this model (did you mean %q? its classes, from %s: %s)",
		l, s.Suggest(l), s.source, summary(s.names))
}

// summary lists up to 10 names.
func summary(names []string) string {
	if len(names) <= 10 {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:10], ", ") + fmt.Sprintf(", … (%d in all)", len(names))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func normalize(s string) string {
	return strings.ToLower(strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '_' || r == '-' }), " "))
}
