// Package conformance runs the official Azure IoT Node.js SDKs (device, provisioning and the
// service SDK azure-iothub) against edgecam's emulator, runs the same scenario with edgecam's own
// client, and compares what the emulator saw from each. The SDKs are installed by
// scripts/deps-npm.sh (make deps); under make test (EDGECAM_REQUIRE_NODE=1) a missing Node.js or
// SDK fails the test instead of skipping it.
package conformance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/emulator"
	"github.com/edgecam/edgecam/internal/iothub"
	"github.com/edgecam/edgecam/internal/testfixture"
	"github.com/edgecam/edgecam/internal/testfixture/emutest"
)

const (
	groupName = "conformance"
	groupKey  = "Y29uZm9ybWFuY2UtZ3JvdXAta2V5LW9mLXRoZS1ub2RlLXNkay10ZXN0cyEh"
	modelID   = "dtmi:com:example:edgecam;1"
	waitLong  = 90 * time.Second
)

// node returns the node binary, skipping (or, under make test, failing) when it or the SDKs
// are missing.
func node(t *testing.T) string {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("EDGECAM_REQUIRE_NODE") != "" {
			t.Fatalf("%s; make deps installs it (scripts/deps-npm.sh)", what)
		}
		t.Skipf("%s; run make deps (scripts/deps-npm.sh) to run the Node.js SDK conformance tests", what)
	}
	// scripts/deps-npm.sh puts Node.js 20 there when the system's is older.
	bin, err := filepath.Abs(".node/bin/node")
	if _, serr := os.Stat(bin); err != nil || serr != nil {
		if bin, err = exec.LookPath("node"); err != nil {
			missing("node (Node.js) is not on PATH")
		}
	}
	for _, m := range []string{"azure-iot-device", "azure-iot-device-mqtt", "azure-iot-provisioning-device", "azure-iot-provisioning-device-mqtt", "azure-iot-security-symmetric-key", "azure-iothub"} {
		if _, err := os.Stat("node_modules/" + m + "/package.json"); err != nil {
			missing("the npm package " + m + " is not installed in test/conformance/node_modules")
		}
	}
	return bin
}

func startEmulator(t *testing.T) *emulator.Emulator {
	return emutest.StartWithGroup(t, groupName, groupKey)
}

func testCtx(t *testing.T) context.Context { return testfixture.Context(t, waitLong) }

// nodeEnv is the environment of the Node scripts: the emulator's CA trusted, its endpoints.
func nodeEnv(e *emulator.Emulator, regID, transport string) []string {
	return append(os.Environ(),
		"NODE_EXTRA_CA_CERTS="+e.CAFile(),
		"DPS_HOST="+e.DPSHost(),
		"ID_SCOPE="+e.IDScope(),
		"REGISTRATION_ID="+regID,
		"GROUP_KEY="+groupKey,
		"MODEL_ID="+modelID,
		"TRANSPORT="+transport,
		"SERVICE_CONNECTION_STRING="+e.ServiceConnectionString(),
	)
}

// event is one JSON line device.js prints.
type event map[string]any

// sdkDevice is a running device.js.
type sdkDevice struct {
	t      *testing.T
	stdin  io.WriteCloser
	events chan event
	mu     sync.Mutex
	stderr bytes.Buffer
}

func startSDKDevice(t *testing.T, bin string, env []string) *sdkDevice {
	t.Helper()
	cmd := exec.Command(bin, "device.js")
	cmd.Env = env
	d := &sdkDevice{t: t, events: make(chan event, 64)}
	cmd.Stderr = &lockedWriter{mu: &d.mu, w: &d.stderr}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.stdin = stdin
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev event
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				d.events <- ev
			} else {
				t.Logf("device.js: %s", sc.Text())
			}
		}
		close(d.events)
	}()
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			d.mu.Lock()
			t.Logf("device.js stderr:\n%s", d.stderr.String())
			d.mu.Unlock()
		}
	})
	return d
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// expect waits for the named event, failing on an "error" event or when the script ends.
func (d *sdkDevice) expect(name string) event {
	d.t.Helper()
	timeout := time.After(waitLong)
	for {
		select {
		case ev, ok := <-d.events:
			if !ok {
				d.t.Fatalf("device.js ended before %q", name)
			}
			switch ev["event"] {
			case name:
				return ev
			case "error":
				d.t.Fatalf("device.js failed waiting for %q: %v", name, ev["message"])
			}
			d.t.Logf("device.js: %v", ev)
		case <-timeout:
			d.t.Fatalf("device.js: no %q event", name)
		}
	}
}

func (d *sdkDevice) command(c string) {
	d.t.Helper()
	if _, err := io.WriteString(d.stdin, c+"\n"); err != nil {
		d.t.Fatal(err)
	}
}

// service runs service.js (azure-iothub) and decodes its result.
func service(t *testing.T, bin string, e *emulator.Emulator, args ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"service.js"}, args...)...)
	cmd.Env = nodeEnv(e, "", "")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("service.js %v: %v\n%s", args, err, stderr.String())
	}
	var r map[string]any
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("service.js %v printed %q", args, out)
	}
	return r
}

// sendC2D posts a cloud-to-device message to the emulator's HTTPS endpoint, as the README's
// curl example does.
func sendC2D(t *testing.T, e *emulator.Emulator, deviceID string, body string, props map[string]string) {
	t.Helper()
	cs, err := iothub.ParseConnectionString(e.ServiceConnectionString())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iothub.SASToken(e.ServiceHost(), cs.SharedAccessKey, cs.SharedAccessKeyName, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, "https://"+e.ServiceHost()+"/devices/"+deviceID+"/messages/deviceBound?api-version=2021-04-12", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", tok)
	for k, v := range props {
		req.Header.Set("iothub-app-"+k, v)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.CAPEM())
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("C2D to %s: %s %s", deviceID, resp.Status, b)
	}
}

// c2dProps are the application properties of the offline C2D message, with a '+' that must
// survive the property bag.
var c2dProps = map[string]string{"method-name": "ImageTimerStop", "note": "1+1 = two"}

// runSDK runs the scenario with the official Node.js SDKs and returns the device ID.
func runSDK(t *testing.T, bin string, e *emulator.Emulator, regID, transport string) {
	ctx := testCtx(t)
	d := startSDKDevice(t, bin, nodeEnv(e, regID, transport))
	if reg := d.expect("registered"); reg["hub"] != e.HubHost() || reg["deviceId"] != regID {
		t.Fatalf("SDK registration %v, want hub %s", reg, e.HubHost())
	}
	d.expect("connected")
	d.expect("sent")
	d.expect("twin")
	d.expect("reported")
	d.expect("ready")

	// The cloud side through azure-iothub: a direct method, a desired property, the twin.
	if r := service(t, bin, e, "method", regID, "ping", `{"x":1}`); r["status"] != 200.0 || fmt.Sprint(r["payload"]) != "map[pong:map[x:1]]" {
		t.Errorf("SDK device answered the method with %v", r)
	}
	if ev := d.expect("method"); fmt.Sprint(ev["payload"]) != "map[x:1]" {
		t.Errorf("SDK device got method payload %v", ev["payload"])
	}
	service(t, bin, e, "twin-desired", regID, `{"interval":"PT30S"}`)
	if ev := d.expect("desired"); fmt.Sprint(ev["patch"].(map[string]any)["interval"]) != "PT30S" {
		t.Errorf("SDK device got desired patch %v", ev["patch"])
	}
	tw := service(t, bin, e, "twin-get", regID)
	if rep := tw["properties"].(map[string]any)["reported"].(map[string]any); fmt.Sprint(rep["conformance"]) != "map[sdk:node]" {
		t.Errorf("twin through azure-iothub: reported %v", rep)
	}

	// A C2D message sent while the device is offline arrives when it reconnects.
	if err := e.WaitSubscribed(ctx, regID, "devices/"+regID+"/messages/devicebound/#"); err != nil {
		t.Fatal(err)
	}
	recordSubscriptions(t, e, regID)
	d.command("close")
	d.expect("closed")
	if err := e.WaitDisconnected(ctx, regID); err != nil {
		t.Fatal(err)
	}
	sendC2D(t, e, regID, `{"queued":true}`, c2dProps)
	d.command("open")
	ev := d.expect("c2d")
	props, _ := ev["props"].(map[string]any)
	if ev["body"] != `{"queued":true}` || props["method-name"] != "ImageTimerStop" || props["note"] != "1+1 = two" || ev["messageId"] == "" {
		t.Errorf("SDK device got C2D %v", ev)
	}
	d.command("exit")
	d.expect("exited")
}

// runEdgecam runs the same scenario with edgecam's client (package iothub).
func runEdgecam(t *testing.T, bin string, e *emulator.Emulator, regID string, transport iothub.Transport) {
	ctx := testCtx(t)
	key, err := iothub.DeriveDeviceKey(groupKey, regID)
	if err != nil {
		t.Fatal(err)
	}
	a, err := iothub.Register(ctx, iothub.DPSOptions{
		GlobalEndpoint: e.DPSHost(), IDScope: e.IDScope(), RegistrationID: regID, Key: key,
		ModelID: modelID, CAFile: e.CAFile(), Logger: slog.New(slog.DiscardHandler), Transport: transport,
	})
	if err != nil {
		t.Fatal(err)
	}
	methods := make(chan string, 4)
	desired := make(chan string, 4)
	c2d := make(chan string, 4)
	opts := iothub.Options{
		Host: a.AssignedHub, DeviceID: a.DeviceID, Key: key, ModelID: modelID, CAFile: e.CAFile(),
		Logger: slog.New(slog.DiscardHandler), MaxBackoff: time.Second, Transport: transport,
		Methods: func(_ context.Context, name string, payload []byte) (int, []byte) {
			methods <- name + " " + string(payload)
			return 200, []byte(`{"pong":` + string(payload) + `}`)
		},
		Desired: func(patch []byte, _ int64) { desired <- string(patch) },
		C2D: func(body []byte, props map[string]string) {
			c2d <- string(body) + "|" + props["method-name"] + "|" + props["note"]
		},
	}
	c, err := iothub.Dial(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendTelemetry(ctx, []byte(`{"person":2,"bus":1}`), time.Now(), map[string]string{"note": "1+1 = two"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetTwin(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateReported(ctx, []byte(`{"conformance":{"sdk":"edgecam"}}`)); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitSubscribed(ctx, regID, "$iothub/methods/POST/#"); err != nil {
		t.Fatal(err)
	}
	if r := service(t, bin, e, "method", regID, "ping", `{"x":1}`); r["status"] != 200.0 || fmt.Sprint(r["payload"]) != "map[pong:map[x:1]]" {
		t.Errorf("edgecam answered the method with %v", r)
	}
	if m := receive(t, methods); m != `ping {"x":1}` {
		t.Errorf("edgecam got method %q", m)
	}
	if err := e.WaitSubscribed(ctx, regID, "$iothub/twin/PATCH/properties/desired/#"); err != nil {
		t.Fatal(err)
	}
	service(t, bin, e, "twin-desired", regID, `{"interval":"PT30S"}`)
	if p := receive(t, desired); !strings.Contains(p, `"interval":"PT30S"`) {
		t.Errorf("edgecam got desired patch %s", p)
	}
	tw := service(t, bin, e, "twin-get", regID)
	if rep := tw["properties"].(map[string]any)["reported"].(map[string]any); fmt.Sprint(rep["conformance"]) != "map[sdk:edgecam]" {
		t.Errorf("twin through azure-iothub: reported %v", rep)
	}

	if err := e.WaitSubscribed(ctx, regID, "devices/"+regID+"/messages/devicebound/#"); err != nil {
		t.Fatal(err)
	}
	recordSubscriptions(t, e, regID)
	e.StopListeners()
	if err := e.WaitDisconnected(ctx, regID); err != nil {
		t.Fatal(err)
	}
	sendC2D(t, e, regID, `{"queued":true}`, c2dProps)
	if err := e.StartListeners(); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, c2d); m != `{"queued":true}|ImageTimerStop|1+1 = two` {
		t.Errorf("edgecam got C2D %q", m)
	}
}

func receive(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(waitLong):
		t.Fatal("nothing received")
		return ""
	}
}

// subscriptions holds each device's topic filters (its own ID replaced by {id}) with their QoS,
// taken while it was connected with everything subscribed.
var subscriptions sync.Map

func recordSubscriptions(t *testing.T, e *emulator.Emulator, id string) {
	t.Helper()
	subs, err := e.Subscriptions(id)
	if err != nil {
		t.Fatal(err)
	}
	var list []string
	for f, q := range subs {
		list = append(list, fmt.Sprintf("%s@%d", strings.Replace(f, id, "{id}", 1), q))
	}
	slices.Sort(list)
	subscriptions.Store(id, strings.Join(list, " "))
}

// seen is what the emulator observed from one device, in comparable form.
type seen struct {
	registrationModel, enrollment string
	usernamePrefix, apiVersion    string
	modelID                       string
	cleanSession                  []bool
	telemetryQoS                  byte
	retain                        bool
	contentType, contentEncoding  string
	creationTime                  bool
	note                          string
	websocket                     bool
	subscriptions                 string
}

func observe(t *testing.T, e *emulator.Emulator, id string) seen {
	t.Helper()
	var s seen
	for _, r := range e.Registrations() {
		if r.RegistrationID == id {
			s.registrationModel, s.enrollment = r.ModelID, r.Enrollment
		}
	}
	for _, c := range e.Connections() {
		if c.DeviceID != id {
			continue
		}
		user, _, _ := strings.Cut(c.Username, "&")
		s.usernamePrefix = strings.Replace(user, c.Hub+"/"+id+"/", "{hub}/{id}/", 1)
		s.apiVersion, s.modelID = c.APIVersion, c.ModelID
		s.cleanSession = append(s.cleanSession, c.CleanSession)
		s.websocket = s.websocket || c.WebSocket
	}
	msgs, err := e.WaitTelemetry(testCtx(t), 1, emulator.FromDevice(id))
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	s.telemetryQoS, s.retain = m.QoS, m.Retain
	s.contentType, s.contentEncoding = m.Properties["$.ct"], m.Properties["$.ce"]
	_, err = time.Parse(time.RFC3339Nano, m.Properties["iothub-creation-time-utc"])
	s.creationTime = err == nil
	s.note = m.Properties["note"]
	if v, ok := subscriptions.Load(id); ok {
		s.subscriptions = v.(string)
	}
	return s
}

// The official SDKs and edgecam's client, one after the other against the same emulator: every
// scenario passes for both, and the emulator sees the same thing from each.
func TestNodeSDKAndEdgecamAgainstEmulator(t *testing.T) {
	bin := node(t)
	e := startEmulator(t)
	t.Run("node-sdk", func(t *testing.T) { runSDK(t, bin, e, "sdk-dev-1", "mqtt") })
	t.Run("edgecam", func(t *testing.T) { runEdgecam(t, bin, e, "edgecam-dev-1", iothub.TransportMQTT) })
	if t.Failed() {
		return
	}
	sdk, ours := observe(t, e, "sdk-dev-1"), observe(t, e, "edgecam-dev-1")
	t.Logf("Node SDK: %+v", sdk)
	t.Logf("edgecam:  %+v", ours)
	want := seen{
		registrationModel: modelID, enrollment: groupName, usernamePrefix: "{hub}/{id}/?api-version=2021-04-12",
		apiVersion: "2021-04-12", modelID: modelID, cleanSession: []bool{false, false},
		telemetryQoS: 1, contentType: "application/json", contentEncoding: "utf-8", creationTime: true, note: "1+1 = two",
		// The SDK's and edgecam's subscriptions: C2D at QoS 1, the rest at QoS 0.
		subscriptions: "$iothub/methods/POST/#@0 $iothub/twin/PATCH/properties/desired/#@0 $iothub/twin/res/#@0 devices/{id}/messages/devicebound/#@1",
	}
	for name, s := range map[string]seen{"Node SDK": sdk, "edgecam": ours} {
		if fmt.Sprintf("%+v", s) != fmt.Sprintf("%+v", want) {
			t.Errorf("%s: the emulator saw\n %+v\nwant\n %+v", name, s, want)
		}
	}
}

// MQTT over WebSockets (port 443 in Azure, the hub's own port in the emulator), DPS included:
// the SDKs' MqttWs transports and edgecam's mqtt-ws.
func TestWebSocketsNodeSDKAndEdgecam(t *testing.T) {
	bin := node(t)
	e := startEmulator(t)
	t.Run("node-sdk", func(t *testing.T) { runSDK(t, bin, e, "sdk-ws-1", "mqtt-ws") })
	t.Run("edgecam", func(t *testing.T) { runEdgecam(t, bin, e, "edgecam-ws-1", iothub.TransportMQTTWS) })
	for _, id := range []string{"sdk-ws-1", "edgecam-ws-1"} {
		for _, r := range e.Registrations() {
			if r.RegistrationID == id && !r.WebSocket {
				t.Errorf("%s registered with DPS over plain MQTT", id)
			}
		}
		n := 0
		for _, c := range e.Connections() {
			if c.DeviceID == id {
				n++
				if !c.WebSocket {
					t.Errorf("%s connected to the hub over plain MQTT", id)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s never connected", id)
		}
	}
}
