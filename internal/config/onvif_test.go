package config

import (
	"strings"
	"testing"
)

const onvifYAML = baseYAML + `  - id: door
    type: http
    username: admin
    onvif: {endpoint: " urn:uuid:5f5a69c2-e0ae-504f-829b-00ae5e0ebf0e ", profile: main}
`

func TestONVIFCamera(t *testing.T) {
	f := newFixture(t)
	cfg, err := f.load(t, onvifYAML, "EDGECAM_CAMERAS__DOOR__PASSWORD=pw", "EDGECAM_CAMERAS__DOOR__ONVIF__PROFILE=sub")
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Cameras[1]
	if c.ONVIF == nil || c.ONVIF.Endpoint != "urn:uuid:5f5a69c2-e0ae-504f-829b-00ae5e0ebf0e" || c.ONVIF.Profile != "sub" || c.Password != "pw" {
		t.Errorf("camera %+v onvif %+v", c, c.ONVIF)
	}
	for _, tc := range []struct{ yaml, want string }{
		{strings.Replace(onvifYAML, "type: http", "type: rtsp", 1), ""},
		{strings.Replace(onvifYAML, `" urn:uuid:5f5a69c2-e0ae-504f-829b-00ae5e0ebf0e "`, `""`, 1), "cameras[1].onvif.endpoint: missing"},
		{strings.Replace(onvifYAML, "    username: admin\n", "    url: http://10.0.0.1/a.jpg\n", 1), "cameras[1].url: set url or onvif, not both"},
		{strings.Replace(onvifYAML, "type: http", "type: file\n    path: IMAGE", 1), "cameras[1].onvif: only http (snapshot) and rtsp (stream) cameras"},
		{strings.Replace(onvifYAML, "profile: main", "profil: main", 1), "profil"},
	} {
		_, err := f.load(t, tc.yaml)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%v", err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}
