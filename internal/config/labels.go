package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/edgecam/edgecam/internal/coco"
)

// ParseLabels parses a comma-separated label list ("person, Bicycle,traffic_light"), as the
// environment and IoT Central's string properties carry it, into canonical COCO names.
// An empty string is an empty list.
func ParseLabels(s string) ([]string, error) {
	return CanonicalLabels(splitList(s))
}

// CanonicalLabels maps labels case-insensitively (also accepting DTDL-safe forms such as
// "traffic_light") onto their canonical COCO names, in the given order and without duplicates.
// Every unknown label is reported, each with the closest COCO name.
func CanonicalLabels(labels []string) ([]string, error) {
	out := make([]string, 0, len(labels))
	var errs []error
	for _, l := range labels {
		name, err := canonicalLabel(l)
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

func canonicalLabel(l string) (string, error) {
	if strings.TrimSpace(l) == "" {
		return "", errors.New("empty label")
	}
	if name, ok := coco.Lookup(l); ok {
		return name, nil
	}
	return "", fmt.Errorf("unknown label %q (did you mean %q?)", l, coco.Suggest(l))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
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
