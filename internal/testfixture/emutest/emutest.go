// Package emutest starts the IoT Hub/DPS emulator for a test: TLS on free loopback ports, its
// state in the test's temporary folder, closed with the test. Only tests import it.
package emutest

import (
	"context"
	"log/slog"
	"os"
	"testing"

	"github.com/edgecam/edgecam/internal/emulator"
)

// Start starts the emulator with cfg (StateDir defaults to a temporary folder; the logger is
// quiet unless the test runs with -v) and closes it when the test ends.
func Start(t testing.TB, cfg emulator.Config) *emulator.Emulator {
	t.Helper()
	if cfg.StateDir == "" {
		cfg.StateDir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
		if testing.Verbose() {
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
		}
	}
	e, err := emulator.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start the emulator: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// StartWithGroup starts the emulator with one DPS group enrollment.
func StartWithGroup(t testing.TB, name, key string) *emulator.Emulator {
	t.Helper()
	return Start(t, emulator.Config{DPS: emulator.DPSConfig{Groups: []emulator.Group{{Name: name, Key: key}}}})
}
