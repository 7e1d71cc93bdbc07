package daemon_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/emulator"
	"github.com/edgecam/edgecam/internal/testfixture/emutest"
)

// fromDevice returns the telemetry the emulator received from one device, oldest first.
func fromDevice(e *emulator.Emulator, id string) []emulator.Telemetry {
	var out []emulator.Telemetry
	for _, m := range e.Telemetry() {
		if m.DeviceID == id {
			out = append(out, m)
		}
	}
	return out
}

// creationTime parses a message's iothub-creation-time-utc.
func creationTime(t *testing.T, m emulator.Telemetry) time.Time {
	t.Helper()
	s, ok := m.Properties["iothub-creation-time-utc"]
	if !ok {
		t.Fatalf("%s: message without iothub-creation-time-utc; properties %v", m.DeviceID, m.Properties)
	}
	ct, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%s: iothub-creation-time-utc %q: %v", m.DeviceID, s, err)
	}
	return ct
}

// checkMessages checks every message of a device: the exact body, the JSON content properties,
// the model ID of its connection, and creation times strictly increasing within [from, to].
func checkMessages(t *testing.T, id string, msgs []emulator.Telemetry, wantBody, wantModel string, from, to time.Time) {
	t.Helper()
	var last time.Time
	for i, m := range msgs {
		if string(m.Body) != wantBody {
			t.Errorf("%s message %d: body %s, want %s", id, i, m.Body, wantBody)
		}
		if m.Properties["$.ct"] != "application/json" || m.Properties["$.ce"] != "utf-8" {
			t.Errorf("%s message %d: $.ct=%q $.ce=%q, want application/json and utf-8",
				id, i, m.Properties["$.ct"], m.Properties["$.ce"])
		}
		if m.ModelID != wantModel {
			t.Errorf("%s message %d: sent on a connection with model ID %q, want %q", id, i, m.ModelID, wantModel)
		}
		ct := creationTime(t, m)
		if ct.Before(from.Truncate(time.Millisecond)) || ct.After(to) {
			t.Errorf("%s message %d: creation time %v outside the run [%v, %v]", id, i, ct, from, to)
		}
		if !ct.After(last) {
			t.Errorf("%s message %d: creation time %v not after the previous one %v", id, i, ct, last)
		}
		last = ct
	}
}

// The main job end to end: real model and ONNX Runtime, real OpenCV decoding, file and HTTP
// cameras, DPS registration with a group key and a model ID, MQTT over TLS to the emulator.
func TestDeliversTalliesThroughDPSWithModelID(t *testing.T) {
	e := startEmulator(t)
	srv := snapshotServer(t, photo(t, "person.jpg"), "viewer", "s3cret", nil)
	cfg := dpsConfig(t, e)
	dogOnly := []string{"dog"}
	quiet := fileCamera("quiet", photo(t, "bus.jpg"))
	quiet.Detection = &config.DetectionOverride{LabelsOfInterest: &dogOnly}
	cfg.Cameras = []config.Camera{
		fileCamera("bus-stop", photo(t, "bus.jpg")),
		fileCamera("pitch", photo(t, "zidane.jpg")),
		{ID: "yard", Type: config.TypeHTTP, URL: srv.URL + "/snapshot.jpg", Username: "viewer", Password: "s3cret"},
		quiet,
	}
	// Threshold 0.5 (see ../shared/testdata/README.md): bus.jpg has persons at 0.823, 0.816 and
	// 0.676 and a bus at 0.526; zidane.jpg a person at 0.790 (0.368 and the tie at 0.271 are
	// below); person.jpg a person, a dog and a horse. Keys are DTDL-safe with a model ID.
	want := map[string]string{
		"bus-stop": `{"bicycle":0,"bus":1,"car":0,"person":3,"traffic_light":0}`,
		"pitch":    `{"bicycle":0,"car":0,"person":1,"traffic_light":0}`,
		"yard":     `{"bicycle":0,"car":0,"dog":1,"horse":1,"person":1,"traffic_light":0}`,
	}
	lr, log := newLogRecorder(t)
	start := time.Now()
	d := startDaemon(t, cfg, log, nil)

	const periods = 3
	ctx := waitCtx(t)
	for id := range want {
		if _, err := e.WaitTelemetry(ctx, periods, emulator.FromDevice(id)); err != nil {
			t.Fatalf("%s: %v; received %d messages", id, err, len(fromDevice(e, id)))
		}
	}
	// The quiet camera's bus.jpg has no dog: several periods of ticks, none sent.
	if _, err := lr.wait(ctx, periods, ticks("quiet", false)); err != nil {
		t.Fatalf("quiet camera: %v", err)
	}
	if err := d.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	end := time.Now()

	for id, body := range want {
		checkMessages(t, id, fromDevice(e, id), body, modelID, start, end)
	}
	if got := fromDevice(e, "quiet"); len(got) != 0 {
		t.Errorf("quiet camera (labelsOfInterest [dog] on bus.jpg) sent %d messages, first %s", len(got), got[0].Body)
	}
	if sent := lr.find(ticks("quiet", true)); len(sent) != 0 {
		t.Errorf("quiet camera logged %d ticks with send=true", len(sent))
	}
	for _, id := range []string{"bus-stop", "pitch", "yard"} {
		if n, sent := len(lr.find(ticks(id, false))), len(lr.find(ticks(id, true))); n != 0 || sent < periods {
			t.Errorf("%s: %d ticks sent, %d not sent; want every tick sent", id, sent, n)
		}
	}

	// Every camera registered through the group enrollment, announcing the model ID.
	regs := e.Registrations()
	registered := map[string]bool{}
	for _, r := range regs {
		if r.Status != "assigned" || r.Enrollment != groupName || r.ModelID != modelID {
			t.Errorf("registration %s: status %q, enrollment %q, model ID %q; want assigned, %q, %q",
				r.RegistrationID, r.Status, r.Enrollment, r.ModelID, groupName, modelID)
		}
		registered[r.RegistrationID] = true
	}
	for _, c := range cfg.Cameras {
		if !registered[c.ID] {
			t.Errorf("camera %s did not register through DPS; registrations %+v", c.ID, regs)
		}
	}
	for _, c := range e.Connections() {
		if c.ModelID != modelID {
			t.Errorf("%s connected with model ID %q, want %q", c.DeviceID, c.ModelID, modelID)
		}
	}
	for _, r := range lr.find(func(r logRecord) bool { return r.Level >= slog.LevelWarn }) {
		t.Errorf("unexpected warning: %v", r)
	}
}

// The connection string path: no DPS, no model ID, so the keys are the COCO names.
func TestDeliversTalliesWithConnectionString(t *testing.T) {
	const deviceKey = "ZGFlbW9uLXRlc3RzLWZyb250LWRvb3Ita2V5LTAxMjM0NTY3ODk=" // tests only
	e := emutest.Start(t, emulator.Config{
		Devices: []emulator.Device{{ID: "front-door", Key: deviceKey}},
	})
	cs, err := e.ConnectionString("front-door")
	if err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(t, e)
	cfg.Azure.ConnectionString = cs
	cfg.Cameras = []config.Camera{fileCamera("front-door", photo(t, "bus.jpg"))}
	_, log := newLogRecorder(t)
	start := time.Now()
	d := startDaemon(t, cfg, log, nil)
	ctx := waitCtx(t)
	if _, err := e.WaitTelemetry(ctx, 2, emulator.FromDevice("front-door")); err != nil {
		t.Fatal(err)
	}
	if err := d.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkMessages(t, "front-door", fromDevice(e, "front-door"),
		`{"bicycle":0,"bus":1,"car":0,"person":3,"traffic light":0}`, "", start, time.Now())
	if regs := e.Registrations(); len(regs) != 0 {
		t.Errorf("a connection string configuration registered through DPS: %+v", regs)
	}
}

// A camera that fails (the HTTP camera answers 500, the file holds a truncated JPEG) logs a
// warning and sends nothing for that tick; the daemon keeps running and the other cameras keep
// sending, and the HTTP camera sends again once it recovers.
func TestFailingCameraSkipsOnlyItsTicks(t *testing.T) {
	e := startEmulator(t)
	srv := snapshotServer(t, photo(t, "horses.jpg"), "viewer", "s3cret", func(n int) int {
		if n <= 2 {
			return 500
		}
		return 0
	})
	bus, err := os.ReadFile(photo(t, "bus.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(t.TempDir(), "truncated.jpg")
	if err := os.WriteFile(truncated, bus[:1000], 0o644); err != nil { // JPEG headers, no pixels
		t.Fatal(err)
	}
	cfg := dpsConfig(t, e)
	cfg.Cameras = []config.Camera{
		fileCamera("bus-stop", photo(t, "bus.jpg")),
		{ID: "gate", Type: config.TypeHTTP, URL: srv.URL + "/snapshot.jpg", Username: "viewer", Password: "s3cret"},
		fileCamera("broken", truncated),
	}
	lr, log := newLogRecorder(t)
	start := time.Now()
	d := startDaemon(t, cfg, log, nil)

	ctx := waitCtx(t)
	// The broken camera fails tick after tick; meanwhile the others send.
	if _, err := lr.wait(ctx, 3, warnings("broken")); err != nil {
		t.Fatalf("broken camera: %v", err)
	}
	if _, err := e.WaitTelemetry(ctx, 2, emulator.FromDevice("gate")); err != nil {
		t.Fatalf("gate camera after its 500s: %v", err)
	}
	n := len(fromDevice(e, "bus-stop"))
	if _, err := e.WaitTelemetry(ctx, n+2, emulator.FromDevice("bus-stop")); err != nil {
		t.Fatalf("bus-stop camera while another camera fails: %v", err)
	}
	if exited, err := d.exited(); exited {
		t.Fatalf("Run returned while a camera was failing: %v", err)
	}
	if err := d.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	end := time.Now()

	if got := fromDevice(e, "broken"); len(got) != 0 {
		t.Errorf("broken camera sent %d messages, first %s", len(got), got[0].Body)
	}
	for _, r := range lr.find(warnings("broken")) {
		// The truncated frame is refused at capture, from its header, before any decode.
		if msg := r.String(); !strings.Contains(msg, "capture failed") || !strings.Contains(msg, "truncated JPEG") {
			t.Errorf("broken camera's warning does not say the capture found a truncated JPEG: %s", msg)
		}
	}
	if ticked := lr.find(func(r logRecord) bool { return r.Msg == "tick" && r.Attrs["camera"] == "broken" }); len(ticked) != 0 {
		t.Errorf("broken camera logged %d ticks as if scored", len(ticked))
	}
	gateWarnings := lr.find(warnings("gate"))
	if len(gateWarnings) != 2 {
		t.Errorf("gate camera: %d warnings, want 2 (its first two captures got 500)", len(gateWarnings))
	}
	for _, r := range gateWarnings {
		if msg := r.String(); !strings.Contains(msg, "capture failed") || !strings.Contains(msg, "500") {
			t.Errorf("gate camera's warning does not say the capture failed with 500: %s", msg)
		}
	}
	// Every tick that captured and scored was sent, and only those.
	gate := fromDevice(e, "gate")
	if sent := lr.find(ticks("gate", true)); len(sent) != len(gate) {
		t.Errorf("gate camera: %d ticks sent, %d messages received", len(sent), len(gate))
	}
	checkMessages(t, "gate", gate, `{"bicycle":0,"car":0,"horse":4,"person":0,"traffic_light":0}`, modelID, start, end)
	checkMessages(t, "bus-stop", fromDevice(e, "bus-stop"),
		`{"bicycle":0,"bus":1,"car":0,"person":3,"traffic_light":0}`, modelID, start, end)
	for _, r := range lr.find(func(r logRecord) bool { return r.Level >= slog.LevelWarn }) {
		if c := r.Attrs["camera"]; c != "broken" && c != "gate" {
			t.Errorf("unexpected warning: %v", r)
		}
	}
}
