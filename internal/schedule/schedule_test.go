package schedule

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTicksSkipsWhileBusyAndStops(t *testing.T) {
	var runs, skips atomic.Int32
	release := make(chan struct{})
	tm := New(time.Millisecond, 5*time.Millisecond, func(ctx context.Context) {
		if runs.Add(1) == 1 {
			<-release // the first run is slow: later ticks are skipped, not queued
		}
	}, func() { skips.Add(1) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tm.Run(ctx); close(done) }()

	waitFor(t, "skips while the first run is busy", func() bool { return skips.Load() >= 3 })
	if runs.Load() != 1 {
		t.Fatalf("runs = %d while busy, want 1", runs.Load())
	}
	close(release)
	waitFor(t, "more runs", func() bool { return runs.Load() >= 3 })

	tm.Stop()
	time.Sleep(20 * time.Millisecond) // let a run in flight end
	stopped := runs.Load()
	time.Sleep(50 * time.Millisecond)
	if got := runs.Load(); got != stopped {
		t.Fatalf("%d runs after Stop", got-stopped)
	}
	if _, _, enabled := tm.State(); enabled {
		t.Fatal("State says enabled after Stop")
	}
	tm.Start()
	waitFor(t, "runs after Start", func() bool { return runs.Load() > stopped })

	tm.Set(time.Hour, time.Hour)
	if due, period, _ := tm.State(); due != time.Hour || period != time.Hour {
		t.Fatalf("State after Set = %v %v", due, period)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestRunNowWaitsForTheRunInFlight(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	tm := New(0, time.Hour, func(ctx context.Context) { close(started); <-release }, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go tm.Run(ctx)
	<-started
	var ran atomic.Bool
	done := make(chan bool)
	go func() { done <- tm.RunNow(ctx, func(context.Context) { ran.Store(true) }) }()
	time.Sleep(30 * time.Millisecond)
	if ran.Load() {
		t.Fatal("RunNow ran while the tick was still running")
	}
	close(release)
	if !<-done || !ran.Load() {
		t.Fatal("RunNow did not run")
	}
	short, cancelShort := context.WithCancel(context.Background())
	cancelShort()
	if tm.busy.TryLock() {
		defer tm.busy.Unlock()
		if tm.RunNow(short, func(context.Context) {}) {
			t.Fatal("RunNow ran with a cancelled context while busy")
		}
	}
}
