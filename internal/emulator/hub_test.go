package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgecam/edgecam/internal/iothub"
	"github.com/edgecam/edgecam/internal/testfixture"
)

func TestSASAuthentication(t *testing.T) {
	e := startEmulator(t, Config{Devices: []Device{{ID: "cam1", Key: testKey}}})
	host := e.HubHost()
	sign := func(resource, key, skn string, expiry time.Time) string {
		return must(iothub.SASToken(resource, key, skn, expiry))(t)
	}
	future := time.Now().Add(time.Hour)
	cases := []struct {
		name, clientID, user, pass, reason string
	}{
		{"bad signature", "cam1", hubUser(host, "cam1", ""), sign(host+"/devices/cam1", testKey2, "", future), "signature"},
		{"expired", "cam1", hubUser(host, "cam1", ""), sign(host+"/devices/cam1", testKey, "", time.Now().Add(-time.Minute)), "expired"},
		{"wrong sr", "cam1", hubUser(host, "cam1", ""), sign(host+"/devices/cam2", testKey, "", future), "sr"},
		{"skn with device key", "cam1", hubUser(host, "cam1", ""), sign(host+"/devices/cam1", testKey, "device", future), "skn"},
		{"unknown device", "cam9", hubUser(host, "cam9", ""), sign(host+"/devices/cam9", testKey, "", future), "not registered"},
		{"client id differs", "camX", hubUser(host, "cam1", ""), sign(host+"/devices/cam1", testKey, "", future), "client id"},
		{"other host", "cam1", hubUser("other.example:1", "cam1", ""), sign("other.example:1/devices/cam1", testKey, "", future), "not this hub"},
		{"not a SAS token", "cam1", hubUser(host, "cam1", ""), "hunter2", "SharedAccessSignature"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := connect(t, e, host, c.clientID, c.user, c.pass)
			if err == nil {
				t.Fatal("connection accepted")
			}
			if !strings.Contains(err.Error(), "not Authorized") && !strings.Contains(err.Error(), "bad user name or password") {
				t.Errorf("error %q, want a CONNACK refusal", err)
			}
			refusals := e.Refusals()
			if len(refusals) != i+1 {
				t.Fatalf("%d refusals, want %d", len(refusals), i+1)
			}
			if got := refusals[i].Reason; !strings.Contains(got, c.reason) {
				t.Errorf("refusal reason %q does not mention %q", got, c.reason)
			}
			if strings.Contains(refusals[i].Reason, testKey) {
				t.Error("refusal reason contains the key")
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		connectDevice(t, e, "cam1", testKey, "")
		if _, ok := e.Connected("cam1"); !ok {
			t.Fatal("cam1 not connected after a valid CONNECT")
		}
	})
	t.Run("localhost alias", func(t *testing.T) {
		_, port, _ := net.SplitHostPort(host)
		alias := net.JoinHostPort("localhost", port)
		_, err := connect(t, e, alias, "cam1", hubUser(alias, "cam1", ""), hubToken(t, alias, "cam1", testKey))
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestTelemetryRecorded(t *testing.T) {
	var out testfixture.LockedBuffer
	e := startEmulator(t, Config{Devices: []Device{{ID: "cam1", Key: testKey}}, TelemetryOutput: &out})
	const model = "dtmi:com:example:Camera;1"
	dev := connectDevice(t, e, "cam1", testKey, model)
	ctx := testCtx(t)
	conn := must(e.WaitConnected(ctx, "cam1", 1))(t)
	if conn.ModelID != model || conn.APIVersion != "2021-04-12" || conn.Hub != e.HubHost() {
		t.Errorf("connection %+v", conn)
	}
	topic := "devices/cam1/messages/events/%24.ct=application%2Fjson&%24.ce=utf-8&iothub-creation-time-utc=2026-01-02T03%3A04%3A05.678Z&camera=front%20door"
	body := `{"person":2,"car":1}`
	if err := dev.publish(topic, 1, []byte(body)); err != nil {
		t.Fatal(err)
	}
	if err := dev.publish("devices/cam1/messages/events/", 0, []byte(`{"person":0}`)); err != nil {
		t.Fatal(err)
	}
	msgs := must(e.WaitTelemetry(ctx, 2, nil))(t)
	m := msgs[0]
	if m.DeviceID != "cam1" || m.Hub != e.HubHost() || m.ModelID != model || string(m.Body) != body || m.Topic != topic {
		t.Errorf("telemetry %+v", m)
	}
	want := map[string]string{"$.ct": "application/json", "$.ce": "utf-8", "iothub-creation-time-utc": "2026-01-02T03:04:05.678Z", "camera": "front door"}
	for k, v := range want {
		if m.Properties[k] != v {
			t.Errorf("property %s = %q, want %q", k, m.Properties[k], v)
		}
	}
	if len(msgs[1].Properties) != 0 {
		t.Errorf("empty bag decoded to %v", msgs[1].Properties)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d JSON lines, want 2:\n%s", len(lines), out.String())
	}
	var line struct {
		DeviceID   string            `json:"deviceId"`
		ModelID    string            `json:"modelId"`
		Properties map[string]string `json:"properties"`
		Body       map[string]int    `json:"body"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatalf("line %q: %v", lines[0], err)
	}
	if line.DeviceID != "cam1" || line.ModelID != model || line.Body["person"] != 2 || line.Properties["camera"] != "front door" {
		t.Errorf("JSON line %s", lines[0])
	}
}

func TestQoS2ClosesConnection(t *testing.T) {
	e := startEmulator(t, Config{Devices: []Device{{ID: "cam1", Key: testKey}}})
	dev := connectDevice(t, e, "cam1", testKey, "")
	dev.c.Publish("devices/cam1/messages/events/", 2, false, []byte(`{}`))
	dev.waitLost()
	if err := e.WaitDisconnected(testCtx(t), "cam1"); err != nil {
		t.Fatal(err)
	}
	if n := len(e.Telemetry()); n != 0 {
		t.Errorf("QoS 2 message recorded (%d)", n)
	}
}

func TestOtherDevicesTopicsRefused(t *testing.T) {
	e := startEmulator(t, Config{Devices: []Device{{ID: "cam1", Key: testKey}, {ID: "cam2", Key: testKey2}}})
	dev := connectDevice(t, e, "cam1", testKey, "")
	tok := dev.c.Subscribe("devices/cam2/messages/devicebound/#", 1, nil)
	tok.WaitTimeout(waitLong)
	if code := tok.(*paho.SubscribeToken).Result()["devices/cam2/messages/devicebound/#"]; tok.Error() == nil && code != 0x80 {
		t.Errorf("subscribing to another device's topic granted QoS %d", code)
	}
	dev.c.Publish("devices/cam2/messages/events/", 1, false, []byte(`{}`))
	dev.waitLost()
	if n := len(e.Telemetry()); n != 0 {
		t.Errorf("message to another device's topic recorded (%d)", n)
	}
}

func TestSecondConnectionDropsFirst(t *testing.T) {
	e := startEmulator(t, Config{Devices: []Device{{ID: "cam1", Key: testKey}}})
	ctx := testCtx(t)
	first := connectDevice(t, e, "cam1", testKey, "")
	must(e.WaitConnected(ctx, "cam1", 1))(t)
	second := connectDevice(t, e, "cam1", testKey, "dtmi:x:y;1")
	first.waitLost()
	c := must(e.WaitConnected(ctx, "cam1", 2))(t)
	if c.ModelID != "dtmi:x:y;1" {
		t.Errorf("current connection is %+v, want the second", c)
	}
	if err := second.publish("devices/cam1/messages/events/", 1, []byte(`{}`)); err != nil {
		t.Fatalf("second connection unusable: %v", err)
	}
	must(e.WaitTelemetry(ctx, 1, nil))(t)
}

func TestInvokeMethod(t *testing.T) {
	e := startEmulator(t, Config{Devices: []Device{{ID: "cam1", Key: testKey}}})
	ctx := testCtx(t)
	if _, _, err := e.InvokeMethod(ctx, "cam1", "reboot", nil); !errors.Is(err, ErrDeviceNotConnected) {
		t.Fatalf("invoke on a disconnected device: %v", err)
	}
	dev := connectDevice(t, e, "cam1", testKey, "")
	must(e.WaitConnected(ctx, "cam1", 1))(t)
	if _, _, err := e.InvokeMethod(ctx, "cam1", "reboot", nil); !errors.Is(err, ErrNotSubscribed) {
		t.Fatalf("invoke before subscribing: %v", err)
	}
	dev.subscribe("$iothub/methods/POST/#")
	if err := e.WaitSubscribed(ctx, "cam1", "$iothub/methods/POST/#"); err != nil {
		t.Fatal(err)
	}
	type result struct {
		status int
		body   []byte
		err    error
	}
	done := make(chan result, 1)
	go func() {
		s, b, err := e.InvokeMethod(ctx, "cam1", "snapshot", []byte(`{"camera":"front"}`))
		done <- result{s, b, err}
	}()
	req := dev.expect("$iothub/methods/POST/snapshot/")
	if string(req.body) != `{"camera":"front"}` {
		t.Errorf("request body %s", req.body)
	}
	rid := topicQuery(req.topic).Get("$rid")
	if rid == "" {
		t.Fatalf("no $rid in %s", req.topic)
	}
	if err := dev.publish("$iothub/methods/res/201/?$rid="+rid, 1, []byte(`{"ok":true}`)); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.status != 201 || string(r.body) != `{"ok":true}` {
		t.Fatalf("InvokeMethod = %d %s %v", r.status, r.body, r.err)
	}

	// A device that drops while a call is pending fails the call at once.
	go func() {
		s, b, err := e.InvokeMethod(ctx, "cam1", "slow", nil)
		done <- result{s, b, err}
	}()
	dev.expect("$iothub/methods/POST/slow/")
	noErr(t, e.DropDevice("cam1"))
	if r := <-done; !errors.Is(r.err, ErrDeviceNotConnected) {
		t.Errorf("call pending during a drop: %d %v", r.status, r.err)
	}
}

func TestTwin(t *testing.T) {
	e := startEmulator(t, Config{Devices: []Device{{ID: "cam1", Key: testKey, InitialTwin: &InitialTwin{
		Properties: InitialTwinProperties{Desired: map[string]any{"interval": 60}},
	}}}})
	ctx := testCtx(t)
	dev := connectDevice(t, e, "cam1", testKey, "")
	dev.subscribe("$iothub/twin/res/#", "$iothub/twin/PATCH/properties/desired/#")

	get := func(rid string) map[string]map[string]any {
		t.Helper()
		if err := dev.publish("$iothub/twin/GET/?$rid="+rid, 0, nil); err != nil {
			t.Fatal(err)
		}
		m := dev.expect("$iothub/twin/res/200/?$rid=" + rid)
		var doc map[string]map[string]any
		if err := json.Unmarshal(m.body, &doc); err != nil {
			t.Fatalf("twin document %s: %v", m.body, err)
		}
		return doc
	}
	doc := get("1")
	if doc["desired"]["interval"] != 60.0 || doc["desired"]["$version"] != 2.0 || doc["reported"]["$version"] != 1.0 {
		t.Errorf("initial twin %v", doc)
	}

	if err := dev.publish("$iothub/twin/PATCH/properties/reported/?$rid=2", 1, []byte(`{"fw":"1.0","stats":{"a":1,"b":2}}`)); err != nil {
		t.Fatal(err)
	}
	res := dev.expect("$iothub/twin/res/")
	if res.topic != "$iothub/twin/res/204/?$rid=2&$version=2" {
		t.Errorf("reported patch response topic %s", res.topic)
	}
	if err := dev.publish("$iothub/twin/PATCH/properties/reported/?$rid=3", 1, []byte(`{"fw":null,"stats":{"b":3}}`)); err != nil {
		t.Fatal(err)
	}
	dev.expect("$iothub/twin/res/204/?$rid=3&$version=3")
	tw := must(e.Twin("cam1"))(t)
	if _, ok := tw.Reported["fw"]; ok || tw.ReportedVersion != 3 {
		t.Errorf("reported %v version %d", tw.Reported, tw.ReportedVersion)
	}
	if stats := tw.Reported["stats"].(map[string]any); stats["a"] != 1.0 || stats["b"] != 3.0 {
		t.Errorf("merged stats %v", stats)
	}
	if err := dev.publish("$iothub/twin/PATCH/properties/reported/?$rid=4", 1, []byte(`[1]`)); err != nil {
		t.Fatal(err)
	}
	dev.expect("$iothub/twin/res/400/?$rid=4")

	if err := e.WaitSubscribed(ctx, "cam1", "$iothub/twin/PATCH/properties/desired/#"); err != nil {
		t.Fatal(err)
	}
	v := must(e.UpdateDesired("cam1", map[string]any{"interval": 30, "labels": []string{"person"}}))(t)
	if v != 3 {
		t.Errorf("desired version %d, want 3", v)
	}
	p := dev.expect("$iothub/twin/PATCH/properties/desired/")
	if p.topic != "$iothub/twin/PATCH/properties/desired/?$version=3" {
		t.Errorf("desired patch topic %s", p.topic)
	}
	var patch map[string]any
	if err := json.Unmarshal(p.body, &patch); err != nil || patch["interval"] != 30.0 || patch["$version"] != 3.0 {
		t.Errorf("desired patch %s (%v)", p.body, err)
	}

	// Updated while disconnected: stored, seen by the next GET.
	dev.c.Disconnect(0)
	noErr(t, e.WaitDisconnected(ctx, "cam1"))
	must(e.UpdateDesired("cam1", map[string]any{"interval": nil, "threshold": 0.5}))(t)
	dev = connectDevice(t, e, "cam1", testKey, "")
	dev.subscribe("$iothub/twin/res/#")
	doc = get("5")
	if _, ok := doc["desired"]["interval"]; ok || doc["desired"]["threshold"] != 0.5 || doc["desired"]["$version"] != 4.0 {
		t.Errorf("twin after offline update %v", doc)
	}
	if doc["reported"]["$version"] != 3.0 {
		t.Errorf("reported version after reconnect %v", doc["reported"]["$version"])
	}
}

func TestCloudToDevice(t *testing.T) {
	e := startEmulator(t, Config{Devices: []Device{{ID: "cam1", Key: testKey}}})
	ctx := testCtx(t)
	// A clean session discards what was queued before it.
	if err := e.SendC2D("cam1", []byte("before clean"), nil); err != nil {
		t.Fatal(err)
	}
	dev := connectDevice(t, e, "cam1", testKey, "")
	dev.subscribe("devices/cam1/messages/devicebound/#")
	noErr(t, e.WaitSubscribed(ctx, "cam1", "devices/cam1/messages/devicebound/#"))
	if err := e.SendC2D("cam1", []byte("live"), map[string]string{"kind": "hello world", "sum": "1+1"}); err != nil {
		t.Fatal(err)
	}
	m := dev.expect("devices/cam1/messages/devicebound/")
	bag, err := parseBag(strings.TrimPrefix(m.topic, "devices/cam1/messages/devicebound/"))
	noErr(t, err)
	if string(m.body) != "live" || bag["kind"] != "hello world" || bag["sum"] != "1+1" || bag["$.to"] != "/devices/cam1/messages/deviceBound" || bag["$.mid"] == "" {
		t.Errorf("C2D %s %q %v", m.topic, m.body, bag)
	}
	// Offline with a clean session: nothing is kept for the device.
	dev.c.Disconnect(0)
	noErr(t, e.WaitDisconnected(ctx, "cam1"))
	if err := e.SendC2D("cam1", []byte("lost"), nil); !errors.Is(err, ErrNotDelivered) {
		t.Fatalf("C2D to an offline clean-session device: %v, want ErrNotDelivered", err)
	}
	dev = connectDevice(t, e, "cam1", testKey, "")
	dev.subscribe("devices/cam1/messages/devicebound/#")
	noErr(t, e.WaitSubscribed(ctx, "cam1", "devices/cam1/messages/devicebound/#"))
	noErr(t, e.SendC2D("cam1", []byte("after"), nil))
	if m := dev.expect("devices/cam1/messages/devicebound/"); string(m.body) != "after" {
		t.Errorf("clean session got %q, want only the message sent after it subscribed", m.body)
	}
}

func TestCloudToDevicePersistentSession(t *testing.T) {
	e := startEmulator(t, Config{Devices: []Device{{ID: "cam1", Key: testKey}}})
	ctx := testCtx(t)
	dev := connectDeviceSession(t, e, "cam1", testKey, "", false)
	dev.subscribe("devices/cam1/messages/devicebound/#")
	noErr(t, e.WaitSubscribed(ctx, "cam1", "devices/cam1/messages/devicebound/#"))
	if c, _ := e.Connected("cam1"); c.CleanSession {
		t.Error("connection recorded as clean session")
	}
	dev.c.Disconnect(0)
	noErr(t, e.WaitDisconnected(ctx, "cam1"))
	// Sent while the device is away: queued, and delivered on reconnect without a new
	// SUBSCRIBE (the session kept it), before the device could subscribe.
	noErr(t, e.SendC2D("cam1", []byte("while offline"), map[string]string{"method-name": "ImageTimerStop"}))
	dev = connectDeviceSession(t, e, "cam1", testKey, "", false)
	m := dev.expect("devices/cam1/messages/devicebound/")
	bag, err := parseBag(strings.TrimPrefix(m.topic, "devices/cam1/messages/devicebound/"))
	noErr(t, err)
	if string(m.body) != "while offline" || bag["method-name"] != "ImageTimerStop" {
		t.Errorf("queued C2D %s %q", m.topic, m.body)
	}
	noErr(t, e.WaitSubscribed(ctx, "cam1", "devices/cam1/messages/devicebound/#"))
}

func TestSubscriptionLimit(t *testing.T) {
	e := startEmulator(t, Config{Devices: []Device{{ID: "cam1", Key: testKey}}})
	dev := connectDevice(t, e, "cam1", testKey, "")
	filters := []string{"$iothub/methods/POST/#", "$iothub/twin/res/#", "$iothub/twin/PATCH/properties/desired/#",
		"devices/cam1/messages/devicebound/#", "$iothub/methods/POST/reboot/#"}
	dev.subscribe(filters...)
	dev.subscribe(filters[0]) // again: not a new one
	tok := dev.c.Subscribe("$iothub/methods/POST/capture/#", 0, nil)
	if !tok.WaitTimeout(waitLong) {
		t.Fatal("SUBACK timed out")
	}
	res := tok.(*paho.SubscribeToken).Result()
	if res["$iothub/methods/POST/capture/#"] != 0x80 {
		t.Errorf("6th subscription granted: %v", res)
	}
}

func TestTelemetrySizeCountsProperties(t *testing.T) {
	e := startEmulator(t, Config{Devices: []Device{{ID: "cam1", Key: testKey}}})
	ctx := testCtx(t)
	dev := connectDevice(t, e, "cam1", testKey, "")
	prop := "&big=" + strings.Repeat("x", 1000)
	body := bytes.Repeat([]byte("a"), MaxTelemetry-900)
	noErr(t, dev.publish("devices/cam1/messages/events/a=b", 1, body))
	must(e.WaitTelemetry(ctx, 1, nil))(t)
	// The body alone fits; with the property it does not: the hub closes the connection.
	dev.c.Publish("devices/cam1/messages/events/a=b"+prop, 1, false, body)
	dev.waitLost()
	if n := len(e.Telemetry()); n != 1 {
		t.Fatalf("%d messages recorded, want the one under 256 KB only", n)
	}
}

func TestDropDeviceAndListenerRestart(t *testing.T) {
	e := startEmulator(t, Config{Devices: []Device{{ID: "cam1", Key: testKey}}})
	ctx := testCtx(t)
	hostBefore, dpsBefore := e.HubHost(), e.DPSHost()

	dev := connectDevice(t, e, "cam1", testKey, "")
	must(e.WaitConnected(ctx, "cam1", 1))(t)
	if err := e.DropDevice("cam1"); err != nil {
		t.Fatal(err)
	}
	dev.waitLost()
	noErr(t, e.WaitDisconnected(ctx, "cam1"))
	if err := e.DropDevice("cam1"); !errors.Is(err, ErrDeviceNotConnected) {
		t.Errorf("DropDevice on a disconnected device: %v", err)
	}

	dev = connectDevice(t, e, "cam1", testKey, "")
	must(e.WaitConnected(ctx, "cam1", 2))(t)
	e.StopListeners()
	dev.waitLost()
	noErr(t, e.WaitDisconnected(ctx, "cam1"))
	if _, err := connect(t, e, hostBefore, "cam1", hubUser(hostBefore, "cam1", ""), hubToken(t, hostBefore, "cam1", testKey)); err == nil {
		t.Fatal("connected while the listeners are stopped")
	}
	if err := e.StartListeners(); err != nil {
		t.Fatal(err)
	}
	if e.HubHost() != hostBefore || e.DPSHost() != dpsBefore {
		t.Fatalf("hosts changed: %s %s -> %s %s", hostBefore, dpsBefore, e.HubHost(), e.DPSHost())
	}
	dev = connectDevice(t, e, "cam1", testKey, "")
	must(e.WaitConnected(ctx, "cam1", 3))(t)
	if err := dev.publish("devices/cam1/messages/events/", 1, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	must(e.WaitTelemetry(ctx, 1, nil))(t)
}

func TestTokenExpiryDisconnects(t *testing.T) {
	e := startEmulator(t, Config{Devices: []Device{{ID: "cam1", Key: testKey}}})
	host := e.HubHost()
	tok := must(iothub.SASToken(host+"/devices/cam1", testKey, "", time.Now().Add(3*time.Second)))(t)
	dev, err := connect(t, e, host, "cam1", hubUser(host, "cam1", ""), tok)
	if err != nil {
		t.Fatal(err)
	}
	dev.waitLost()
	noErr(t, e.WaitDisconnected(testCtx(t), "cam1"))
}

func TestThrottle(t *testing.T) {
	e := startEmulator(t, Config{Devices: []Device{{ID: "cam1", Key: testKey}}})
	ctx := testCtx(t)
	dev := connectDevice(t, e, "cam1", testKey, "")
	noErr(t, e.SetThrottle("cam1", ThrottleNoAck))
	tok := dev.c.Publish("devices/cam1/messages/events/", 1, false, []byte(`{"n":1}`))
	if tok.WaitTimeout(500 * time.Millisecond) {
		t.Fatalf("throttled publish acknowledged (%v)", tok.Error())
	}
	noErr(t, e.SetThrottle("cam1", ThrottleDisconnect))
	dev.c.Publish("devices/cam1/messages/events/", 1, false, []byte(`{"n":2}`))
	dev.waitLost()
	noErr(t, e.SetThrottle("cam1", ThrottleNone))
	dev = connectDevice(t, e, "cam1", testKey, "")
	if err := dev.publish("devices/cam1/messages/events/", 1, []byte(`{"n":3}`)); err != nil {
		t.Fatal(err)
	}
	msgs := must(e.WaitTelemetry(ctx, 1, nil))(t)
	if len(msgs) != 1 || string(msgs[0].Body) != `{"n":3}` {
		t.Errorf("telemetry %v", msgs)
	}
}

func TestCAReusedAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	e1 := startEmulator(t, Config{StateDir: dir})
	pem1 := e1.CAPEM()
	e1.Close()
	e2 := startEmulator(t, Config{StateDir: dir})
	if string(e2.CAPEM()) != string(pem1) {
		t.Error("CA regenerated although the state directory holds one")
	}
	if !strings.HasPrefix(e2.CAFile(), dir) {
		t.Errorf("CA file %s not in %s", e2.CAFile(), dir)
	}
}

// MQTT forbids wildcards in a PUBLISH topic name, so a property bag must encode a space as %20,
// never "+" (url.QueryEscape's form); the broker closes the connection, as a strict one would.
func TestPlusInPropertyBagClosesConnection(t *testing.T) {
	e := startEmulator(t, Config{Devices: []Device{{ID: "cam1", Key: testKey}}})
	dev := connectDevice(t, e, "cam1", testKey, "")
	dev.c.Publish("devices/cam1/messages/events/camera=front+door", 1, false, []byte(`{}`))
	dev.waitLost()
	if n := len(e.Telemetry()); n != 0 {
		t.Errorf("%d messages recorded", n)
	}
}

func TestRemoveDevice(t *testing.T) {
	e := startEmulator(t, Config{Devices: []Device{{ID: "cam1", Key: testKey}}})
	host := e.HubHost()
	dev := connectDevice(t, e, "cam1", testKey, "")
	noErr(t, e.RemoveDevice("cam1"))
	dev.waitLost()
	if _, err := connect(t, e, host, "cam1", hubUser(host, "cam1", ""), hubToken(t, host, "cam1", testKey)); err == nil {
		t.Error("a removed device connected")
	}
	if err := e.RemoveDevice("cam1"); !errors.Is(err, ErrUnknownDevice) {
		t.Errorf("second RemoveDevice: %v", err)
	}
}

func TestOversizedTelemetryClosesConnection(t *testing.T) {
	e := startEmulator(t, Config{Devices: []Device{{ID: "cam1", Key: testKey}}})
	dev := connectDevice(t, e, "cam1", testKey, "")
	noErr(t, dev.publish("devices/cam1/messages/events/", 1, make([]byte, MaxTelemetry)))
	dev.c.Publish("devices/cam1/messages/events/", 1, false, make([]byte, MaxTelemetry+1))
	dev.waitLost()
	msgs := e.Telemetry()
	if len(msgs) != 1 || len(msgs[0].Body) != MaxTelemetry {
		t.Errorf("%d messages recorded, want only the one at the limit", len(msgs))
	}
}

func TestCloudToDeviceLimits(t *testing.T) {
	e := startEmulator(t, Config{Devices: []Device{{ID: "cam1", Key: testKey}, {ID: "cam1", ModuleID: "m", Key: testKey}}})
	for i := range MaxC2DQueue {
		noErr(t, e.SendC2D("cam1", []byte(strconv.Itoa(i)), nil))
	}
	if err := e.SendC2D("cam1", []byte("one too many"), nil); !errors.Is(err, ErrNotDelivered) {
		t.Errorf("message %d: %v, want ErrNotDelivered", MaxC2DQueue+1, err)
	}
	if err := e.SendC2D("cam1", make([]byte, MaxC2D+1), nil); err == nil {
		t.Error("C2D message over 64 KB accepted")
	}
	if err := e.SendC2D("cam1/m", []byte("x"), nil); err == nil {
		t.Error("C2D message to a module accepted")
	}
}
