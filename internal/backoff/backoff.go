// Package backoff is edgecam's one retry delay: exponential, with full-range jitter in the upper
// half ([d/2, d]) so that cameras that failed together do not retry in step. The IoT Hub client's
// reconnects, the daemon's links and the spool forwarders (tallies, images) all use it.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff is the state of one retry loop. The zero value is not usable: make one with New.
type Backoff struct {
	min, max, cur time.Duration
}

// New returns a backoff starting at first and doubling up to most.
func New(first, most time.Duration) Backoff {
	first = max(first, time.Millisecond)
	most = max(most, first)
	return Backoff{min: first, max: most, cur: first}
}

// Next returns the jittered wait before the next attempt, in [d/2, d] for the current delay d,
// and doubles the delay (up to the maximum).
func (b *Backoff) Next() time.Duration {
	d := b.cur
	b.cur = min(2*b.cur, b.max)
	return d/2 + rand.N(d/2+1)
}

// Current is the delay the next call to Next draws from (for logs: "retryIn").
func (b *Backoff) Current() time.Duration { return b.cur }

// Reset starts over from the first delay, after a success.
func (b *Backoff) Reset() { b.cur = b.min }

// SetMax raises the current delay to the maximum (e.g. a refusal that will not clear soon).
func (b *Backoff) SetMax() { b.cur = b.max }
