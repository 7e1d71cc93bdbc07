package daemon

import (
	"context"
	"math/rand/v2"
	"time"
)

// forward delivers queued tallies oldest first, each with its capture time, removing one only
// when the hub acknowledged it. A tally whose acknowledgement was lost is sent again (an
// at-least-once duplicate); none is dropped except by the queue's size bound.
func (w *worker) forward(ctx context.Context) {
	const maxBackoff = time.Minute
	backoff := time.Second
	failing := false
	for ctx.Err() == nil {
		item, ok, err := w.queue.Peek()
		if err != nil {
			w.log.Error("store-and-forward queue unreadable", "err", err)
			sleepCtx(ctx, 5*time.Second)
			continue
		}
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-w.wake:
			}
			continue
		}
		c, changed := w.link.current()
		if c == nil {
			select {
			case <-ctx.Done():
			case <-changed:
			}
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		err = c.SendTelemetry(sctx, item.Body, item.Time, item.Props)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.metrics.SendErrors.WithLabelValues(w.cam.ID).Inc()
			lvl := w.log.Warn
			if failing {
				lvl = w.log.Debug
			}
			lvl("send failed; the tally stays queued", "err", err, "queued", w.queue.Len(), "retryIn", backoff)
			failing = true
			wait := backoff/2 + rand.N(backoff/2+1)
			backoff = min(2*backoff, maxBackoff)
			select {
			case <-ctx.Done():
			case <-changed:
			case <-w.wake: // reconnected, or a new tally: try again now
			case <-time.After(wait):
			}
			continue
		}
		if failing {
			w.log.Info("sending again", "queued", w.queue.Len())
		}
		failing, backoff = false, time.Second
		if err := w.queue.Ack(); err != nil {
			w.log.Error("could not remove a delivered tally from the queue", "err", err)
		}
		w.metrics.Sends.WithLabelValues(w.cam.ID).Inc()
		w.metrics.QueueDepth.WithLabelValues(w.cam.ID).Set(float64(w.queue.Len()))
		w.metrics.QueueBytes.WithLabelValues(w.cam.ID).Set(float64(w.queue.Bytes()))
	}
}

// drain waits up to d for the queue to empty (used at shutdown).
func (w *worker) drain(d time.Duration) {
	deadline := time.Now().Add(d)
	for w.queue.Len() > 0 && time.Now().Before(deadline) {
		// Offline (no client, or one that is reconnecting): the queue stays on disk for the
		// next start rather than holding up the stop.
		if c, _ := w.link.current(); c == nil || !c.Connected() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
