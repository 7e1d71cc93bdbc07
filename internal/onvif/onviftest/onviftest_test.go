package onviftest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/onvif"
	"github.com/edgecam/edgecam/internal/onvif/onviftest"
)

// A directed probe on loopback finds the camera, and the client reads everything from it with
// a WS-UsernameToken on the camera's clock (8 minutes ahead of ours).
func TestDiscoverAndInspect(t *testing.T) {
	cam := onviftest.StartT(t, onviftest.Options{Name: "Front door", Manufacturer: "ACME", Model: "X 1", Username: "admin", Password: "pw-1234",
		StreamURI: "rtsp://127.0.0.1:8554/cam", Snapshot: []byte{0xFF, 0xD8, 0xFF, 0xD9}, ClockOffset: 8 * time.Minute})
	ctx := context.Background()
	devs, err := onvif.Discover(ctx, onvif.DiscoverOptions{Target: cam.DiscoveryAddr(), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 {
		t.Fatalf("%d devices: %+v", len(devs), devs)
	}
	d := devs[0]
	if d.Endpoint != cam.Endpoint() || d.XAddr != cam.XAddr() || d.Name != "Front door" || d.Manufacturer != "ACME" || d.Model != "X 1" || d.Address != "127.0.0.1" {
		t.Errorf("device %+v", d)
	}
	c := onvif.NewClient(d.XAddr, "admin", "pw-1234")
	info, err := c.Inspect(ctx)
	if err != nil {
		t.Fatalf("%v (camera log %q)", err, cam.Log())
	}
	if info.ClockOffset < 7*time.Minute || info.ClockOffset > 9*time.Minute {
		t.Errorf("clock offset %v, want about 8m", info.ClockOffset)
	}
	if len(info.Profiles) != 2 || info.Profiles[0].StreamURI != "rtsp://127.0.0.1:8554/cam" || !strings.HasSuffix(info.Profiles[1].SnapshotURI, "/snapshot/profile_sub.jpg") {
		t.Errorf("profiles %+v, problems %q", info.Profiles, info.Problems)
	}
	p, _ := onvif.PickProfile(info.Profiles, "", true, false)
	if p.Name != "main" {
		t.Errorf("picked %q, want main (the smallest at least 1280x720)", p.Name)
	}

	r, err := onvif.Resolve(ctx, onvif.ResolveOptions{Endpoint: strings.ToUpper(strings.TrimPrefix(cam.Endpoint(), "urn:")), Profile: "sub", Kind: onvif.Snapshot,
		Username: "admin", Password: "pw-1234", Discover: onvif.DiscoverOptions{Target: cam.DiscoveryAddr(), Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(r.URI, "/snapshot/profile_sub.jpg") {
		t.Errorf("resolved %+v", r)
	}
}

// A wrong password is ErrUnauthorized with a message that says what to check and holds no password.
func TestWrongPassword(t *testing.T) {
	for _, digest := range []bool{false, true} {
		cam := onviftest.StartT(t, onviftest.Options{Username: "admin", Password: "right-one", HTTPDigest: digest})
		c := onvif.NewClient(cam.XAddr(), "admin", "Wr0ngPassw0rd")
		_, err := c.Inspect(context.Background())
		if !errors.Is(err, onvif.ErrUnauthorized) {
			t.Fatalf("digest %v: %v, want ErrUnauthorized", digest, err)
		}
		msg := err.Error()
		if strings.Contains(msg, "Wr0ngPassw0rd") || strings.Contains(msg, "right-one") || !strings.Contains(msg, "username and password") {
			t.Errorf("digest %v: %s", digest, msg)
		}
		t.Logf("HTTP digest %v: %s", digest, msg)
	}
}

// With HTTP Digest instead of a UsernameToken the client answers the 401 challenge.
func TestHTTPDigest(t *testing.T) {
	cam := onviftest.StartT(t, onviftest.Options{Username: "admin", Password: "pw", HTTPDigest: true})
	c := onvif.NewClient(cam.XAddr(), "admin", "pw")
	if _, err := c.Inspect(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A camera reporting a stale address in its XAddrs: the device is used at the address it
// answered from, and the report is kept to be shown.
func TestStaleXAddr(t *testing.T) {
	cam := onviftest.StartT(t, onviftest.Options{ReportedIP: "192.0.2.10"})
	devs, err := onvif.Discover(context.Background(), onvif.DiscoverOptions{Target: cam.DiscoveryAddr(), Timeout: 500 * time.Millisecond})
	if err != nil || len(devs) != 1 {
		t.Fatal(devs, err)
	}
	d := devs[0]
	if !strings.HasPrefix(d.XAddr, "http://127.0.0.1:") || !strings.HasPrefix(d.ReportedXAddr, "http://192.0.2.10:") {
		t.Errorf("xaddr %q reported %q", d.XAddr, d.ReportedXAddr)
	}
	cam2, err := onvif.NewClient(d.XAddr, "", "").Inspect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cam2.Services.Media, "http://127.0.0.1:") || !strings.HasPrefix(cam2.Profiles[0].SnapshotURI, "http://127.0.0.1:") {
		t.Errorf("services %+v profiles %+v", cam2.Services, cam2.Profiles)
	}
}
