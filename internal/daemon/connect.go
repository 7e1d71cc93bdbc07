package daemon

import "github.com/edgecam/edgecam/internal/iothub"

// onConnect runs after every (re)connect of the camera's hub client. It must not block: the
// client calls it from its connection goroutine.
func (w *worker) onConnect(c *iothub.Client) {
	select { // deliver what queued up while offline, now
	case w.wake <- struct{}{}:
	default:
	}
}
