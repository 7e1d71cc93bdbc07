package onvif

import (
	"context"
	"fmt"
	"strings"
)

// Kinds of media URI Resolve returns.
const (
	Snapshot = "snapshot"
	Stream   = "stream"
)

// ResolveOptions says which camera, profile and URI Resolve looks for.
type ResolveOptions struct {
	// Endpoint is the camera's endpoint reference (urn:uuid:...).
	Endpoint string
	// Profile is the media profile's name or token; empty picks one by resolution (PickProfile).
	Profile string
	// Kind is Snapshot or Stream.
	Kind string
	// Username and Password for the ONVIF services.
	Username, Password string
	// Discover says where to look and for how long.
	Discover DiscoverOptions
}

// Resolved is where a camera is now and the URI of the wanted profile.
type Resolved struct {
	Device  Device
	Profile Profile
	// URI is the profile's snapshot or stream URI.
	URI string
}

// Resolve finds the camera by its endpoint reference with WS-Discovery, then asks it for the
// profile's snapshot or stream URI.
func Resolve(ctx context.Context, o ResolveOptions) (*Resolved, error) {
	dev, err := Find(ctx, o.Endpoint, o.Discover)
	if err != nil {
		return nil, err
	}
	return ResolveAt(ctx, *dev, o)
}

// ResolveAt asks the device found by discovery for the profile's snapshot or stream URI.
func ResolveAt(ctx context.Context, dev Device, o ResolveOptions) (*Resolved, error) {
	c := NewClient(dev.XAddr, o.Username, o.Password)
	// A camera that will not tell its time gets tokens on our clock: most accept them.
	_, _ = c.SyncClock(ctx)
	svc, err := c.Services(ctx)
	if err != nil {
		return nil, err
	}
	ps, err := c.Profiles(ctx, svc.Media)
	if err != nil {
		return nil, err
	}
	var p Profile
	if o.Profile != "" {
		found := false
		for _, q := range ps {
			if strings.EqualFold(q.Name, o.Profile) || strings.EqualFold(q.Token, o.Profile) {
				p, found = q, true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("onvif: camera %s at %s has no profile %q (it has %s)", o.Endpoint, dev.XAddr, o.Profile, profileNames(ps))
		}
	} else {
		p, _ = PickProfile(ps, "", false, false)
	}
	var uri string
	if o.Kind == Stream {
		uri, err = c.StreamURI(ctx, svc.Media, p.Token)
	} else {
		uri, err = c.SnapshotURI(ctx, svc.Media, p.Token)
	}
	if err != nil {
		return nil, err
	}
	p.StreamURI, p.SnapshotURI = "", ""
	return &Resolved{Device: dev, Profile: p, URI: c.onOurHost(uri)}, nil
}

func profileNames(ps []Profile) string {
	var names []string
	for _, p := range ps {
		names = append(names, fmt.Sprintf("%q", p.Name))
	}
	return strings.Join(names, ", ")
}
