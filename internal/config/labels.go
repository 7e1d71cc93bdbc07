package config

import (
	"strings"

	"github.com/edgecam/edgecam/internal/classes"
)

// ParseLabels parses a comma-separated label list ("person, Bicycle,traffic_light"), as the
// environment and IoT Central's string properties carry it, into the canonical names of set.
// An empty string is an empty list.
func ParseLabels(set classes.Set, s string) ([]string, error) {
	return set.Canonical(splitList(s))
}

// splitList splits a comma-separated list, trimming spaces and dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
