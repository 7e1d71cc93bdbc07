package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/edgecam/edgecam/internal/backoff"
	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/iothub"
)

// link keeps one camera's IoT Hub connection: it resolves the identity (connection string, or
// DPS with a cached assignment), dials, and dials again with backoff until it succeeds. The
// client reconnects by itself after drops; when the hub refuses the identity the link registers
// through DPS again.
type link struct {
	cfg       *config.Config
	cam       config.Camera
	log       *slog.Logger
	onConnect func(*iothub.Client)
	// handlers, when set, adds the method, desired-property and C2D handlers to the options.
	handlers func(*iothub.Options)

	mu      sync.Mutex
	client  *iothub.Client
	changed chan struct{} // closed and replaced whenever client changes
}

func newLink(cfg *config.Config, cam config.Camera, log *slog.Logger, onConnect func(*iothub.Client)) *link {
	return &link{cfg: cfg, cam: cam, log: log, onConnect: onConnect, changed: make(chan struct{})}
}

// current returns the connected client (nil while there is none) and a channel closed when that changes.
func (l *link) current() (*iothub.Client, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.client, l.changed
}

func (l *link) set(c *iothub.Client) {
	l.mu.Lock()
	old := l.client
	l.client = c
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
	if old != nil && old != c {
		old.Close()
	}
}

func (l *link) close() { l.set(nil) }

// Re-provisioning: a camera provisioned through DPS whose assigned hub stays unreachable for
// reprovisionAttempts connects in a row spanning azure.dps.reprovisionAfter registers with DPS
// again, as IoT Central's device implementation guide asks (hubs move, fail over or are
// deleted). A disabled registration (an operator blocked the device) waits maxLinkBackoff.
const (
	reprovisionAttempts = 3
	maxLinkBackoff      = 5 * time.Minute
)

// registrationError marks a dial that failed at DPS rather than at the hub.
type registrationError struct{ err error }

func (e registrationError) Error() string { return "DPS registration: " + e.err.Error() }
func (e registrationError) Unwrap() error { return e.err }

// redial is the link's state between failed dials: the backoff, whether the next dial
// registers with DPS again, and the run of failed hub connects that leads to it.
type redial struct {
	backoff  backoff.Backoff
	force    bool
	failures int
	first    time.Time
}

func newRedial() redial { return redial{backoff: backoff.New(time.Second, maxLinkBackoff)} }

// failed records a failed dial at now and reports whether the hub now counts as gone (the next
// dial registers with DPS again). after is azure.dps.reprovisionAfter (0: never for
// unreachability). The caller waits about backoff and then calls next.
func (r *redial) failed(err error, usesDPS bool, after time.Duration, now time.Time) (hubGone bool) {
	var regErr registrationError
	if !errors.As(err, &regErr) {
		// The dial got past DPS (any forced registration went through) and failed at the hub:
		// register again only when that hub is refused or stays unreachable, not on every retry.
		r.force = false
	}
	switch {
	case errors.Is(err, iothub.ErrRegistrationDisabled):
		r.backoff.SetMax()
	case errors.As(err, &regErr):
		// DPS itself failed (unreachable, throttled past its retry-after): a forced
		// registration stays forced.
	case errors.Is(err, iothub.ErrNotAuthorized) && usesDPS:
		r.force = true
	case usesDPS:
		if r.failures == 0 {
			r.first = now
		}
		r.failures++
		if after > 0 && r.failures >= reprovisionAttempts && now.Sub(r.first) >= after {
			r.force, r.failures = true, 0
			return true
		}
	}
	return false
}

// next returns the jittered wait before the next dial and doubles the backoff.
func (r *redial) next() time.Duration { return r.backoff.Next() }

// run connects and keeps the link up until ctx ends.
func (l *link) run(ctx context.Context) {
	r := newRedial()
	for ctx.Err() == nil {
		c, err := l.dial(ctx, r.force)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			first, attempts := r.first, r.failures+1
			if r.failed(err, l.usesDPS(), l.cfg.Azure.DPS.ReprovisionAfter.Std(), time.Now()) {
				l.log.Warn("assigned IoT hub unreachable; registering with DPS again", "attempts", attempts, "since", time.Since(first).Round(time.Second))
			}
			l.log.Warn("cannot connect to IoT Hub; tallies are queued meanwhile", "err", err, "retryIn", r.backoff.Current())
			sleepCtx(ctx, r.next())
			continue
		}
		r = newRedial()
		l.set(c)
		select {
		case <-ctx.Done():
			return
		case <-c.Done():
			// The hub no longer accepts this identity (device moved, key rotated) or stayed
			// unreachable: with DPS, register again; with a connection string, keep trying with
			// backoff.
			if errors.Is(c.Err(), iothub.ErrUnreachable) {
				l.log.Warn("assigned IoT hub unreachable; registering with DPS again", "err", c.Err())
			} else {
				l.log.Warn("IoT Hub refused the device identity; connecting from scratch", "err", c.Err())
			}
			l.set(nil)
			r.force = l.usesDPS()
		}
	}
}

func (l *link) usesDPS() bool { return l.cfg.Azure.ConnectionString == "" }

// dial resolves the identity and connects once.
func (l *link) dial(ctx context.Context, forceRegister bool) (*iothub.Client, error) {
	az := l.cfg.Azure
	var client *iothub.Client
	ready := make(chan struct{})
	opts := iothub.Options{
		ModelID:   az.ModelID,
		CAFile:    az.CAFile,
		Transport: iothub.Transport(az.Transport),
		Logger:    l.log,
		OnConnect: func() {
			<-ready // OnConnect may run before Dial returns the client
			if l.onConnect != nil {
				l.onConnect(client)
			}
		},
	}
	if l.handlers != nil {
		l.handlers(&opts)
	}
	if az.ConnectionString != "" {
		cs, err := iothub.ParseConnectionString(az.ConnectionString)
		if err != nil {
			return nil, fmt.Errorf("azure.connectionString: %w", err)
		}
		opts.Host, opts.DeviceID, opts.ModuleID = cs.HostName, cs.DeviceID, cs.ModuleID
		opts.Key, opts.KeyName, opts.Gateway = cs.SharedAccessKey, cs.SharedAccessKeyName, cs.GatewayHostName
		if opts.DeviceID == "" {
			opts.DeviceID = l.cam.ID
		}
		if opts.ModuleID != "" {
			// Modules have no cloud-to-device messages (IoT Hub refuses the subscription);
			// direct methods and the twin work as for devices.
			opts.C2D = nil
		}
	} else {
		// The camera's own key first (no group key on the device), then the one individual
		// enrollment's, else derived from the group key.
		key := l.cam.DeviceKey
		if key == "" {
			key = az.DPS.DeviceKey
		}
		if key == "" {
			k, err := iothub.DeriveDeviceKey(az.DPS.GroupEnrollmentKey, l.cam.ID)
			if err != nil {
				return nil, fmt.Errorf("azure.dps.groupEnrollmentKey: %w", err)
			}
			key = k
		}
		a, err := iothub.RegisterCached(ctx, iothub.DPSOptions{
			GlobalEndpoint: az.DPS.GlobalEndpoint,
			IDScope:        az.DPS.IDScope,
			RegistrationID: l.cam.ID,
			Key:            key,
			ModelID:        az.ModelID,
			CAFile:         az.CAFile,
			Transport:      iothub.Transport(az.Transport),
			Logger:         l.log,
		}, filepath.Join(l.cfg.State.Dir, "dps"), forceRegister)
		if err != nil {
			return nil, registrationError{err}
		}
		opts.Host, opts.DeviceID, opts.Key = a.AssignedHub, a.DeviceID, key
		opts.UnreachableAfter, opts.UnreachableAttempts = az.DPS.ReprovisionAfter.Std(), reprovisionAttempts
	}
	c, err := iothub.Dial(ctx, opts)
	if err != nil {
		close(ready)
		return nil, err
	}
	client = c
	close(ready)
	return c, nil
}
