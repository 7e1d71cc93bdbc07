package camera

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/onvif"
	"github.com/edgecam/edgecam/internal/redact"
)

const (
	// onvifFindTimeout is how long one search for the camera listens for its answer.
	onvifFindTimeout = 2 * time.Second
	// onvifResolveEvery is the least time between two searches after failed captures, so a
	// camera that is down costs at most one probe per this period.
	onvifResolveEvery = 5 * time.Second
	// onvifResolveTimeout bounds one search plus the SOAP requests that follow it.
	onvifResolveTimeout = 15 * time.Second
)

// onvifDiscover is where cameras are searched for (tests send directed probes instead). The
// probe's answers are enough: searches repeat while the camera is missing, and the discovery
// port stays to whatever else listens there.
var onvifDiscover = onvif.DiscoverOptions{Timeout: onvifFindTimeout, NoHello: true}

// onvifSource is an http or rtsp camera named by its ONVIF endpoint (config onvif:) instead of a
// URL: it is looked for with WS-Discovery when the source is built (and at a capture while not
// found) and asked for the profile's snapshot or stream URI; a failed capture searches again (at most every onvifResolveEvery), and when the
// camera answers from another address the source is rebuilt on the new URI.
type onvifSource struct {
	cam  config.Camera // with URL empty; the inner source gets the resolved one
	kind string        // onvif.Snapshot or onvif.Stream

	life context.Context // ends at Close
	stop context.CancelFunc

	mu          sync.Mutex // held for a whole capture
	inner       Source
	uri         string
	addr        string
	lastResolve time.Time
}

var _ io.Closer = (*onvifSource)(nil)

func newONVIF(c config.Camera) (*onvifSource, error) {
	if c.ONVIF == nil || c.ONVIF.Endpoint == "" {
		return nil, fmt.Errorf("camera %s: onvif needs endpoint (the camera's urn:uuid:..., from edgecam discover)", c.ID)
	}
	if c.URL != "" {
		return nil, fmt.Errorf("camera %s: set url or onvif, not both", c.ID)
	}
	kind := onvif.Snapshot
	if c.Type == config.TypeRTSP {
		kind = onvif.Stream
	} else if c.Type != config.TypeHTTP {
		return nil, fmt.Errorf("camera %s: onvif works with type http (snapshots) or rtsp (the stream), not %s", c.ID, c.Type)
	}
	s := &onvifSource{cam: c, kind: kind}
	s.life, s.stop = context.WithCancel(context.Background())
	go s.prime()
	return s, nil
}

// prime looks for the camera at once, so that it is found (and logged) at start rather than at
// the first tick; a camera not found yet is looked for again at the first capture.
func (s *onvifSource) prime() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inner != nil || s.life.Err() != nil {
		return
	}
	if err := s.resolve(s.life); err != nil && s.life.Err() == nil {
		slog.Warn("ONVIF camera not found yet; looking again at the next capture", "camera", s.cam.ID, "err", err)
	}
}

func (s *onvifSource) Capture(ctx context.Context) (*Frame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.life.Err() != nil {
		return nil, fmt.Errorf("camera %s: closed", s.cam.ID)
	}
	if s.inner == nil {
		if err := s.resolve(ctx); err != nil {
			return nil, err
		}
	}
	f, err := s.inner.Capture(ctx)
	if err == nil {
		return f, nil
	}
	if time.Since(s.lastResolve) < onvifResolveEvery {
		return nil, err
	}
	// The camera may have moved (a new DHCP lease): look for it by its endpoint.
	old := s.uri
	if rerr := s.resolve(ctx); rerr != nil {
		return nil, fmt.Errorf("%w; and searching for it again: %v", err, rerr)
	}
	if s.uri == old {
		return nil, err // still where it was: it is down, not moved
	}
	return s.inner.Capture(ctx)
}

// resolve finds the camera and (re)builds the inner source when its URI changed.
func (s *onvifSource) resolve(ctx context.Context) error {
	s.lastResolve = time.Now()
	rctx, cancel := context.WithTimeout(ctx, onvifResolveTimeout)
	defer cancel()
	o := s.cam.ONVIF
	r, err := onvif.Resolve(rctx, onvif.ResolveOptions{
		Endpoint: o.Endpoint, Profile: o.Profile, Kind: s.kind,
		Username: s.cam.Username, Password: s.cam.Password, Discover: onvifDiscover,
	})
	if err != nil {
		return fmt.Errorf("camera %s: %w", s.cam.ID, err)
	}
	if r.URI == s.uri && s.inner != nil {
		return nil
	}
	c := s.cam
	c.ONVIF, c.URL = nil, r.URI
	inner, err := New(c)
	if err != nil {
		return fmt.Errorf("camera %s: the URI camera %s gave: %w", s.cam.ID, o.Endpoint, err)
	}
	if s.inner == nil {
		slog.Info("ONVIF camera found", "camera", s.cam.ID, "endpoint", o.Endpoint, "address", r.Device.Address,
			"profile", r.Profile.Name, "url", redact.URL(r.URI))
	} else {
		slog.Warn("ONVIF camera moved: using its new address", "camera", s.cam.ID, "endpoint", o.Endpoint,
			"from", s.addr, "to", r.Device.Address, "url", redact.URL(r.URI), "oldUrl", redact.URL(s.uri))
		Close(s.inner)
	}
	s.inner, s.uri, s.addr = inner, r.URI, r.Device.Address
	return nil
}

func (s *onvifSource) Close() error {
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inner == nil {
		return nil
	}
	err := Close(s.inner)
	s.inner = nil
	return err
}
