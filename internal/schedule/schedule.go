// Package schedule runs a job on a timer: first after a due time, then every period. A tick
// that finds the previous run still going is skipped, never queued. The timer can be stopped,
// started and re-armed with new times while it runs (IoT Central commands and writable
// properties do that).
package schedule

import (
	"context"
	"sync"
	"time"
)

// Job is the work done on each tick.
type Job func(ctx context.Context)

// Timer calls a Job on a due/period schedule.
type Timer struct {
	job    Job
	onSkip func()

	mu      sync.Mutex
	due     time.Duration
	period  time.Duration
	enabled bool
	rearm   chan struct{}
	busy    sync.Mutex
	running sync.WaitGroup
}

// New returns a stopped-until-Run timer that is enabled: Run starts ticking right away.
// onSkip, if not nil, is called when a tick is skipped because the job is still running.
func New(due, period time.Duration, job Job, onSkip func()) *Timer {
	return &Timer{job: job, onSkip: onSkip, due: due, period: period, enabled: true, rearm: make(chan struct{}, 1)}
}

// Run ticks until ctx ends, then waits for a job in flight to finish.
func (t *Timer) Run(ctx context.Context) {
	defer t.running.Wait()
	for {
		t.mu.Lock()
		due, period, enabled := t.due, t.period, t.enabled
		t.mu.Unlock()
		if !enabled {
			select {
			case <-ctx.Done():
				return
			case <-t.rearm:
				continue
			}
		}
		if !t.tickLoop(ctx, due, period) {
			return
		}
	}
}

// tickLoop ticks at due then every period until re-armed (returns true) or ctx ends (false).
func (t *Timer) tickLoop(ctx context.Context, due, period time.Duration) bool {
	if period <= 0 { // validated by config; never spin or divide by zero
		period = time.Second
	}
	timer := time.NewTimer(due)
	defer timer.Stop()
	next := time.Now().Add(due)
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.rearm:
			return true
		case <-timer.C:
			t.fire(ctx)
			// Keep the period's phase: the next tick is relative to the planned time, not to now.
			next = next.Add(period)
			if now := time.Now(); next.Before(now) {
				next = now.Add(period - now.Sub(next)%period)
			}
			timer.Reset(time.Until(next))
		}
	}
}

// fire runs the job in its own goroutine unless the previous run is still going.
func (t *Timer) fire(ctx context.Context) {
	if !t.busy.TryLock() {
		if t.onSkip != nil {
			t.onSkip()
		}
		return
	}
	t.running.Add(1)
	go func() {
		defer t.running.Done()
		defer t.busy.Unlock()
		t.job(ctx)
	}()
}

// RunNow runs the job at once, in the caller's goroutine, waiting for a run in flight to end
// first (for a "capture now" command). It returns false when ctx ends before that.
func (t *Timer) RunNow(ctx context.Context, job Job) bool {
	for !t.busy.TryLock() {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	defer t.busy.Unlock()
	job(ctx)
	return true
}

// Start enables ticking again (due first, then every period).
func (t *Timer) Start() { t.set(func() { t.enabled = true }) }

// Stop disables ticking until Start; a job in flight finishes.
func (t *Timer) Stop() { t.set(func() { t.enabled = false }) }

// Set changes due and period and re-arms the timer.
func (t *Timer) Set(due, period time.Duration) {
	t.set(func() { t.due, t.period = due, period })
}

// State reports the current settings.
func (t *Timer) State() (due, period time.Duration, enabled bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.due, t.period, t.enabled
}

func (t *Timer) set(f func()) {
	t.mu.Lock()
	f()
	t.mu.Unlock()
	select {
	case t.rearm <- struct{}{}:
	default:
	}
}
