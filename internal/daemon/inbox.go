package daemon

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgecam/edgecam/internal/iothub"
)

// Bounds of what the cloud side may ask of one camera. IoT Hub itself caps a direct method
// payload at 128 KiB and a C2D message at 64 KiB, but a compromised or buggy back end, or
// an emulator, must not be able to make the daemon queue work, goroutines or memory without
// limit: edgecam's commands and writable properties are a few hundred bytes.
const (
	maxCloudMessage  = 64 << 10 // payload bytes of a method, desired patch or C2D message
	inboxSize        = 8        // desired patches and C2D messages waiting for the camera's worker
	maxMethodsAtOnce = 2        // direct methods running at once, per camera
	cloudRate        = 5        // messages per second, sustained, per camera
	cloudBurst       = 20       // messages at once above the rate
)

// inbox runs a camera's desired-property patches and C2D messages one at a time, in order, on
// one goroutine, from a bounded queue; the iothub client's handlers only offer work to it and
// return at once, so the client's own queues never grow. Direct methods, which the hub waits
// for, run on the client's goroutine but at most maxMethodsAtOnce at a time. All three share
// a rate limit. What does not fit is refused, logged and counted.
type inbox struct {
	work    chan func()
	methods chan struct{} // semaphore
	bucket  tokenBucket
	resync  atomic.Bool // a desired patch was dropped: read the whole twin when idle
}

func newInbox() *inbox {
	return &inbox{
		work:    make(chan func(), inboxSize),
		methods: make(chan struct{}, maxMethodsAtOnce),
		bucket:  tokenBucket{rate: cloudRate, burst: cloudBurst},
	}
}

// run executes the queued work until ctx ends; resync is called when a dropped desired
// patch must be made up for by reading the whole twin.
func (b *inbox) run(ctx context.Context, resync func()) {
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-b.work:
			f()
		}
		if len(b.work) == 0 && b.resync.Swap(false) {
			resync()
		}
	}
}

func (b *inbox) offer(f func()) bool {
	select {
	case b.work <- f:
		return true
	default:
		return false
	}
}

// limitCloud wraps the worker's cloud handlers with the inbox's bounds.
func (w *worker) limitCloud(o *iothub.Options) {
	method, desired, c2d := o.Methods, o.Desired, o.C2D
	if method != nil {
		o.Methods = func(ctx context.Context, name string, payload []byte) (int, []byte) {
			if reason := w.refuseCloud("method", len(payload)); reason != "" {
				return 429, jsonBody(map[string]string{"error": reason})
			}
			select {
			case w.inbox.methods <- struct{}{}:
				defer func() { <-w.inbox.methods }()
			default:
				w.dropCloud("method", "busy", "too many commands running at once")
				return 429, jsonBody(map[string]string{"error": fmt.Sprintf("%d commands are running on this camera; try again", maxMethodsAtOnce)})
			}
			return method(ctx, name, payload)
		}
	}
	if desired != nil {
		o.Desired = func(patch []byte, version int64) {
			if w.refuseCloud("desired", len(patch)) == "" {
				if w.inbox.offer(func() { desired(patch, version) }) {
					return
				}
				w.dropCloud("desired", "queue_full", "desired-property patches arrive faster than they are applied")
			}
			// The patch is lost: the whole twin is read once the inbox is idle, so the
			// camera still ends up with the latest desired values.
			w.inbox.resync.Store(true)
			w.inbox.offer(func() {}) // wake the worker if it is idle
		}
	}
	if c2d != nil {
		o.C2D = func(body []byte, props map[string]string) {
			if w.refuseCloud("c2d", len(body)) != "" {
				return
			}
			if !w.inbox.offer(func() { c2d(body, props) }) {
				w.dropCloud("c2d", "queue_full", "cloud-to-device messages arrive faster than they are handled")
			}
		}
	}
}

// refuseCloud applies the size and rate limits to one message; it returns why it is refused,
// or "".
func (w *worker) refuseCloud(kind string, size int) string {
	if size > maxCloudMessage {
		w.dropCloud(kind, "too_large", fmt.Sprintf("%d bytes, more than %d", size, maxCloudMessage))
		return fmt.Sprintf("payload of %d bytes is larger than %d", size, maxCloudMessage)
	}
	if !w.inbox.bucket.take(time.Now()) {
		w.dropCloud(kind, "rate", fmt.Sprintf("more than %d messages per second", cloudRate))
		return fmt.Sprintf("more than %d messages per second; slow down", cloudRate)
	}
	return ""
}

func (w *worker) dropCloud(kind, reason, detail string) {
	w.log.Warn("cloud message refused", "kind", kind, "reason", reason, "detail", detail)
	w.metrics.CloudDropped.WithLabelValues(w.cam.ID, kind, reason).Inc()
}

// resyncTwin reads the whole twin again after a dropped desired patch.
func (w *worker) resyncTwin() {
	if c, _ := w.link.current(); c != nil {
		w.log.Info("reading the whole device twin again: desired-property patches were dropped")
		w.onConnect(c)
	}
}

// tokenBucket allows rate events per second on average and burst at once.
type tokenBucket struct {
	rate, burst float64

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func (b *tokenBucket) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last.IsZero() {
		b.tokens = b.burst
	} else {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
