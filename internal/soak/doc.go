// Package soak holds `make soak`: the built daemon run for a long time (default 10 minutes,
// SOAK_SECONDS) against the emulator with a file, an HTTP, an RTSP and a marked-up file camera at a
// short period, sampled from /proc and its metrics endpoint. It prints RSS at start and end, the RSS
// slope per 1000 ticks after the warm-up, CPU per tick, idle CPU, fds, goroutines and threads.
//
// It is a test behind the `soak` build tag (go test -tags soak ./internal/soak/), so `make test`
// never runs it: it measures and reports, it does not pass or fail on a figure.
package soak
