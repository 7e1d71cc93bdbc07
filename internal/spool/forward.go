package spool

import (
	"context"
	"log/slog"
	"time"

	"github.com/edgecam/edgecam/internal/backoff"
)

// Send delivers one item; nil means delivered.
type Send func(ctx context.Context, it Item) error

// Forwarder is the one store-and-forward loop: it sends a spool's items oldest first, removing
// each only once delivered, and retries with a jittered backoff while delivery fails. An item
// whose acknowledgement was lost is sent again (at least once); none is dropped except by the
// spool's bounds.
type Forwarder struct {
	Spool *Spool
	// Target returns the current sender (nil while there is none, e.g. offline) and a channel
	// that is closed when it changes.
	Target func() (Send, <-chan struct{})
	// Wake, when set, ends a wait at once (a reconnect, a new item).
	Wake <-chan struct{}
	// First and Max bound the backoff between failed attempts (defaults 1 s and 1 min).
	First, Max time.Duration
	// Delivered tells whether an attempt that returned err delivered the item (a stored image
	// whose notification failed); nil means err == nil.
	Delivered func(err error) bool
	// After, when set, is called after every attempt, once a delivered item is removed
	// (metrics).
	After func(it Item, err error)
	// Failed is the warning logged when an attempt fails ("send failed; the tally stays
	// queued"); repeated failures log at debug level until one succeeds. Resumed is logged then.
	Failed, Resumed string
	Log             *slog.Logger
}

// Run forwards until ctx ends.
func (f *Forwarder) Run(ctx context.Context) {
	log := f.Log
	if log == nil {
		log = slog.Default()
	}
	bo := backoff.New(cmpOr(f.First, time.Second), cmpOr(f.Max, time.Minute))
	failing := false
	for ctx.Err() == nil {
		it, ok, err := f.Spool.Peek()
		if err != nil {
			log.Error(f.Spool.opts.Name+" unreadable", "err", err)
			sleep(ctx, 5*time.Second)
			continue
		}
		if !ok {
			select {
			case <-ctx.Done():
			case <-f.Spool.Ready():
			case <-f.Wake:
			}
			continue
		}
		send, changed := f.Target()
		if send == nil {
			select {
			case <-ctx.Done():
			case <-changed:
			}
			continue
		}
		err = send(ctx, it)
		if f.Delivered != nil && f.Delivered(err) || f.Delivered == nil && err == nil {
			if failing {
				log.Info(f.Resumed, "waiting", f.Spool.Len()-1)
			}
			failing = false
			bo.Reset()
			if err := f.Spool.Ack(it.Seq); err != nil {
				log.Error("could not remove a delivered "+f.Spool.opts.What+" from the "+f.Spool.opts.Name, "err", err)
			}
			f.after(it, err)
			continue
		}
		f.after(it, err)
		if ctx.Err() != nil {
			return
		}
		lvl := log.Warn
		if failing {
			lvl = log.Debug
		}
		lvl(f.Failed, "err", err, "waiting", f.Spool.Len(), "waitingBytes", f.Spool.Bytes(), "retryIn", bo.Current())
		failing = true
		t := time.NewTimer(bo.Next())
		select {
		case <-ctx.Done():
		case <-changed:
		case <-f.Wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (f *Forwarder) after(it Item, err error) {
	if f.After != nil {
		f.After(it, err)
	}
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
