package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/edgecam/edgecam/internal/classes"
)

// FormatFilters writes per-label filters in the one-line form IoT Central's string property
// carries, labels sorted: "bus: minScore=0.6; person: minArea=0.01, maxArea=0.5". ParseFilters
// reads it back.
func FormatFilters(filters map[string]Filter) string {
	labels := make([]string, 0, len(filters))
	for l := range filters {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	parts := make([]string, 0, len(labels))
	for _, l := range labels {
		f := filters[l]
		var kv []string
		for _, e := range []struct {
			k string
			v float64
		}{{"minScore", f.MinScore}, {"minArea", f.MinArea}, {"maxArea", f.MaxArea}} {
			if e.v != 0 {
				kv = append(kv, e.k+"="+strconv.FormatFloat(e.v, 'g', -1, 64))
			}
		}
		parts = append(parts, l+": "+strings.Join(kv, ", "))
	}
	return strings.Join(parts, "; ")
}

// ParseFilters reads per-label filters written as FormatFilters writes them ("" is no filter),
// checks them like detection.filters and returns them keyed by canonical label.
func ParseFilters(set classes.Set, s string) (map[string]Filter, error) {
	filters := map[string]Filter{}
	for _, item := range strings.Split(s, ";") {
		if strings.TrimSpace(item) == "" {
			continue
		}
		label, rest, ok := strings.Cut(item, ":")
		label = strings.TrimSpace(label)
		if !ok || label == "" {
			return nil, fmt.Errorf("%q: write label: key=value, ... (e.g. \"bus: minScore=0.6; person: minArea=0.01\")", strings.TrimSpace(item))
		}
		var f Filter
		for _, kv := range strings.Split(rest, ",") {
			if strings.TrimSpace(kv) == "" {
				continue
			}
			k, v, ok := strings.Cut(kv, "=")
			k = strings.TrimSpace(k)
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if !ok || err != nil {
				return nil, fmt.Errorf("%s: %q is not key=number (keys: minScore, minArea, maxArea)", label, strings.TrimSpace(kv))
			}
			switch strings.ToLower(k) {
			case "minscore":
				f.MinScore = n
			case "minarea":
				f.MinArea = n
			case "maxarea":
				f.MaxArea = n
			default:
				return nil, fmt.Errorf("%s: unknown key %q (keys: minScore, minArea, maxArea)", label, k)
			}
		}
		if _, dup := filters[label]; dup {
			return nil, fmt.Errorf("%s appears twice", label)
		}
		filters[label] = f
	}
	out, err := NormalizeFilters(set, filters)
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if out == nil {
		out = map[string]Filter{}
	}
	return out, nil
}
