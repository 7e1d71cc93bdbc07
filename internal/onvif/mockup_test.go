package onvif

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/testfixture"
)

// The replies captured from real cameras in npm onvif@0.8.1's test/serverMockup.
func mockup(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testfixture.ONVIFMockupDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMockupProbeMatches(t *testing.T) {
	b := mockup(t, "Probe.xml")
	b = bytes.ReplaceAll(b, []byte("RELATES_TO"), []byte("urn:uuid:11111111-2222-3333-4444-555555555555"))
	b = bytes.ReplaceAll(b, []byte("SERVICE_URI"), []byte("http://192.168.68.111/onvif/device_service http://[fe80::1]/onvif/device_service"))
	m, err := ParseDiscovery(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != KindProbeMatches || len(m.Matches) != 1 {
		t.Fatalf("kind %s, %d matches; want one ProbeMatch", m.Kind, len(m.Matches))
	}
	if m.RelatesTo != "urn:uuid:11111111-2222-3333-4444-555555555555" {
		t.Errorf("RelatesTo %q", m.RelatesTo)
	}
	pm := m.Matches[0]
	if pm.Endpoint != "uuid:c9790c3a-701b-464d-a189-0060351c8ada" {
		t.Errorf("endpoint %q", pm.Endpoint)
	}
	if NormalizeEndpoint(pm.Endpoint) != NormalizeEndpoint("urn:uuid:C9790C3A-701B-464D-A189-0060351C8ADA") {
		t.Error("uuid: and urn:uuid: forms of one endpoint differ after NormalizeEndpoint")
	}
	if !HasType(pm.Types, TypeNetworkVideoTransmitter) {
		t.Errorf("types %q: no NetworkVideoTransmitter", pm.Types)
	}
	si := ParseScopes(pm.Scopes)
	if si.Name != "PREDATOR" || si.Model != "HD_PREDATOR" {
		t.Errorf("scopes: %+v; want name PREDATOR, model HD_PREDATOR", si)
	}
	d := deviceFrom(pm, []byte{192, 168, 68, 111}, "eth0", false)
	if d.XAddr != "http://192.168.68.111/onvif/device_service" || d.ReportedXAddr != "" {
		t.Errorf("xaddr %q reported %q", d.XAddr, d.ReportedXAddr)
	}
	// Answering from another address than the one it reports: the source wins, and says so.
	d = deviceFrom(pm, []byte{10, 0, 0, 7}, "eth0", false)
	if d.XAddr != "http://10.0.0.7/onvif/device_service" || d.ReportedXAddr != "http://192.168.68.111/onvif/device_service" {
		t.Errorf("from 10.0.0.7: xaddr %q reported %q", d.XAddr, d.ReportedXAddr)
	}
}

func TestMockupSystemDateAndTime(t *testing.T) {
	got, err := ParseSystemDateAndTime(mockup(t, "GetSystemDateAndTime.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2014, 12, 24, 19, 14, 37, 0, time.UTC); !got.Equal(want) {
		t.Errorf("camera time %v, want %v", got, want)
	}
}

func TestMockupDeviceInformation(t *testing.T) {
	var r struct{ DeviceInfo }
	if err := ParseResponse(mockup(t, "GetDeviceInformation.xml"), &r); err != nil {
		t.Fatal(err)
	}
	want := DeviceInfo{Manufacturer: "Mockup Manufacturer", Model: "Mockup Model", FirmwareVersion: "Mockup_15_14_13", SerialNumber: "00000000", HardwareID: "MOCKUP"}
	if r.DeviceInfo != want {
		t.Errorf("%+v\nwant %+v", r.DeviceInfo, want)
	}
}

func TestMockupServicesAndCapabilities(t *testing.T) {
	s, err := ParseServices(mockup(t, "GetServices.xml"))
	if err != nil {
		t.Fatal(err)
	}
	want := Services{Device: "http://192.168.68.111/onvif/services", Media: "http://192.168.68.111/onvif/services"}
	if s != want {
		t.Errorf("GetServices: %+v, want %+v", s, want)
	}
	c, err := ParseCapabilities(mockup(t, "GetCapabilities.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if c != want {
		t.Errorf("GetCapabilities: %+v, want %+v", c, want)
	}
}

func TestMockupProfiles(t *testing.T) {
	ps, err := ParseProfiles(mockup(t, "GetProfiles.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 {
		t.Fatalf("%d profiles: %+v", len(ps), ps)
	}
	want := Profile{Token: "main", Name: "main", Encoding: "H264", Width: 1920, Height: 1080}
	if ps[0] != want {
		t.Errorf("%+v\nwant %+v", ps[0], want)
	}
}

func TestMockupMediaURIs(t *testing.T) {
	u, err := ParseMediaURI(mockup(t, "GetStreamUri.xml"))
	if err != nil || u != "rtsp://192.168.68.111/h264main" {
		t.Errorf("stream URI %q, %v", u, err)
	}
	u, err = ParseMediaURI(mockup(t, "GetSnapshotUri.xml"))
	if err != nil || u != "http://192.168.68.111/onvif-cgi/jpg/image.cgi?resolution=800x600&compression=20&camera=1" {
		t.Errorf("snapshot URI %q, %v", u, err)
	}
}

// Error.xml declares soapenv but writes SOAP-ENV, and its XML declaration has typographic quotes.
func TestMockupFault(t *testing.T) {
	err := ParseResponse(mockup(t, "Error.xml"), nil)
	var f *Fault
	if !errors.As(err, &f) {
		t.Fatalf("got %v, want a *Fault", err)
	}
	if f.Code != "fault code" || len(f.Subcodes) != 2 || f.Subcodes[0] != "ter:fault subcode" || f.Reason != "fault reason" || f.Detail != "fault detail" {
		t.Errorf("fault %+v", f)
	}
	if !strings.Contains(f.Error(), "fault reason") {
		t.Errorf("message %q lacks the reason", f.Error())
	}
}

// Every captured reply parses into an envelope (a body or a fault) without panicking.
func TestMockupAllParse(t *testing.T) {
	dir := testfixture.ONVIFMockupDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	if len(files) < 50 {
		t.Fatalf("%d replies in %s", len(files), dir)
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte("{{")) {
			continue // a template of the package's mock server, not a reply
		}
		err := ParseResponse(b, nil)
		var fault *Fault
		if err != nil && !errors.As(err, &fault) && !strings.Contains(err.Error(), "empty SOAP body") {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
}

// A client against a server answering with the captured replies: Inspect reads the device,
// its services, profiles and both URIs, moves URIs on the camera's reported (stale) address to
// the address it was reached at, and sends a UsernameToken on the camera's clock.
func TestClientInspectMockup(t *testing.T) {
	dir := testfixture.ONVIFMockupDir(t)
	var created []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct := r.Header.Get("Content-Type")
		_, action, _ := strings.Cut(ct, `action="`)
		action = strings.TrimSuffix(action, `"`)
		op := action[strings.LastIndexByte(action, '/')+1:]
		body, _ := io.ReadAll(r.Body)
		if tok, ok := parseTokenForTest(body); ok {
			created = append(created, tok)
		}
		b, err := os.ReadFile(filepath.Join(dir, op+".xml"))
		if err != nil {
			http.Error(w, "no such operation", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/soap+xml")
		w.Write(b)
	}))
	defer srv.Close()
	c := NewClient(srv.URL+"/onvif/device_service", "admin", "s3cret")
	now := time.Date(2014, 12, 24, 19, 4, 37, 0, time.UTC) // 10 minutes behind the camera
	c.now = func() time.Time { return now }
	cam, err := c.Inspect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cam.ClockOffset != 10*time.Minute {
		t.Errorf("clock offset %v, want 10m", cam.ClockOffset)
	}
	if cam.Info.Model != "Mockup Model" {
		t.Errorf("info %+v", cam.Info)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	if cam.Services.Media != "http://"+host+"/onvif/services" {
		t.Errorf("media service %q: want it on %s", cam.Services.Media, host)
	}
	if len(cam.Profiles) != 1 || cam.Profiles[0].StreamURI != "rtsp://"+strings.Split(host, ":")[0]+"/h264main" ||
		!strings.HasPrefix(cam.Profiles[0].SnapshotURI, "http://"+strings.Split(host, ":")[0]+"/onvif-cgi/jpg/image.cgi?") {
		t.Errorf("profiles %+v", cam.Profiles)
	}
	if len(created) == 0 || created[0] != "2014-12-24T19:14:37.000Z" {
		t.Errorf("UsernameToken Created %q: want the camera's time 2014-12-24T19:14:37.000Z", created)
	}
}

func parseTokenForTest(body []byte) (string, bool) {
	_, after, ok := bytes.Cut(body, []byte("<wsu:Created>"))
	if !ok {
		return "", false
	}
	v, _, _ := bytes.Cut(after, []byte("<"))
	return string(v), true
}
