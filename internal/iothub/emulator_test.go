package iothub_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
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
	deviceKey = "ZGV2aWNlLWtleS1vZi1jYW0xLWZvci1pb3RodWItdGVzdHM=" // base64, tests only
	groupKey  = "Z3JvdXAta2V5LWZvci1pb3RodWItdGVzdHMtMDEyMzQ1Njc4OQ=="
	modelID   = "dtmi:edgecam:Camera;1"
)

// testCtx is generous: a loaded 2-core CI machine may be slow, but nothing here should hang.
func testCtx(t *testing.T) context.Context { return testfixture.Context(t, 45*time.Second) }

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startEmulator(t *testing.T, cfg emulator.Config) *emulator.Emulator {
	return emutest.Start(t, cfg)
}

// deviceOptions returns client options for a hub device from its emulator connection string.
func deviceOptions(t *testing.T, e *emulator.Emulator, id string) iothub.Options {
	t.Helper()
	s, err := e.ConnectionString(id)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := iothub.ParseConnectionString(s)
	if err != nil {
		t.Fatal(err)
	}
	o := cs.DeviceOptions()
	o.CAFile = e.CAFile()
	o.Logger = quietLogger()
	return o
}

func dial(t *testing.T, o iothub.Options) *iothub.Client {
	t.Helper()
	c, err := iothub.Dial(testCtx(t), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestTelemetryOverTLS(t *testing.T) {
	e := startEmulator(t, emulator.Config{Devices: []emulator.Device{{ID: "cam1", Key: deviceKey}}})
	o := deviceOptions(t, e, "cam1")
	o.ModelID = modelID
	c := dial(t, o)
	if !c.Connected() {
		t.Fatal("not connected after Dial")
	}
	ctx := testCtx(t)
	created := time.Date(2026, 11, 23, 10, 11, 12, 345_000_000, time.UTC)
	body := []byte(`{"person":2,"car":1}`)
	if err := c.SendTelemetry(ctx, body, created, map[string]string{"camera": "front door"}); err != nil {
		t.Fatal(err)
	}
	msgs, err := e.WaitTelemetry(ctx, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	wantTopic := "devices/cam1/messages/events/$.ct=application%2Fjson&$.ce=utf-8&iothub-creation-time-utc=2026-11-23T10%3A11%3A12.345Z&camera=front%20door" +
		"&$.mid=" + m.Properties["$.mid"]
	if len(m.Properties["$.mid"]) != 32 || m.Topic != wantTopic {
		t.Errorf("topic\n got %s\nwant %s", m.Topic, wantTopic)
	}
	if string(m.Body) != string(body) || m.DeviceID != "cam1" || m.ModelID != modelID {
		t.Errorf("message %+v", m)
	}
	for k, v := range map[string]string{"$.ct": "application/json", "$.ce": "utf-8", "iothub-creation-time-utc": "2026-11-23T10:11:12.345Z", "camera": "front door"} {
		if m.Properties[k] != v {
			t.Errorf("property %s = %q, want %q (all: %v)", k, m.Properties[k], v, m.Properties)
		}
	}
	// Sent again (as the spool does when a PUBACK was lost), the message keeps its message-id;
	// another message gets another.
	if err := c.SendTelemetry(ctx, body, created, map[string]string{"camera": "front door"}); err != nil {
		t.Fatal(err)
	}
	if err := c.SendTelemetry(ctx, []byte(`{"person":3,"car":1}`), created, map[string]string{"camera": "front door"}); err != nil {
		t.Fatal(err)
	}
	if msgs, err = e.WaitTelemetry(ctx, 3, nil); err != nil {
		t.Fatal(err)
	}
	if id := m.Properties["$.mid"]; msgs[1].Properties["$.mid"] != id || msgs[2].Properties["$.mid"] == id {
		t.Errorf("message-ids %s, %s (the same message again), %s (another)", id, msgs[1].Properties["$.mid"], msgs[2].Properties["$.mid"])
	}
	conn, ok := e.Connected("cam1")
	if !ok || conn.APIVersion != "2021-04-12" || conn.ModelID != modelID {
		t.Errorf("connection %+v %v", conn, ok)
	}
	if err := c.SendTelemetry(ctx, make([]byte, 256*1024+1), created, nil); !errors.Is(err, iothub.ErrMessageTooLarge) {
		t.Errorf("oversized body: %v", err)
	}
}

// TestGateway dials another name of the hub (as through an IoT Edge gateway) while the
// username and token still name the hub.
func TestGateway(t *testing.T) {
	e := startEmulator(t, emulator.Config{Devices: []emulator.Device{{ID: "cam1", Key: deviceKey}}})
	o := deviceOptions(t, e, "cam1")
	_, port, _ := strings.Cut(o.Host, ":")
	o.Gateway = "localhost:" + port
	c := dial(t, o)
	if err := c.SendTelemetry(testCtx(t), []byte(`{}`), time.Now(), nil); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkSendTelemetry(b *testing.B) {
	e, err := emulator.Start(context.Background(), emulator.Config{Devices: []emulator.Device{{ID: "cam1", Key: deviceKey}}})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	s, _ := e.ConnectionString("cam1")
	cs, err := iothub.ParseConnectionString(s)
	if err != nil {
		b.Fatal(err)
	}
	o := cs.DeviceOptions()
	o.CAFile, o.Logger = e.CAFile(), quietLogger()
	ctx := context.Background()
	c, err := iothub.Dial(ctx, o)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	body := []byte(`{"person":3,"car":1,"bicycle":0}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.SendTelemetry(ctx, body, time.Now(), nil); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDialErrors(t *testing.T) {
	e := startEmulator(t, emulator.Config{Devices: []emulator.Device{{ID: "cam1", Key: deviceKey}}})
	ctx := testCtx(t)

	o := deviceOptions(t, e, "cam1")
	o.Key = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="
	_, err := iothub.Dial(ctx, o)
	if !errors.Is(err, iothub.ErrNotAuthorized) || !strings.Contains(err.Error(), "check the device key / connection string") {
		t.Errorf("wrong key: %v", err)
	}
	if strings.Contains(fmt.Sprint(err), o.Key) {
		t.Errorf("error shows the key: %v", err)
	}
	if rs, err := e.WaitRefusals(ctx, 1); err != nil || rs[0].ClientID != "cam1" {
		t.Errorf("refusals %+v %v", rs, err)
	}

	o = deviceOptions(t, e, "cam1")
	o.CAFile = ""
	if _, err := iothub.Dial(ctx, o); err == nil || !strings.Contains(err.Error(), "TLS verification") {
		t.Errorf("untrusted server: %v", err)
	}

	o = deviceOptions(t, e, "cam1")
	o.Host = "no-such-host.invalid:8883"
	if _, err := iothub.Dial(ctx, o); err == nil || !strings.Contains(err.Error(), "no-such-host.invalid") {
		t.Errorf("unknown host: %v", err)
	}

	o = deviceOptions(t, e, "cam1")
	o.KeepAlive = 30 * time.Minute
	if _, err := iothub.Dial(ctx, o); err == nil || !strings.Contains(err.Error(), "1177") {
		t.Errorf("keep-alive over the hub's limit: %v", err)
	}
}

func TestMethodsTwinAndC2D(t *testing.T) {
	e := startEmulator(t, emulator.Config{Devices: []emulator.Device{{ID: "cam1", Key: deviceKey,
		InitialTwin: &emulator.InitialTwin{Properties: emulator.InitialTwinProperties{Desired: map[string]any{"interval": "PT10S"}}}}}})
	o := deviceOptions(t, e, "cam1")
	type patch struct {
		body    string
		version int64
	}
	patches := make(chan patch, 4)
	c2d := make(chan string, 4)
	o.Methods = func(ctx context.Context, name string, payload []byte) (int, []byte) {
		if name != "snapshot" {
			return 404, []byte(`{"error":"unknown method"}`)
		}
		return 200, []byte(`{"echo":` + string(payload) + `}`)
	}
	o.Desired = func(b []byte, v int64) { patches <- patch{string(b), v} }
	o.C2D = func(b []byte, props map[string]string) { c2d <- string(b) + "|" + props["colour"] }
	c := dial(t, o)
	ctx := testCtx(t)

	if err := e.WaitSubscribed(ctx, "cam1", "$iothub/methods/POST/#"); err != nil {
		t.Fatal(err)
	}
	status, resp, err := e.InvokeMethod(ctx, "cam1", "snapshot", []byte(`{"q":1}`))
	if err != nil || status != 200 || string(resp) != `{"echo":{"q":1}}` {
		t.Fatalf("method: %d %s %v", status, resp, err)
	}
	if status, _, err := e.InvokeMethod(ctx, "cam1", "reboot", nil); err != nil || status != 404 {
		t.Fatalf("unknown method: %d %v", status, err)
	}

	tw, err := c.GetTwin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var desired map[string]any
	if err := json.Unmarshal(tw.Desired, &desired); err != nil || desired["interval"] != "PT10S" {
		t.Fatalf("twin desired %s %v", tw.Desired, err)
	}

	if err := e.WaitSubscribed(ctx, "cam1", "$iothub/twin/PATCH/properties/desired/#"); err != nil {
		t.Fatal(err)
	}
	v, err := e.UpdateDesired("cam1", map[string]any{"interval": "PT30S"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-patches:
		if p.version != int64(v) || !strings.Contains(p.body, `"PT30S"`) {
			t.Fatalf("patch %+v, want version %d", p, v)
		}
	case <-ctx.Done():
		t.Fatal("no desired patch")
	}
	if v <= int(tw.DesiredVersion) {
		t.Fatalf("desired version %d not after the twin's %d", v, tw.DesiredVersion)
	}

	rv, err := c.UpdateReported(ctx, []byte(`{"interval":{"value":"PT30S","ac":200,"av":2},"firmware":"1.0"}`))
	if err != nil || rv == 0 {
		t.Fatalf("reported: %d %v", rv, err)
	}
	twin, err := e.WaitTwin(ctx, "cam1", func(tw emulator.Twin) bool { return tw.Reported["firmware"] == "1.0" })
	if err != nil || twin.ReportedVersion != int(rv) {
		t.Fatalf("emulator twin %+v %v (client got version %d)", twin, err, rv)
	}
	if _, err := c.UpdateReported(ctx, []byte(`[1]`)); err == nil {
		t.Fatal("non-object reported patch accepted")
	}

	if err := e.SendC2D("cam1", []byte("hello"), map[string]string{"colour": "dark red"}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-c2d:
		if m != "hello|dark red" {
			t.Fatalf("c2d %q", m)
		}
	case <-ctx.Done():
		t.Fatal("no C2D message")
	}
}

func TestReconnectAfterDrop(t *testing.T) {
	e := startEmulator(t, emulator.Config{Devices: []emulator.Device{{ID: "cam1", Key: deviceKey}}})
	o := deviceOptions(t, e, "cam1")
	connects := make(chan struct{}, 8)
	lost := make(chan error, 8)
	o.OnConnect = func() { connects <- struct{}{} }
	o.OnConnectionLost = func(err error) { lost <- err }
	o.Methods = func(context.Context, string, []byte) (int, []byte) { return 200, []byte(`"ok"`) }
	o.MaxBackoff = time.Second
	c := dial(t, o)
	ctx := testCtx(t)
	<-connects

	for round := 2; round <= 3; round++ {
		if round == 2 {
			if err := e.DropDevice("cam1"); err != nil {
				t.Fatal(err)
			}
		} else {
			e.StopListeners()
		}
		select {
		case <-lost:
		case <-ctx.Done():
			t.Fatalf("round %d: connection loss not reported", round)
		}
		if round == 3 {
			// While the hub is away sends fail at once, so the caller can keep the message.
			if err := c.SendTelemetry(ctx, []byte(`{}`), time.Now(), nil); !errors.Is(err, iothub.ErrNotConnected) {
				t.Fatalf("send during the outage: %v", err)
			}
			if err := e.StartListeners(); err != nil {
				t.Fatal(err)
			}
			if err := c.WaitConnected(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.WaitConnected(ctx, "cam1", round); err != nil {
			t.Fatal(err)
		}
		select {
		case <-connects:
		case <-ctx.Done():
			t.Fatalf("round %d: OnConnect not called after the reconnect", round)
		}
		if !c.Connected() {
			t.Fatalf("round %d: not connected after OnConnect", round)
		}
		if err := e.WaitSubscribed(ctx, "cam1", "$iothub/methods/POST/#"); err != nil {
			t.Fatalf("round %d: not subscribed again: %v", round, err)
		}
		if status, _, err := e.InvokeMethod(ctx, "cam1", "ping", nil); err != nil || status != 200 {
			t.Fatalf("round %d: method after reconnect: %d %v", round, status, err)
		}
		body := []byte(`{"round":` + strconv.Itoa(round) + `}`)
		if err := c.SendTelemetry(ctx, body, time.Now(), nil); err != nil {
			t.Fatalf("round %d: send after reconnect: %v", round, err)
		}
	}
	msgs, err := e.WaitTelemetry(ctx, 2, nil)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("%d messages, %v", len(msgs), err)
	}
}

// TestTokenRenewal sends continuously from several goroutines while tokens of a few seconds are
// renewed: every message arrives exactly once, in order per sender, and no send fails.
func TestTokenRenewal(t *testing.T) {
	e := startEmulator(t, emulator.Config{Devices: []emulator.Device{{ID: "cam1", Key: deviceKey}}})
	o := deviceOptions(t, e, "cam1")
	o.TokenLifetime = 4 * time.Second
	c := dial(t, o)
	ctx := testCtx(t)

	const senders, renewals = 3, 2
	renewed := func() bool { return len(e.Connections()) > renewals }
	sent := make([]int, senders)
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !renewed() || sent[s] < 20 {
				body := fmt.Sprintf(`{"sender":%d,"seq":%d}`, s, sent[s])
				if err := c.SendTelemetry(ctx, []byte(body), time.Now(), nil); err != nil {
					errs <- fmt.Errorf("sender %d message %d: %w", s, sent[s], err)
					return
				}
				sent[s]++
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := 0
	for _, n := range sent {
		total += n
	}
	msgs, err := e.WaitTelemetry(ctx, total, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != total {
		t.Fatalf("emulator has %d messages, clients sent %d", len(msgs), total)
	}
	next := make([]int, senders)
	for _, m := range msgs {
		var v struct{ Sender, Seq int }
		if err := json.Unmarshal(m.Body, &v); err != nil || v.Sender < 0 || v.Sender >= senders || v.Seq != next[v.Sender] {
			t.Fatalf("got %s, want sender %d's message %d next (lost or duplicated)", m.Body, v.Sender, next[v.Sender])
		}
		next[v.Sender]++
	}
	conns := e.Connections()
	for i := 1; i < len(conns); i++ {
		if !conns[i].TokenExpiry.After(conns[i-1].TokenExpiry) {
			t.Fatalf("connection %d reused an old token (expiry %v)", i, conns[i].TokenExpiry)
		}
	}
	if rs := e.Refusals(); len(rs) > 0 {
		t.Fatalf("refused connections during renewal: %+v", rs)
	}
	t.Logf("%d messages over %d connections", total, len(conns))
}

// TestUnacknowledgedAndRefusedTelemetry: a hub that never acknowledges makes a send fail with
// the caller's deadline; one that drops the connection on a message makes it fail with
// ErrNotConnected, and the client reconnects.
func TestUnacknowledgedAndRefusedTelemetry(t *testing.T) {
	e := startEmulator(t, emulator.Config{Devices: []emulator.Device{{ID: "cam1", Key: deviceKey}}})
	o := deviceOptions(t, e, "cam1")
	o.MaxBackoff = time.Second
	c := dial(t, o)
	ctx := testCtx(t)

	if err := e.SetThrottle("cam1", emulator.ThrottleNoAck); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err := c.SendTelemetry(short, []byte(`{"n":1}`), time.Now(), nil)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unacknowledged send: %v", err)
	}

	if err := e.SetThrottle("cam1", emulator.ThrottleDisconnect); err != nil {
		t.Fatal(err)
	}
	if err := c.SendTelemetry(ctx, []byte(`{"n":2}`), time.Now(), nil); !errors.Is(err, iothub.ErrNotConnected) {
		t.Fatalf("send the hub dropped: %v", err)
	}
	if err := e.SetThrottle("cam1", emulator.ThrottleNone); err != nil {
		t.Fatal(err)
	}
	if _, err := e.WaitConnected(ctx, "cam1", 2); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.SendTelemetry(ctx, []byte(`{"n":3}`), time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.WaitTelemetry(ctx, 1, func(m emulator.Telemetry) bool { return string(m.Body) == `{"n":3}` }); err != nil {
		t.Fatal(err)
	}
}

// TestRefusedOnReconnect: when the hub refuses the identity on a reconnect (key rotated, device
// moved by DPS), the client stops with ErrNotAuthorized so the caller can register again.
func TestRefusedOnReconnect(t *testing.T) {
	e := startEmulator(t, emulator.Config{Devices: []emulator.Device{{ID: "cam1", Key: deviceKey}}})
	o := deviceOptions(t, e, "cam1")
	o.MaxBackoff = time.Second
	c := dial(t, o)
	ctx := testCtx(t)
	if err := e.AddDevice(emulator.Device{ID: "cam1", Key: groupKey}); err != nil {
		t.Fatal(err)
	}
	if err := e.DropDevice("cam1"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("client did not stop")
	}
	if !errors.Is(c.Err(), iothub.ErrNotAuthorized) {
		t.Fatalf("Err() = %v", c.Err())
	}
	if err := c.SendTelemetry(ctx, []byte(`{}`), time.Now(), nil); !errors.Is(err, iothub.ErrNotAuthorized) {
		t.Fatalf("send after refusal: %v", err)
	}
	if err := c.WaitConnected(ctx); !errors.Is(err, iothub.ErrNotAuthorized) {
		t.Fatalf("WaitConnected after refusal: %v", err)
	}
}

func TestCloseWhileReconnecting(t *testing.T) {
	e := startEmulator(t, emulator.Config{Devices: []emulator.Device{{ID: "cam1", Key: deviceKey}}})
	o := deviceOptions(t, e, "cam1")
	lost := make(chan error, 1)
	o.OnConnectionLost = func(err error) { lost <- err }
	c, err := iothub.Dial(testCtx(t), o)
	if err != nil {
		t.Fatal(err)
	}
	e.StopListeners()
	<-lost
	if c.Connected() {
		t.Fatal("Connected() during the outage")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(c.Err(), iothub.ErrClosed) {
		t.Fatalf("Err() = %v", c.Err())
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	e := startEmulator(t, emulator.Config{Devices: []emulator.Device{{ID: "cam1", Key: deviceKey}}})
	ctx := testCtx(t)
	before := runtime.NumGoroutine()
	o := deviceOptions(t, e, "cam1")
	o.Methods = func(context.Context, string, []byte) (int, []byte) { return 200, nil }
	o.Desired = func([]byte, int64) {}
	o.C2D = func([]byte, map[string]string) {}
	c, err := iothub.Dial(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendTelemetry(ctx, []byte(`{}`), time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed by Close")
	}
	if err := c.SendTelemetry(ctx, []byte(`{}`), time.Now(), nil); !errors.Is(err, iothub.ErrClosed) {
		t.Fatalf("send after Close: %v", err)
	}
	if err := e.WaitDisconnected(ctx, "cam1"); err != nil {
		t.Fatal(err)
	}
	// paho's goroutines end shortly after the disconnect: wait for the count to settle.
	for runtime.NumGoroutine() > before {
		if ctx.Err() != nil {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before Dial, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func dpsOptions(e *emulator.Emulator, regID string) iothub.DPSOptions {
	return iothub.DPSOptions{
		GlobalEndpoint: e.DPSHost(), IDScope: e.IDScope(), RegistrationID: regID,
		GroupKey: groupKey, ModelID: modelID, CAFile: e.CAFile(), Logger: quietLogger(),
	}
}

func TestDPSGroupEnrollment(t *testing.T) {
	t.Parallel() // mostly waits for retry-after
	e := startEmulator(t, emulator.Config{DPS: emulator.DPSConfig{
		Groups:           []emulator.Group{{Key: groupKey}},
		AssignAfterPolls: 2,
	}})
	ctx := testCtx(t)
	o := dpsOptions(e, "cam-7")
	a, err := iothub.Register(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if a.AssignedHub != e.HubHost() || a.DeviceID != "cam-7" || a.Status != "assigned" || a.Cached {
		t.Fatalf("assignment %+v (hub %s)", a, e.HubHost())
	}

	regs := e.Registrations()
	if len(regs) != 1 || regs[0].Polls < 2 || regs[0].ModelID != modelID || regs[0].Status != "assigned" {
		t.Fatalf("emulator registrations %+v, want one with 2+ polls and model %s", regs, modelID)
	}

	// The assigned identity connects with the derived key and the model ID.
	co, err := a.DeviceOptions(o)
	if err != nil {
		t.Fatal(err)
	}
	co.Logger = quietLogger()
	c := dial(t, co)
	if err := c.SendTelemetry(ctx, []byte(`{"person":1}`), time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	msgs, err := e.WaitTelemetry(ctx, 1, nil)
	if err != nil || msgs[0].DeviceID != "cam-7" || msgs[0].ModelID != modelID {
		t.Fatalf("%+v %v", msgs, err)
	}
}

func TestDPSErrors(t *testing.T) {
	t.Parallel() // mostly waits for retry-after
	e := startEmulator(t, emulator.Config{DPS: emulator.DPSConfig{
		Groups:      []emulator.Group{{Key: groupKey}},
		Enrollments: []emulator.Enrollment{{RegistrationID: "off", Key: deviceKey, Disabled: true}},
	}})
	ctx := testCtx(t)

	o := dpsOptions(e, "cam1")
	o.GroupKey = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="
	_, err := iothub.Register(ctx, o)
	if !errors.Is(err, iothub.ErrNotAuthorized) || !strings.Contains(err.Error(), "ID scope") {
		t.Errorf("wrong group key: %v", err)
	}

	o = dpsOptions(e, "cam1")
	o.IDScope = "0ne0000WRONG"
	if _, err := iothub.Register(ctx, o); err == nil || !strings.Contains(err.Error(), "ID scope") {
		t.Errorf("wrong ID scope: %v", err)
	}

	o = dpsOptions(e, "off")
	o.GroupKey, o.Key = "", deviceKey
	if _, err := iothub.Register(ctx, o); err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("disabled enrollment: %v", err)
	}
}

func TestDPSInjectedFaults(t *testing.T) {
	t.Parallel() // mostly waits for retry-after
	e := startEmulator(t, emulator.Config{DPS: emulator.DPSConfig{Groups: []emulator.Group{{Key: groupKey}}}})
	ctx := testCtx(t)
	o := dpsOptions(e, "cam1")

	// 429 then success: the client waits retry-after and registers again.
	e.FailNextRegistration(emulator.FailThrottled)
	a, err := iothub.Register(ctx, o)
	if err != nil || a.DeviceID != "cam1" {
		t.Fatalf("after 429: %+v %v", a, err)
	}
	var statuses []string
	for _, r := range e.Registrations() {
		statuses = append(statuses, r.Status)
	}
	if strings.Join(statuses, ",") != "throttled,assigned" {
		t.Fatalf("registrations %v, want throttled then assigned", statuses)
	}

	for f, want := range map[emulator.RegistrationFailure]string{
		emulator.FailUnauthorized: "check the ID scope",
		emulator.FailAssignment:   "failed",
		emulator.FailDisabled:     "disabled",
	} {
		e.FailNextRegistration(f)
		_, err := iothub.Register(ctx, o)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("fault %v: %v, want %q", f, err, want)
		}
		if f == emulator.FailUnauthorized && !errors.Is(err, iothub.ErrNotAuthorized) {
			t.Errorf("401 is not ErrNotAuthorized: %v", err)
		}
	}
}

func TestDPSCustomAllocation(t *testing.T) {
	t.Parallel() // mostly waits for retry-after
	requests := make(chan emulator.AllocationRequest, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req emulator.AllocationRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.LinkedHubs) < 2 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		requests <- req
		json.NewEncoder(w).Encode(emulator.AllocationResponse{IotHubHostName: req.LinkedHubs[1], Payload: json.RawMessage(`{"site":"north"}`)})
	}))
	defer hook.Close()
	e := startEmulator(t, emulator.Config{
		Hubs: []emulator.HubConfig{{}, {}},
		DPS:  emulator.DPSConfig{Groups: []emulator.Group{{Key: groupKey}}, Allocation: emulator.AllocateCustom, WebhookURL: hook.URL},
	})
	ctx := testCtx(t)
	o := dpsOptions(e, "cam1")
	o.Payload = json.RawMessage(`{"floor":3}`)
	a, err := iothub.Register(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if a.AssignedHub != e.HubHosts()[1] || string(a.Payload) != `{"site":"north"}` {
		t.Fatalf("assignment %+v, want hub %s and the webhook's payload", a, e.HubHosts()[1])
	}
	req := <-requests
	var sent map[string]any
	if err := json.Unmarshal(req.DeviceRuntimeContext.Payload, &sent); err != nil || sent["floor"] != 3.0 || sent["modelId"] != modelID {
		t.Fatalf("webhook saw device payload %s", req.DeviceRuntimeContext.Payload)
	}
	co, err := a.DeviceOptions(o)
	if err != nil {
		t.Fatal(err)
	}
	co.Logger = quietLogger()
	dial(t, co)
	if conn, ok := e.Connected("cam1"); !ok || conn.Hub != e.HubHosts()[1] {
		t.Fatalf("connected to %+v", conn)
	}
}

func TestRegisterCached(t *testing.T) {
	t.Parallel() // mostly waits for retry-after
	e := startEmulator(t, emulator.Config{DPS: emulator.DPSConfig{Groups: []emulator.Group{{Key: groupKey}}}})
	ctx := testCtx(t)
	dir := t.TempDir()
	o := dpsOptions(e, "cam1")

	a, err := iothub.RegisterCached(ctx, o, dir, false)
	if err != nil || a.Cached {
		t.Fatalf("%+v %v", a, err)
	}
	// With DPS down, the cached assignment is still there.
	e.StopListeners()
	b, err := iothub.RegisterCached(ctx, o, dir, false)
	if err != nil || !b.Cached || b.AssignedHub != a.AssignedHub || b.DeviceID != a.DeviceID {
		t.Fatalf("cached: %+v %v", b, err)
	}
	if err := e.StartListeners(); err != nil {
		t.Fatal(err)
	}
	// Forced (as after the hub refused the cached identity): registers again.
	f, err := iothub.RegisterCached(ctx, o, dir, true)
	if err != nil || f.Cached || f.AssignedHub != a.AssignedHub {
		t.Fatalf("forced: %+v %v", f, err)
	}
	// A corrupt cache file, or a cache that cannot be written (full or read-only disk), never
	// keeps the device from its assignment: it registers and carries on.
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		if err := os.WriteFile(filepath.Join(dir, en.Name()), []byte("{not json"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := iothub.RegisterCached(ctx, o, dir, false); err != nil || c.Cached || c.AssignedHub != a.AssignedHub {
		t.Fatalf("corrupt cache: %+v %v", c, err)
	}
	blocked := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(blocked, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := iothub.RegisterCached(ctx, o, filepath.Join(blocked, "dps"), false); err != nil || c.AssignedHub != a.AssignedHub {
		t.Fatalf("unwritable cache: %+v %v", c, err)
	}
	// Another ID scope does not use the entry.
	o.IDScope = "0ne0000OTHER"
	if _, err := iothub.RegisterCached(ctx, o, dir, false); err == nil {
		t.Fatal("a changed ID scope reused the cached assignment")
	}
}

// TestConcurrentSends checks that sends from several goroutines all complete, so the client
// can be shared.
func TestConcurrentSends(t *testing.T) {
	e := startEmulator(t, emulator.Config{Devices: []emulator.Device{{ID: "cam1", Key: deviceKey}}})
	c := dial(t, deviceOptions(t, e, "cam1"))
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- c.SendTelemetry(ctx, []byte(`{"i":`+strconv.Itoa(i)+`}`), time.Now(), map[string]string{"n": url.QueryEscape("a b")})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.WaitTelemetry(ctx, 40, nil); err != nil {
		t.Fatal(err)
	}
}

func TestPersistentSessionGetsC2DSentWhileOffline(t *testing.T) {
	e := startEmulator(t, emulator.Config{Devices: []emulator.Device{{ID: "cam1", Key: deviceKey}}})
	o := deviceOptions(t, e, "cam1")
	o.MaxBackoff = time.Second
	c2d := make(chan string, 4)
	o.C2D = func(b []byte, props map[string]string) {
		c2d <- string(b) + "|" + props["method-name"] + "|" + props["sum"]
	}
	c := dial(t, o)
	ctx := testCtx(t)
	conn, err := e.WaitConnected(ctx, "cam1", 1)
	if err != nil {
		t.Fatal(err)
	}
	if conn.CleanSession {
		t.Fatal("hub connection with CleanSession 1; the official SDKs use 0")
	}
	if err := e.WaitSubscribed(ctx, "cam1", "devices/cam1/messages/devicebound/#"); err != nil {
		t.Fatal(err)
	}
	// The device goes away; an "if offline" command is sent meanwhile.
	e.StopListeners()
	if err := e.WaitDisconnected(ctx, "cam1"); err != nil {
		t.Fatal(err)
	}
	if err := e.SendC2D("cam1", []byte("{}"), map[string]string{"method-name": "ImageTimerStop", "sum": "1+1"}); err != nil {
		t.Fatal(err)
	}
	if err := e.StartListeners(); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-c2d:
		if m != "{}|ImageTimerStop|1+1" {
			t.Fatalf("c2d %q", m)
		}
	case <-ctx.Done():
		t.Fatal("the C2D message sent while offline never arrived")
	}
	// It may have arrived before the client re-subscribed (paho's default handler).
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestModuleIdentity(t *testing.T) {
	e := startEmulator(t, emulator.Config{Devices: []emulator.Device{{ID: "cam1", ModuleID: "edgecam", Key: deviceKey}}})
	s, err := e.ConnectionString("cam1/edgecam")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := iothub.ParseConnectionString(s)
	if err != nil || cs.ModuleID != "edgecam" {
		t.Fatalf("%q: %+v %v", s, cs, err)
	}
	o := cs.DeviceOptions()
	o.CAFile, o.Logger = e.CAFile(), quietLogger()
	o.Methods = func(context.Context, string, []byte) (int, []byte) { return 200, []byte(`{"ok":true}`) }
	o.Desired = func([]byte, int64) {}
	c := dial(t, o)
	ctx := testCtx(t)
	if err := c.SendTelemetry(ctx, []byte(`{"n":1}`), time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	got, err := e.WaitTelemetry(ctx, 1, emulator.FromDevice("cam1/edgecam"))
	if err != nil || !strings.HasPrefix(got[0].Topic, "devices/cam1/modules/edgecam/messages/events/") {
		t.Fatalf("%+v %v", got, err)
	}
	if err := e.WaitSubscribed(ctx, "cam1/edgecam", "$iothub/methods/POST/#"); err != nil {
		t.Fatal(err)
	}
	if status, body, err := e.InvokeMethod(ctx, "cam1/edgecam", "ping", nil); err != nil || status != 200 || string(body) != `{"ok":true}` {
		t.Fatalf("method on a module: %d %s %v", status, body, err)
	}
	if _, err := c.UpdateReported(ctx, []byte(`{"x":1}`)); err != nil {
		t.Fatal(err)
	}
	if tw, err := c.GetTwin(ctx); err != nil || !strings.Contains(string(tw.Reported), `"x":1`) {
		t.Fatalf("module twin %+v %v", tw, err)
	}
}

func TestTelemetrySizeIncludesProperties(t *testing.T) {
	e := startEmulator(t, emulator.Config{Devices: []emulator.Device{{ID: "cam1", Key: deviceKey}}})
	c := dial(t, deviceOptions(t, e, "cam1"))
	body := make([]byte, 256*1024-200)
	err := c.SendTelemetry(testCtx(t), body, time.Now(), map[string]string{"note": strings.Repeat("x", 300)})
	if !errors.Is(err, iothub.ErrMessageTooLarge) {
		t.Fatalf("body + properties over 256 KB: %v, want ErrMessageTooLarge", err)
	}
	if err := c.SendTelemetry(testCtx(t), body, time.Now(), nil); err != nil {
		t.Fatalf("body + system properties under 256 KB: %v", err)
	}
}

func TestWebSocketTransport(t *testing.T) {
	e := startEmulator(t, emulator.Config{DPS: emulator.DPSConfig{Groups: []emulator.Group{{Key: groupKey}}}})
	ctx := testCtx(t)
	a, err := iothub.Register(ctx, iothub.DPSOptions{
		GlobalEndpoint: e.DPSHost(), IDScope: e.IDScope(), RegistrationID: "ws-cam", GroupKey: groupKey,
		CAFile: e.CAFile(), Logger: quietLogger(), Transport: iothub.TransportMQTTWS,
	})
	if err != nil {
		t.Fatal(err)
	}
	if regs := e.Registrations(); len(regs) != 1 || !regs[0].WebSocket {
		t.Fatalf("registration %+v, want one over WebSockets", regs)
	}
	key, _ := iothub.DeriveDeviceKey(groupKey, "ws-cam")
	c := dial(t, iothub.Options{Host: a.AssignedHub, DeviceID: a.DeviceID, Key: key, CAFile: e.CAFile(), Logger: quietLogger(), Transport: iothub.TransportMQTTWS})
	if err := c.SendTelemetry(ctx, []byte(`{"ws":1}`), time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	if conn, ok := e.Connected("ws-cam"); !ok || !conn.WebSocket {
		t.Fatalf("connection %+v, want MQTT over WebSockets", conn)
	}
	if _, err := iothub.ParseTransport("amqp"); err == nil {
		t.Error("amqp accepted as a transport")
	}
}

func TestRegisterDisabledIsRecognisable(t *testing.T) {
	e := startEmulator(t, emulator.Config{DPS: emulator.DPSConfig{Groups: []emulator.Group{{Key: groupKey}}}})
	e.FailNextRegistration(emulator.FailDisabled)
	_, err := iothub.Register(testCtx(t), iothub.DPSOptions{
		GlobalEndpoint: e.DPSHost(), IDScope: e.IDScope(), RegistrationID: "blocked", GroupKey: groupKey,
		CAFile: e.CAFile(), Logger: quietLogger(),
	})
	if !errors.Is(err, iothub.ErrRegistrationDisabled) {
		t.Fatalf("disabled registration: %v, want ErrRegistrationDisabled", err)
	}
}
