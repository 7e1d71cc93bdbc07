package tally

import (
	"log/slog"
	"slices"
)

// LogBody is a tally body for logging: a slog.LogValuer that renders the counts as a group,
// sorted by label, so a text log reads `tally.bus=1 tally.person=3` and a JSON log holds the
// object {"bus":1,"person":3} rather than Go's map[bus:1 person:3] text. The group is built
// only when the record is logged.
type LogBody map[string]int

// LogValue implements slog.LogValuer.
func (b LogBody) LogValue() slog.Value {
	if len(b) == 0 {
		// slog drops an empty group; an empty struct keeps the key: {} in JSON and in text.
		return slog.AnyValue(struct{}{})
	}
	attrs := make([]slog.Attr, 0, len(b))
	for label, n := range b {
		attrs = append(attrs, slog.Int(label, n))
	}
	slices.SortFunc(attrs, func(x, y slog.Attr) int {
		switch {
		case x.Key < y.Key:
			return -1
		case x.Key > y.Key:
			return 1
		}
		return 0
	})
	return slog.GroupValue(attrs...)
}
