package iothub

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"
)

func TestTelemetryBag(t *testing.T) {
	created := time.Date(2026, 11, 23, 14, 5, 6, 789_654_321, time.FixedZone("CET", 3600))
	bag, err := telemetryBag(created, map[string]string{"camera": "front door", "a&b": "x=y/z", "ü": "ö"})
	if err != nil {
		t.Fatal(err)
	}
	want := "$.ct=application%2Fjson&$.ce=utf-8&iothub-creation-time-utc=2026-11-23T13%3A05%3A06.789Z" +
		"&a%26b=x%3Dy%2Fz&camera=front%20door&%C3%BC=%C3%B6"
	if bag != want {
		t.Fatalf("bag\n got %s\nwant %s", bag, want)
	}
	got, err := parseBag(bag)
	if err != nil {
		t.Fatal(err)
	}
	if got["iothub-creation-time-utc"] != "2026-11-23T13:05:06.789Z" || got["a&b"] != "x=y/z" || got["camera"] != "front door" || got["$.ct"] != "application/json" {
		t.Fatalf("round trip %v", got)
	}
	if bag, _ := telemetryBag(time.Time{}, nil); bag != "$.ct=application%2Fjson&$.ce=utf-8" {
		t.Fatalf("no time: %s", bag)
	}
	for _, k := range []string{"$.ct", "iothub-creation-time-utc", "IoTHub-x", ""} {
		if _, err := telemetryBag(created, map[string]string{k: "v"}); err == nil {
			t.Errorf("reserved property %q accepted", k)
		}
	}
}

// The message-id is the same for the same message and differs when anything in it does.
func TestMessageID(t *testing.T) {
	created := time.Date(2026, 12, 7, 4, 5, 6, 789_000_000, time.UTC)
	bag, _ := telemetryBag(created, map[string]string{"camera": "door"})
	body := []byte(`{"person":2}`)
	id := messageID(bag, body)
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Fatalf("id %q: want 32 hex digits", id)
	}
	if again := messageID(bag, append([]byte(nil), body...)); again != id {
		t.Errorf("the same message: %s, then %s", id, again)
	}
	later, _ := telemetryBag(created.Add(time.Millisecond), map[string]string{"camera": "door"})
	other, _ := telemetryBag(created, map[string]string{"camera": "gate"})
	for what, got := range map[string]string{
		"another body":         messageID(bag, []byte(`{"person":3}`)),
		"another capture time": messageID(later, body),
		"another property":     messageID(other, body),
		"body moved into bag":  messageID(bag+`{"person":2}`, nil),
	} {
		if got == id {
			t.Errorf("%s: the same id %s", what, id)
		}
	}
}

func TestParseMethodTopic(t *testing.T) {
	m, err := parseMethodTopic("$iothub/methods/POST/camera*snapshot/?$rid=42")
	if err != nil || m.name != "camera*snapshot" || m.rid != "42" {
		t.Fatalf("%+v %v", m, err)
	}
	for _, bad := range []string{
		"$iothub/methods/POST//?$rid=1", "$iothub/methods/POST/x/?", "$iothub/methods/POST/x/y/?$rid=1",
		"$iothub/twin/res/200/?$rid=1", "$iothub/methods/POST/x/?$rid=%zz",
	} {
		if _, err := parseMethodTopic(bad); !errors.Is(err, errBadTopic) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestParseResponseTopic(t *testing.T) {
	r, err := parseResponseTopic("$iothub/twin/res/204/?$rid=7&$version=12", twinResPrefix)
	if err != nil || r.status != 204 || r.rid != "7" || r.version != 12 {
		t.Fatalf("%+v %v", r, err)
	}
	r, err = parseResponseTopic("$dps/registrations/res/202/?$rid=3&retry-after=2", dpsResPrefix)
	if err != nil || r.status != 202 || r.rid != "3" || r.retryAfter != 2*time.Second {
		t.Fatalf("%+v %v", r, err)
	}
	for _, bad := range []string{
		"$iothub/twin/res/abc/?$rid=1", "$iothub/twin/res/200/", "$iothub/twin/res/200/?$rid=1&$version=x",
		"$dps/registrations/res/200/?$rid=1", "$iothub/twin/res/20/?$rid=1",
	} {
		if _, err := parseResponseTopic(bad, twinResPrefix); !errors.Is(err, errBadTopic) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := parseResponseTopic("$dps/registrations/res/429/?$rid=1&retry-after=-1", dpsResPrefix); err == nil {
		t.Error("negative retry-after accepted")
	}
}

func TestParseDesiredAndC2DTopics(t *testing.T) {
	v, err := parseDesiredTopic("$iothub/twin/PATCH/properties/desired/?$version=5")
	if err != nil || v != 5 {
		t.Fatalf("%d %v", v, err)
	}
	if _, err := parseDesiredTopic("$iothub/twin/PATCH/properties/desired/"); err == nil {
		t.Fatal("no version accepted")
	}
	props, err := parseC2DTopic("devices/cam1/messages/devicebound/%24.mid=abc&%24.to=%2Fdevices%2Fcam1%2Fmessages%2Fdevicebound&colour=dark%20red", "cam1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"$.mid": "abc", "$.to": "/devices/cam1/messages/devicebound", "colour": "dark red"}
	if !maps.Equal(props, want) {
		t.Fatalf("%v", props)
	}
	if _, err := parseC2DTopic("devices/other/messages/devicebound/", "cam1"); err == nil {
		t.Fatal("another device's topic accepted")
	}
}

func FuzzTopics(f *testing.F) {
	for _, s := range []string{
		"$iothub/methods/POST/reboot/?$rid=1", "$iothub/twin/res/200/?$rid=2&$version=3",
		"$iothub/twin/PATCH/properties/desired/?$version=4", "$dps/registrations/res/202/?$rid=5&retry-after=3",
		"devices/cam1/messages/devicebound/a=b&c", "$iothub/methods/POST/%/?$rid=%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		if m, err := parseMethodTopic(topic); err == nil && (m.name == "" || m.rid == "") {
			t.Fatalf("method without name or rid: %q", topic)
		}
		for _, p := range []string{twinResPrefix, dpsResPrefix} {
			if r, err := parseResponseTopic(topic, p); err == nil && (r.rid == "" || r.status < 100 || r.retryAfter < 0) {
				t.Fatalf("bad response %+v from %q", r, topic)
			}
		}
		parseDesiredTopic(topic)
		parseC2DTopic(topic, "cam1")
		if strings.HasPrefix(topic, "?") {
			return
		}
		// Encoding then decoding a bag gives the properties back.
		props := map[string]string{"k": topic, topic + "x": "v"}
		bag, err := telemetryBag(time.Unix(0, 0), props)
		if err != nil {
			return // reserved name
		}
		got, err := parseBag(bag)
		if err != nil {
			t.Fatalf("parse of encoded bag %q: %v", bag, err)
		}
		for k, v := range props {
			if got[k] != v {
				t.Fatalf("property %q: got %q want %q (bag %q)", k, got[k], v, bag)
			}
		}
	})
}

func BenchmarkTelemetryBag(b *testing.B) {
	created := time.Now()
	props := map[string]string{"camera": "front door", "model": "yolov5n"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := telemetryBag(created, props); err != nil {
			b.Fatal(err)
		}
	}
}

func TestParseBagKeepsPlus(t *testing.T) {
	got, err := parseBag("a=1+1&b=x%20y&c=%2B")
	if err != nil || got["a"] != "1+1" || got["b"] != "x y" || got["c"] != "+" {
		t.Fatalf("%v %v", got, err)
	}
}
