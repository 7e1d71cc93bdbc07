package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/iothub"
)

func TestParseHubUsername(t *testing.T) {
	u, err := parseHubUsername("hub.example:8883/cam1/?api-version=2021-04-12&model-id=dtmi%3Acom%3Aexample%3ACamera%3B1")
	if err != nil {
		t.Fatal(err)
	}
	if u.host != "hub.example:8883" || u.deviceID != "cam1" || u.apiVersion != "2021-04-12" || u.modelID != "dtmi:com:example:Camera;1" {
		t.Errorf("%+v", u)
	}
	for _, bad := range []string{"", "hub", "/cam1/?api-version=1", "hub//?api-version=1", "hub/cam1/?%zz"} {
		if _, err := parseHubUsername(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseDPSUsername(t *testing.T) {
	u, err := parseDPSUsername("0ne00ABC/registrations/cam1/api-version=2019-03-31&ClientVersion=x")
	if err != nil {
		t.Fatal(err)
	}
	if u.idScope != "0ne00ABC" || u.registrationID != "cam1" || u.apiVersion != "2019-03-31" {
		t.Errorf("%+v", u)
	}
	for _, bad := range []string{"", "0ne00ABC/registrations/cam1", "0ne00ABC/devices/cam1/api-version=1", "/registrations/cam1/api-version=1", "0ne00ABC/registrations//api-version=1"} {
		if _, err := parseDPSUsername(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSASTokenVerify(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	s, err := iothub.SASToken("scope/registrations/cam1", testKey, "registration", exp)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := parseSASToken(s)
	if err != nil {
		t.Fatal(err)
	}
	if tok.resource != "scope/registrations/cam1" || tok.keyName != "registration" || tok.expiry.Unix() != exp.Unix() {
		t.Errorf("%+v", tok)
	}
	now := time.Now()
	if err := tok.verify("scope/registrations/cam1", "registration", now, testKey2, testKey); err != nil {
		t.Errorf("valid token refused: %v", err)
	}
	for name, err := range map[string]error{
		"wrong key":  tok.verify("scope/registrations/cam1", "registration", now, testKey2),
		"not base64": tok.verify("scope/registrations/cam1", "registration", now, "%%%"),
		"wrong sr":   tok.verify("scope/registrations/cam2", "registration", now, testKey),
		"wrong skn":  tok.verify("scope/registrations/cam1", "", now, testKey),
		"expired":    tok.verify("scope/registrations/cam1", "registration", exp.Add(time.Second), testKey),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), testKey) {
			t.Errorf("%s: error shows the key", name)
		}
	}
	for _, bad := range []string{"", "sr=a&sig=b&se=1", "SharedAccessSignature sr=a&sig=b", "SharedAccessSignature sr=a&sig=b&se=soon", "SharedAccessSignature %zz"} {
		if _, err := parseSASToken(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestTopicMatch(t *testing.T) {
	for _, c := range []struct {
		filter, topic string
		want          bool
	}{
		{"$iothub/methods/POST/#", "$iothub/methods/POST/reboot/?$rid=1", true},
		{"$iothub/methods/POST/#", "$iothub/methods/POST", true},
		{"$iothub/twin/res/#", "$iothub/twin/PATCH/properties/desired/?$version=2", false},
		{"devices/cam1/messages/devicebound/#", "devices/cam1/messages/devicebound/%24.mid=1", true},
		{"devices/+/messages/devicebound/#", "devices/cam1/messages/devicebound/", true},
		{"devices/cam1/messages/devicebound/#", "devices/cam2/messages/devicebound/", false},
		{"a/b", "a/b/c", false},
		{"a/b/c", "a/b", false},
	} {
		if got := topicMatch(c.filter, c.topic); got != c.want {
			t.Errorf("topicMatch(%q, %q) = %v", c.filter, c.topic, got)
		}
	}
}

func TestMergePatch(t *testing.T) {
	dst := map[string]any{"a": 1.0, "o": map[string]any{"x": 1.0, "y": 2.0}, "s": "keep"}
	mergePatch(dst, map[string]any{"a": nil, "o": map[string]any{"x": nil, "z": 3.0}, "n": map[string]any{"k": true}, "$version": 9.0})
	if _, ok := dst["a"]; ok {
		t.Error("null did not delete")
	}
	o := dst["o"].(map[string]any)
	if _, ok := o["x"]; ok || o["y"] != 2.0 || o["z"] != 3.0 {
		t.Errorf("nested merge %v", o)
	}
	if dst["s"] != "keep" || dst["n"].(map[string]any)["k"] != true {
		t.Errorf("merge %v", dst)
	}
	if _, ok := dst["$version"]; ok {
		t.Error("$version merged into the properties")
	}
}

// The parsers see whatever a client sends; they must never panic.
func FuzzParseConnect(f *testing.F) {
	f.Add("hub:1/cam1/?api-version=2021-04-12&model-id=dtmi%3Ax%3B1", "SharedAccessSignature sr=hub%3A1%2Fdevices%2Fcam1&sig=abc%3D&se=1")
	f.Add("0ne/registrations/cam1/api-version=2019-03-31", "SharedAccessSignature sr=a&sig=b&se=99&skn=registration")
	f.Fuzz(func(t *testing.T, user, pass string) {
		parseHubUsername(user)
		parseDPSUsername(user)
		if tok, err := parseSASToken(pass); err == nil {
			tok.verify(user, "", time.Unix(0, 0), testKey, "%%")
		}
		topicMatch(user, pass)
		topicQuery(pass)
	})
}

// nodeStyleToken builds a token the way the Node SDK does: sr as given (the SDK passes the hub
// resource already encoded, the DPS one not), signed over exactly that string.
func nodeStyleToken(t *testing.T, sr, key, skn string, se int64) string {
	t.Helper()
	k, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(sr + "\n" + strconv.FormatInt(se, 10)))
	tok := "SharedAccessSignature sr=" + sr + "&sig=" + url.QueryEscape(base64.StdEncoding.EncodeToString(m.Sum(nil))) + "&se=" + strconv.FormatInt(se, 10)
	if skn != "" {
		tok += "&skn=" + skn
	}
	return tok
}

func TestSASTokenEncodings(t *testing.T) {
	se := time.Now().Add(time.Hour).Unix()
	now := time.Now()
	for name, c := range map[string]struct{ token, resource, skn string }{
		"DPS, resource not encoded (Node SDK)": {nodeStyleToken(t, "0ne00ABC/registrations/cam1", testKey, "registration", se), "0ne00ABC/registrations/cam1", "registration"},
		"DPS, resource encoded (C, Python)":    {nodeStyleToken(t, "0ne00ABC%2Fregistrations%2Fcam1", testKey, "registration", se), "0ne00ABC/registrations/cam1", "registration"},
		"hub, resource encoded (Node SDK)":     {nodeStyleToken(t, "127.0.0.1%3A8883%2Fdevices%2Fcam1", testKey, "", se), "127.0.0.1:8883/devices/cam1", ""},
		"hub, resource not encoded":            {nodeStyleToken(t, "127.0.0.1:8883/devices/cam1", testKey, "", se), "127.0.0.1:8883/devices/cam1", ""},
	} {
		tok, err := parseSASToken(c.token)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := tok.verify(c.resource, c.skn, now, testKey); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
		if err := tok.verify(c.resource, c.skn, now, testKey2); err == nil {
			t.Errorf("%s: accepted with the wrong key", name)
		}
	}
}

func TestDeriveDeviceKeyVector(t *testing.T) {
	// The test vector of the DPS symmetric key attestation doc.
	got, err := deriveDeviceKey(groupKey, "sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6")
	if err != nil || got != "Jsm0lyGpjaVYVP2g3FnmnmG9dI/9qU24wNoykUmermc=" {
		t.Fatalf("derived %q, %v", got, err)
	}
}

func TestParseBagPlus(t *testing.T) {
	b, err := parseBag("a=1+1&b=x%20y&%24.ct=application%2Fjson")
	if err != nil || b["a"] != "1+1" || b["b"] != "x y" || b["$.ct"] != "application/json" {
		t.Fatalf("%v %v", b, err)
	}
}
