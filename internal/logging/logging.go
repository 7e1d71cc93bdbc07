// Package logging sets up log/slog for edgecam's commands from the --log-format and --log-level
// flags, the same way in the device binary and in edgecam-emulator.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Setup makes slog's default logger write to w in format ("text" or "json") from level
// ("debug", "info", "warn" or "error") up.
func Setup(w io.Writer, format, level string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	var h slog.Handler
	switch strings.ToLower(format) {
	case "text", "":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return fmt.Errorf("--log-format %q: use text or json", format)
	}
	slog.SetDefault(slog.New(h))
	return nil
}
