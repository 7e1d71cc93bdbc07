package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/onvif/onviftest"
)

// discover against a camera on loopback (a directed probe): the table, then with a username
// the profiles and a cameras: block that names the camera by its endpoint and the password by
// its variable.
func TestDiscoverCommand(t *testing.T) {
	cam := onviftest.StartT(t, onviftest.Options{Name: "Front door", Manufacturer: "ACME", Model: "X1", Username: "admin", Password: "pw-secret",
		StreamURI: "rtsp://127.0.0.1:8554/cam", Snapshot: []byte{0xFF, 0xD8}})
	ctx := context.Background()
	o := &discoverOptions{timeout: time.Second, target: cam.DiscoveryAddr()}
	var out, errOut bytes.Buffer
	if err := runDiscover(ctx, &out, &errOut, o, ""); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ADDRESS", "127.0.0.1", cam.Endpoint(), "ACME", "X1", "Front door", cam.XAddr()} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	o.username = "admin"
	if err := runDiscover(ctx, &out, &errOut, o, "pw-secret"); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"profile main (token profile_main): 1920x1080 H264", "stream   rtsp://127.0.0.1:8554/cam",
		"cameras:\n", "  - id: front-door\n    type: http\n    username: \"admin\"\n    onvif: {endpoint: \"" + cam.Endpoint() + "\", profile: \"main\"}\n",
		"EDGECAM_CAMERAS__FRONT_DOOR__PASSWORD="} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "pw-secret") {
		t.Errorf("output holds the password:\n%s", s)
	}

	out.Reset()
	o.json, o.stream, o.profile = true, true, "sub"
	if err := runDiscover(ctx, &out, &errOut, o, "pw-secret"); err != nil {
		t.Fatal(err)
	}
	var d discovered
	if err := json.Unmarshal(out.Bytes(), &d); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if d.Endpoint != cam.Endpoint() || len(d.Profiles) != 2 || !strings.Contains(d.YAML, "type: rtsp") || !strings.Contains(d.YAML, `profile: "sub"`) {
		t.Errorf("json %+v", d)
	}

	// A wrong password: the camera is listed with a clear error, the command fails, and no
	// password is printed.
	out.Reset()
	o.json = false
	err := runDiscover(ctx, &out, &errOut, o, "Wr0ng-pw")
	if err == nil || !strings.Contains(out.String(), "refused the username or password") || strings.Contains(out.String(), "Wr0ng-pw") {
		t.Errorf("wrong password: %v\n%s", err, out.String())
	}
}

// A camera that reports another address than the one it answers from: a note, and the source.
func TestDiscoverStaleAddress(t *testing.T) {
	cam := onviftest.StartT(t, onviftest.Options{ReportedIP: "192.0.2.10"})
	var out, errOut bytes.Buffer
	if err := runDiscover(context.Background(), &out, &errOut, &discoverOptions{timeout: time.Second, target: cam.DiscoveryAddr()}, ""); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.Contains(s, "note: "+cam.Endpoint()+" reports its service at "+cam.XAddr()+" but answered from 127.0.0.1; using 127.0.0.1") ||
		!strings.Contains(s, "http://127.0.0.1:") {
		t.Errorf("output:\n%s", s)
	}
}

// The password comes from the environment or a terminal; without either the error says what to set.
func TestDiscoverPassword(t *testing.T) {
	t.Setenv(envCameraPassword, "from-env")
	if pw, err := cameraPassword(strings.NewReader(""), io.Discard, "admin"); err != nil || pw != "from-env" {
		t.Errorf("%q, %v", pw, err)
	}
	os.Unsetenv(envCameraPassword)
	_, err := cameraPassword(strings.NewReader("typed\n"), io.Discard, "admin")
	if err == nil || !strings.Contains(err.Error(), envCameraPassword) {
		t.Errorf("no terminal: %v", err)
	}
	f, err := os.Open(os.DevNull) // a file, not a terminal
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := cameraPassword(f, io.Discard, "admin"); err == nil || !strings.Contains(err.Error(), "not a terminal") {
		t.Errorf("/dev/null: %v", err)
	}
}
