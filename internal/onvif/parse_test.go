package onvif

import (
	"strings"
	"testing"
	"time"
)

func TestParseScopes(t *testing.T) {
	si := ParseScopes([]string{
		"onvif://www.onvif.org/type/video_encoder",
		"onvif://www.onvif.org/name/Front%20door",
		"ONVIF://www.onvif.org/hardware/DS-2CD2043G2-I",
		"onvif://www.onvif.org/MfrName/HIKVISION",
		"onvif://www.onvif.org/location/city/Oslo",
		"http://example.com/name/not-onvif",
	})
	want := ScopeInfo{Name: "Front door", Manufacturer: "HIKVISION", Model: "DS-2CD2043G2-I", Location: "city/Oslo"}
	if si != want {
		t.Errorf("%+v\nwant %+v", si, want)
	}
}

func TestChooseXAddr(t *testing.T) {
	for _, tc := range []struct {
		xaddrs              []string
		src, want, reported string
	}{
		{[]string{"http://10.0.0.5/onvif/device_service"}, "10.0.0.5", "http://10.0.0.5/onvif/device_service", ""},
		{[]string{"http://[fe80::1]/d", "http://10.0.0.5:8000/d"}, "10.0.0.5", "http://10.0.0.5:8000/d", ""},
		{[]string{"http://[fe80::1]/d", "http://192.168.1.5:8000/d"}, "10.0.0.5", "http://10.0.0.5:8000/d", "http://192.168.1.5:8000/d"},
		{[]string{"urn:x", "ftp://10.0.0.5/"}, "10.0.0.5", "", ""},
		{nil, "10.0.0.5", "", ""},
	} {
		got, rep := chooseXAddr(tc.xaddrs, tc.src)
		if got != tc.want || rep != tc.reported {
			t.Errorf("%q from %s: %q, %q; want %q, %q", tc.xaddrs, tc.src, got, rep, tc.want, tc.reported)
		}
	}
}

func TestEndpointForms(t *testing.T) {
	const u = "5f5a69c2-e0ae-504f-829b-00ae5e0ebf0e"
	for _, s := range []string{u, "uuid:" + u, "urn:uuid:" + strings.ToUpper(u), " urn:uuid:" + u + " "} {
		if NormalizeEndpoint(s) != u || EndpointURN(s) != "urn:uuid:"+u {
			t.Errorf("%q: %q, %q", s, NormalizeEndpoint(s), EndpointURN(s))
		}
	}
	if EndpointURN("http://host/ep") != "http://host/ep" {
		t.Error("a non-UUID endpoint is changed")
	}
	if !isUUID(NewUUID()) {
		t.Error("NewUUID is not a UUID")
	}
}

func TestPickProfile(t *testing.T) {
	ps := []Profile{
		{Token: "a", Name: "4k", Width: 3840, Height: 2160, SnapshotURI: "http://x/a"},
		{Token: "b", Name: "hd", Width: 1280, Height: 720, StreamURI: "rtsp://x/b"},
		{Token: "c", Name: "sub", Width: 640, Height: 360, SnapshotURI: "http://x/c", StreamURI: "rtsp://x/c"},
	}
	for _, tc := range []struct {
		name         string
		snap, stream bool
		want         string
	}{
		{"", false, false, "hd"},
		{"", true, false, "4k"},
		{"", false, true, "hd"},
		{"SUB", true, false, "sub"},
		{"b", false, true, "hd"},
		{"hd", true, false, ""},
	} {
		p, ok := PickProfile(ps, tc.name, tc.snap, tc.stream)
		if p.Name != tc.want || ok != (tc.want != "") {
			t.Errorf("%q snap %v stream %v: %q %v, want %q", tc.name, tc.snap, tc.stream, p.Name, ok, tc.want)
		}
	}
}

// The token's digest is the WS-Security one (the expected value computed apart, with Python's
// hashlib: base64(SHA-1(nonce + created + password))), and Verify accepts it only with the right
// password and within the allowed skew.
func TestUsernameToken(t *testing.T) {
	if d := PasswordDigest([]byte("nonce"), "2014-12-24T19:14:37.000Z", "pw"); d != "PA2IHhR1nHwDZ/GI9AjFTh+EwLM=" {
		t.Errorf("digest %s", d)
	}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	tok := NewUsernameToken("admin", "pw", now)
	if tok.Created != "2026-12-06T12:00:00.000Z" || len(tok.Nonce) != 24 {
		t.Errorf("token %+v", tok)
	}
	if err := tok.Verify("admin", "pw", now.Add(time.Second), 5*time.Second); err != nil {
		t.Error(err)
	}
	if err := tok.Verify("admin", "other", now, 5*time.Second); err == nil || strings.Contains(err.Error(), "other") {
		t.Errorf("wrong password: %v", err)
	}
	if err := tok.Verify("admin", "pw", now.Add(time.Minute), 5*time.Second); err == nil {
		t.Error("a token a minute old passed a 5 s skew")
	}
	other := NewUsernameToken("admin", "pw", now)
	if other.Nonce == tok.Nonce {
		t.Error("two tokens share a nonce")
	}
	req, err := ParseRequest(Envelope(&tok, `<trt:GetSnapshotUri xmlns:trt="`+NSMedia+`"><trt:ProfileToken>p1</trt:ProfileToken></trt:GetSnapshotUri>`))
	if err != nil || req.Operation != "GetSnapshotUri" || req.ProfileToken != "p1" || req.Token == nil || *req.Token != tok {
		t.Errorf("request %+v %v", req, err)
	}
}
