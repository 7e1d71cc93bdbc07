package redact

import (
	"errors"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"http://cam/snap.jpg", "http://cam/snap.jpg"},
		{"http://admin:hunter2@cam/snap.jpg", "http://admin:*****@cam/snap.jpg"},
		{"http://admin@cam/snap.jpg", "http://admin@cam/snap.jpg"},
		{"http://admin:hunter2@cam", "http://admin:*****@cam"},
		{"http://a:p@ss@cam/x", "http://a:*****@cam/x"},
		{"http://cam/snap.jpg?channel=1&pwd=hunter3", "http://cam/snap.jpg?channel=1&pwd=*****"},
		{"http://cam/videostream.cgi?user=admin&PWD=hunter3&rate=0", "http://cam/videostream.cgi?user=*****&PWD=*****&rate=0"},
		{"rtsp://cam:554/user=admin&password=hunter4&channel=1&stream=0.sdp?", "rtsp://cam:554/user=*****&password=*****&channel=1&stream=0.sdp?"},
		{"rtsp://u:hunter5@cam:554/s?token=hunter6", "rtsp://u:*****@cam:554/s?token=*****"},
		{"https://h/p;jsessionid=1;key=hunter7#auth=hunter8", "https://h/p;jsessionid=1;key=*****#auth=*****"},
		{"http://cam/p?sig=a%2Fb&x=1", "http://cam/p?sig=*****&x=1"},
		{"http://cam/p?monkey=1&tokenish=2", "http://cam/p?monkey=1&tokenish=2"},
		{"http://[::1]:80/a?passwd=x", "http://[::1]:80/a?passwd=*****"},
		{"%zz://a:b@c/?pass=q", "%zz://a:*****@c/?pass=*****"}, // unparsable by net/url: still masked
		{"not a url", "not a url"},
		{"/usr/bin/rpicam-still", "/usr/bin/rpicam-still"},
	} {
		if got := URL(tc.in); got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestText(t *testing.T) {
	in := `Get "http://admin:hunter2@cam/snap?pwd=hunter3": dial tcp: refused; see rtsp://u:hunter4@x/s`
	got := Text(in)
	if strings.Contains(got, "hunter") {
		t.Errorf("Text left a secret: %q", got)
	}
	if !strings.Contains(got, "dial tcp: refused") || !strings.Contains(got, "rtsp://u:*****@x/s") {
		t.Errorf("Text changed too much: %q", got)
	}
}

func FuzzURL(f *testing.F) {
	f.Add("http://admin:hunter2@cam/snap.jpg?pwd=hunter3")
	f.Fuzz(func(t *testing.T, s string) {
		out := URL(s)
		if URL(out) != out {
			t.Errorf("not idempotent: %q -> %q -> %q", s, out, URL(out))
		}
	})
}

func TestErrorMasksAndUnwraps(t *testing.T) {
	base := errors.New(`Put "http://127.0.0.1:10000/devstoreaccount1/edgecam/a.jpg?se=2026&sig=c2VjcmV0&sp=cw": connection refused`)
	err := Error(base)
	if strings.Contains(err.Error(), "c2VjcmV0") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Error(err) = %q: want the signature masked, the rest kept", err)
	}
	if !errors.Is(err, base) {
		t.Error("errors.Is no longer finds the wrapped error")
	}
	if Error(nil) != nil {
		t.Error("Error(nil) != nil")
	}
}
