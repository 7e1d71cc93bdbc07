package daemon_test

// End-to-end tests of remote operation (IoT Central commands and writable properties) through
// the real parts: the daemon with the real model and OpenCV, a file camera on a shared photo,
// DPS with a model ID and the emulator over TLS.

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/daemon"
	"github.com/edgecam/edgecam/internal/emulator"
	"github.com/edgecam/edgecam/internal/testfixture"
	"github.com/edgecam/edgecam/internal/testfixture/emutest"
	"github.com/edgecam/edgecam/internal/yolo"
)

const remoteGroupKey = "cmVtb3RlLXRlc3QtZ3JvdXAta2V5LWZvci1lZGdlY2FtLWRhZW1vbg=="

type remoteRig struct {
	t     *testing.T
	emu   *emulator.Emulator
	cfg   *config.Config
	det   *yolo.Detector
	state string
	log   *slog.Logger // nil: discarded (or stderr with -v)

	cancel context.CancelFunc
	done   chan error
}

// newRemoteRig starts the emulator and configures one file camera "cam-bus" on bus.jpg.
func newRemoteRig(t *testing.T, threshold float64) *remoteRig {
	t.Helper()
	return newRemoteRigCamera(t, threshold, `{id: cam-bus, type: file, path: `+photo(t, "bus.jpg")+`}`)
}

// newRemoteRigCamera is newRemoteRig with the camera "cam-bus" given as a YAML flow mapping.
func newRemoteRigCamera(t *testing.T, threshold float64, camera string) *remoteRig {
	t.Helper()
	det := detector(t)
	emu := emutest.Start(t, emulator.Config{
		DPS: emulator.DPSConfig{Groups: []emulator.Group{{Key: remoteGroupKey}}},
	})
	state := t.TempDir()
	yaml := `
model: {path: ` + modelPath(t) + `}
schedule: {due: 0s, period: 1s}
detection:
  scoreThreshold: ` + remoteNum(threshold) + `
  labelsMinimum: [person, bus]
azure:
  dps: {globalEndpoint: "` + emu.DPSHost() + `", idScope: "` + emu.IDScope() + `", groupEnrollmentKey: "` + remoteGroupKey + `"}
  modelId: "dtmi:com:example:edgecam;1"
  caFile: ` + emu.CAFile() + `
state: {dir: ` + state + `}
cameras:
  - ` + camera + `
`
	cfg, err := loadYAML(t, t.TempDir(), yaml)
	if err != nil {
		t.Fatal(err)
	}
	return &remoteRig{t: t, emu: emu, cfg: cfg, det: det, state: state}
}

func remoteNum(f float64) string { b, _ := json.Marshal(f); return string(b) }

func (r *remoteRig) start() {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	log := r.log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if r.log == nil && testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	go func() { r.done <- daemon.Run(ctx, daemon.Options{Config: r.cfg, Detector: r.det, Logger: log}) }()
	r.t.Cleanup(r.stop)
}

func (r *remoteRig) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Errorf("daemon stopped with %v", err)
		}
	case <-time.After(15 * time.Second):
		r.t.Error("daemon did not stop within 15 s")
	}
	r.cancel = nil
}

func remoteCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// after returns a telemetry filter for cam-bus messages received after t0, optionally with a body.
func remoteAfter(t0 time.Time, want map[string]int) func(emulator.Telemetry) bool {
	return func(m emulator.Telemetry) bool {
		if m.DeviceID != "cam-bus" || !m.Received.After(t0) {
			return false
		}
		if want == nil {
			return true
		}
		var got map[string]int
		if json.Unmarshal(m.Body, &got) != nil || len(got) != len(want) {
			return false
		}
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	}
}

func (r *remoteRig) countSince(t0 time.Time) int {
	n := 0
	for _, m := range r.emu.Telemetry() {
		if remoteAfter(t0, nil)(m) {
			n++
		}
	}
	return n
}

func (r *remoteRig) invoke(name string) (int, map[string]any) {
	r.t.Helper()
	status, body, err := r.emu.InvokeMethod(remoteCtx(r.t, 40*time.Second), "cam-bus", name, []byte(`{}`))
	if err != nil {
		r.t.Fatalf("%s: %v", name, err)
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		r.t.Fatalf("%s answered %d with non-JSON %q", name, status, body)
	}
	return status, out
}

// waitAck waits until the twin's reported property name acknowledges desired version av.
func (r *remoteRig) waitAck(name string, av int) map[string]any {
	r.t.Helper()
	tw, err := r.emu.WaitTwin(remoteCtx(r.t, 30*time.Second), "cam-bus", func(tw emulator.Twin) bool {
		a, ok := tw.Reported[name].(map[string]any)
		return ok && a["av"] == float64(av)
	})
	if err != nil {
		r.t.Fatalf("no acknowledgement of %s version %d: %v", name, av, err)
	}
	return tw.Reported[name].(map[string]any)
}

var (
	busAt05 = map[string]int{"person": 3, "bus": 1} // bus.jpg: persons 0.823 0.816 0.676, bus 0.526
	busAt08 = map[string]int{"person": 2, "bus": 0}
)

func TestCommandsRoundTrip(t *testing.T) {
	r := newRemoteRig(t, 0.5)
	r.start()
	if _, err := r.emu.WaitTelemetry(remoteCtx(t, 60*time.Second), 1, remoteAfter(time.Time{}, busAt05)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.emu.WaitConnected(remoteCtx(t, 10*time.Second), "cam-bus", 1); err != nil {
		t.Fatal(err)
	}

	// Reported at connect: the device's own properties and the writable ones with ac 203.
	tw, err := r.emu.WaitTwin(remoteCtx(t, 30*time.Second), "cam-bus", func(tw emulator.Twin) bool { return tw.Reported["ModelClasses"] != nil })
	if err != nil {
		t.Fatal(err)
	}
	if tw.Reported["ModelClasses"] != float64(80) || tw.Reported["CameraKind"] != "file" || tw.Reported["ApplicationVersion"] == nil ||
		tw.Reported["OSVersion"] == nil || tw.Reported["MachineName"] == nil {
		t.Errorf("reported properties %v", tw.Reported)
	}
	if p, _ := tw.Reported["ImageTimerPeriod"].(map[string]any); p["value"] != "PT1S" || p["ac"] != float64(203) {
		t.Errorf("reported ImageTimerPeriod %v", tw.Reported["ImageTimerPeriod"])
	}

	// ImageTimerStop: no telemetry for several periods.
	if status, body := r.invoke("ImageTimerStop"); status != 200 || body["timer"] != "stopped" {
		t.Fatalf("ImageTimerStop: %d %v", status, body)
	}
	time.Sleep(1500 * time.Millisecond) // a tick already in flight may still land
	quiet := time.Now()
	time.Sleep(4 * time.Second)
	if n := r.countSince(quiet); n != 0 {
		t.Fatalf("%d messages in 4 periods after ImageTimerStop", n)
	}
	// CaptureNow runs one tick even while the timer is stopped and returns its tally.
	status, body := r.invoke("CaptureNow")
	if status != 200 || body["person"] != float64(3) || body["bus"] != float64(1) {
		t.Fatalf("CaptureNow: %d %v", status, body)
	}
	// ImageTimerStart: telemetry again.
	started := time.Now()
	if status, body := r.invoke("ImageTimerStart"); status != 200 || body["timer"] != "started" {
		t.Fatalf("ImageTimerStart: %d %v", status, body)
	}
	if _, err := r.emu.WaitTelemetry(remoteCtx(t, 30*time.Second), 2, remoteAfter(started, busAt05)); err != nil {
		t.Fatal(err)
	}
	// Unknown command: 501 with a JSON error, as the original.
	if status, body := r.invoke("Reboot"); status != 501 || body["error"] == nil {
		t.Fatalf("unknown command: %d %v", status, body)
	}
	// IoT Central's queued ("if offline") commands arrive as C2D messages with method-name.
	if err := r.emu.SendC2D("cam-bus", []byte(`{}`), map[string]string{"method-name": "ImageTimerStop"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		time.Sleep(1500 * time.Millisecond)
		mark := time.Now()
		time.Sleep(3 * time.Second)
		if r.countSince(mark) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the C2D ImageTimerStop did not stop the timer")
		}
	}
	// The stop survives a restart (persisted in state.dir) until ImageTimerStart.
	r.stop()
	restarted := time.Now()
	r.start()
	if _, err := r.emu.WaitConnected(remoteCtx(t, 30*time.Second), "cam-bus", 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if n := r.countSince(restarted); n != 0 {
		t.Fatalf("%d messages after a restart with the timer stopped", n)
	}
	started = time.Now()
	r.invoke("ImageTimerStart")
	if _, err := r.emu.WaitTelemetry(remoteCtx(t, 30*time.Second), 1, remoteAfter(started, busAt05)); err != nil {
		t.Fatal(err)
	}
}

func TestWritablePropertiesChangeTheTally(t *testing.T) {
	r := newRemoteRig(t, 0.5)
	r.start()
	if _, err := r.emu.WaitTelemetry(remoteCtx(t, 60*time.Second), 1, remoteAfter(time.Time{}, busAt05)); err != nil {
		t.Fatal(err)
	}

	// A valid threshold: acknowledged with ac 200, and the next tallies follow it.
	v, err := r.emu.UpdateDesired("cam-bus", map[string]any{"PredictionScoreThreshold": 0.8})
	if err != nil {
		t.Fatal(err)
	}
	if a := r.waitAck("PredictionScoreThreshold", v); a["ac"] != float64(200) || a["value"] != 0.8 {
		t.Fatalf("ack %v", a)
	}
	changed := time.Now()
	if _, err := r.emu.WaitTelemetry(remoteCtx(t, 30*time.Second), 2, remoteAfter(changed, busAt08)); err != nil {
		t.Fatal(err)
	}

	// An invalid one: refused with ac 400 and a reason; the old value stays.
	v, err = r.emu.UpdateDesired("cam-bus", map[string]any{"PredictionScoreThreshold": 1.5})
	if err != nil {
		t.Fatal(err)
	}
	// Plug and Play: a refused value is acknowledged with the value still in use.
	if a := r.waitAck("PredictionScoreThreshold", v); a["ac"] != float64(400) || a["ad"] == "" || a["value"] != 0.8 {
		t.Fatalf("ack of an invalid threshold %v", a)
	}
	refused := time.Now()
	got, err := r.emu.WaitTelemetry(remoteCtx(t, 30*time.Second), 2, remoteAfter(refused, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range got {
		if !remoteAfter(refused, busAt08)(m) {
			t.Fatalf("after a refused threshold: %s", m.Body)
		}
	}
	// A period the cloud sets too short is refused: it would flood the hub.
	v, _ = r.emu.UpdateDesired("cam-bus", map[string]any{"ImageTimerPeriod": "PT0.01S"})
	if a := r.waitAck("ImageTimerPeriod", v); a["ac"] != float64(400) {
		t.Fatalf("ack of a 10 ms period %v", a)
	}
	// An unknown label is refused too.
	v, _ = r.emu.UpdateDesired("cam-bus", map[string]any{"PredictionLabelsMinimum": "person,persn"})
	if a := r.waitAck("PredictionLabelsMinimum", v); a["ac"] != float64(400) {
		t.Fatalf("ack of an unknown label %v", a)
	}

	// The accepted setting survives a restart, even one that starts offline.
	r.stop()
	r.emu.StopListeners()
	offline := time.Now()
	r.start()
	time.Sleep(2500 * time.Millisecond) // ticks queue up while offline, scored at 0.8
	// A patch made while edgecam is disconnected is applied after it reconnects (twin GET).
	v, err = r.emu.UpdateDesired("cam-bus", map[string]any{"PredictionScoreThreshold": 0.5, "ImageTimerPeriod": "PT2S"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.emu.StartListeners(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.emu.WaitTelemetry(remoteCtx(t, 60*time.Second), 1, remoteAfter(offline, busAt08)); err != nil {
		t.Fatalf("tallies queued while offline after the restart: %v", err)
	}
	if a := r.waitAck("PredictionScoreThreshold", v); a["ac"] != float64(200) || a["value"] != 0.5 {
		t.Fatalf("ack after reconnect %v", a)
	}
	if a := r.waitAck("ImageTimerPeriod", v); a["ac"] != float64(200) || a["value"] != "PT2S" {
		t.Fatalf("period ack after reconnect %v", a)
	}
	// The refused labels keep their 400 across the restart (not overwritten by a 203).
	if tw, err := r.emu.Twin("cam-bus"); err != nil {
		t.Fatal(err)
	} else if a, _ := tw.Reported["PredictionLabelsMinimum"].(map[string]any); a["ac"] != float64(400) {
		t.Fatalf("refused property after reconnect %v", tw.Reported["PredictionLabelsMinimum"])
	}
	back := time.Now()
	if _, err := r.emu.WaitTelemetry(remoteCtx(t, 30*time.Second), 1, remoteAfter(back, busAt05)); err != nil {
		t.Fatal(err)
	}
	saved, err := os.ReadFile(filepath.Join(r.state, "settings", "cam-bus.json"))
	if err != nil || !json.Valid(saved) {
		t.Fatalf("persisted settings: %v %s", err, saved)
	}
}

// A desired property deleted in the cloud (JSON null in the patch) gives the property back to
// the configuration file: the value in force reverts and is acknowledged with ac 203, as at
// connect, instead of being refused as "0 is outside (0,1]" (threshold) or applied as an empty
// list (labels).
func TestDeletedDesiredPropertyRevertsToTheConfiguration(t *testing.T) {
	r := newRemoteRig(t, 0.5)
	r.start()
	if _, err := r.emu.WaitTelemetry(remoteCtx(t, 60*time.Second), 1, remoteAfter(time.Time{}, busAt05)); err != nil {
		t.Fatal(err)
	}
	v, err := r.emu.UpdateDesired("cam-bus", map[string]any{"PredictionScoreThreshold": 0.8, "PredictionLabelsMinimum": "person"})
	if err != nil {
		t.Fatal(err)
	}
	if a := r.waitAck("PredictionScoreThreshold", v); a["ac"] != float64(200) || a["value"] != 0.8 {
		t.Fatalf("ack %v", a)
	}
	v, err = r.emu.UpdateDesired("cam-bus", map[string]any{"PredictionScoreThreshold": nil, "PredictionLabelsMinimum": nil})
	if err != nil {
		t.Fatal(err)
	}
	if a := r.waitAck("PredictionScoreThreshold", v); a["ac"] != float64(203) || a["value"] != 0.5 {
		t.Fatalf("ack of the deleted threshold %v, want ac 203 and the configuration's 0.5", a)
	}
	if a := r.waitAck("PredictionLabelsMinimum", v); a["ac"] != float64(203) || a["value"] != "person,bus" {
		t.Fatalf("ack of the deleted labelsMinimum %v, want ac 203 and the configuration's person,bus", a)
	}
	if _, err := r.emu.WaitTelemetry(remoteCtx(t, 30*time.Second), 2, remoteAfter(time.Now(), busAt05)); err != nil {
		t.Fatalf("tallies after the deletion: %v", err)
	}
}

// A score threshold changed from the cloud reaches a continuous-analysis camera's tracker at
// its next analysed frame, not only the tally: the daemon logs it once for the camera (the
// tracker taking it is analysis.TestSetRulesMovesTheTrackerThreshold), and frames analysed
// after it do not log it again.
func TestDesiredThresholdReachesTheTracker(t *testing.T) {
	testfixture.RequireFFmpeg(t)
	feed := testfixture.StartRTSPFeed(t, testfixture.FreeAddr(t), testfixture.MakeClip(t, photo(t, "bus.jpg")))
	defer feed.Stop()
	r := newRemoteRigCamera(t, 0.8, `{id: cam-bus, type: rtsp, url: "`+feed.URL("", "")+`", analysis: {fps: 2},
    lines: [{name: door, points: [[0.5, 0.02], [0.5, 0.99]], in: right, labels: [person]}]}`)
	lr, log := newLogRecorder(t)
	r.log = log
	r.start()
	analysed := func(rec logRecord) bool {
		n, _ := rec.Attrs["inferences"].(int64)
		return rec.Msg == "tick" && rec.Attrs["camera"] == "cam-bus" && n > 0
	}
	followed := func(rec logRecord) bool {
		return rec.Msg == "analysis: the tracker follows the new score threshold" && rec.Attrs["camera"] == "cam-bus"
	}
	if _, err := lr.wait(remoteCtx(t, 60*time.Second), 1, analysed); err != nil {
		t.Fatalf("no frame analysed: %v", err)
	}
	if got := lr.find(followed); len(got) != 0 {
		t.Fatalf("the tracker's threshold changed with no update: %v", got)
	}

	v, err := r.emu.UpdateDesired("cam-bus", map[string]any{"PredictionScoreThreshold": 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if a := r.waitAck("PredictionScoreThreshold", v); a["ac"] != float64(200) || a["value"] != 0.5 {
		t.Fatalf("ack %v", a)
	}
	got, err := lr.wait(remoteCtx(t, 30*time.Second), 1, followed)
	if err != nil {
		t.Fatalf("the tracker did not take the new threshold: %v", err)
	}
	if th, _ := got[0].Attrs["threshold"].(float64); th != 0.5 {
		t.Fatalf("logged %v, want threshold 0.5", got[0])
	}
	// Frames analysed after it (the ticks' count of frames grows) log nothing more.
	frames := func(rec logRecord) int64 {
		n, _ := rec.Attrs["inferences"].(int64)
		s, _ := rec.Attrs["skipped"].(int64)
		return n + s
	}
	atChange := int64(0)
	for _, rec := range lr.find(analysed) {
		atChange = max(atChange, frames(rec))
	}
	if _, err := lr.wait(remoteCtx(t, 30*time.Second), 1, func(rec logRecord) bool {
		return analysed(rec) && frames(rec) >= atChange+3
	}); err != nil {
		t.Fatalf("no frames analysed after the change: %v", err)
	}
	if got := lr.find(followed); len(got) != 1 {
		t.Fatalf("logged %d times, want once: %v", len(got), got)
	}
}
