package daemon

import (
	"context"
	"time"

	"github.com/edgecam/edgecam/internal/spool"
)

// forward delivers queued tallies oldest first, each with its capture time, removing one only
// when the hub acknowledged it (spool.Forwarder). A tally whose acknowledgement was lost is sent
// again (an at-least-once duplicate); none is dropped except by the queue's size bound.
func (w *worker) forward(ctx context.Context) {
	f := &spool.Forwarder{
		Spool: w.queue.Spool,
		Target: func() (spool.Send, <-chan struct{}) {
			c, changed := w.link.current()
			if c == nil {
				return nil, changed
			}
			return func(ctx context.Context, it spool.Item) error {
				sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
				defer cancel()
				return c.SendTelemetry(sctx, it.Data, it.Time, it.Meta)
			}, changed
		},
		Wake: w.wake, // reconnected, or a new tally: try again now
		Max:  time.Minute,
		After: func(_ spool.Item, err error) {
			if err != nil {
				if ctx.Err() == nil {
					w.metrics.SendErrors.WithLabelValues(w.cam.ID).Inc()
				}
				return
			}
			w.metrics.Sends.WithLabelValues(w.cam.ID).Inc()
			w.metrics.QueueDepth.WithLabelValues(w.cam.ID).Set(float64(w.queue.Len()))
			w.metrics.QueueBytes.WithLabelValues(w.cam.ID).Set(float64(w.queue.Bytes()))
		},
		Failed:  "send failed; the tally stays queued",
		Resumed: "sending again",
		Log:     w.log,
	}
	f.Run(ctx)
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
