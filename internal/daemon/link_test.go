package daemon_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/emulator"
	"github.com/edgecam/edgecam/internal/iothub"
	"github.com/edgecam/edgecam/internal/testfixture/emutest"
)

// A camera provisioned through DPS whose hub disappears registers again after
// azure.dps.reprovisionAfter and lands on the hub DPS now allocates.
func TestCameraMovesToSecondHubWhenFirstDisappears(t *testing.T) {
	e := emutest.Start(t, emulator.Config{
		Hubs: []emulator.HubConfig{{}, {}},
		DPS:  emulator.DPSConfig{Groups: []emulator.Group{{Name: groupName, Key: groupKey}}},
	})
	cfg := dpsConfig(t, e)
	cfg.Azure.DPS.ReprovisionAfter = config.Duration(time.Second)
	cfg.Cameras = []config.Camera{fileCamera("mover", photo(t, "bus.jpg"))}
	startDaemon(t, cfg, discardLogger(), nil)
	ctx := waitCtx(t)

	hub1, hub2 := e.HubHosts()[0], e.HubHosts()[1]
	if _, err := e.WaitTelemetry(ctx, 1, func(m emulator.Telemetry) bool { return m.DeviceID == "mover" && m.Hub == hub1 }); err != nil {
		t.Fatalf("first hub: %v", err)
	}
	if err := e.RemoveHub(0); err != nil {
		t.Fatal(err)
	}
	gone := time.Now()
	if _, err := e.WaitTelemetry(ctx, 1, func(m emulator.Telemetry) bool { return m.DeviceID == "mover" && m.Hub == hub2 }); err != nil {
		t.Fatalf("no telemetry through the second hub after the first disappeared: %v (registrations %+v)", err, e.Registrations())
	}
	regs := e.Registrations()
	if len(regs) != 2 || regs[1].AssignedHub != hub2 || regs[1].Substatus != "deviceDataMigrated" || regs[1].Time.Before(gone.Add(time.Second)) {
		t.Fatalf("registrations %+v: want a second one, to %s, at least reprovisionAfter after the hub went", regs, hub2)
	}
}

// IoT Central's "queue if offline" command is a cloud-to-device message: one sent while the
// camera is disconnected reaches it after it reconnects (persistent session) and stops the timer.
func TestQueuedOfflineCommandDeliveredAfterReconnect(t *testing.T) {
	e := startEmulator(t)
	cfg := dpsConfig(t, e)
	cfg.Cameras = []config.Camera{fileCamera("queued", photo(t, "bus.jpg"))}
	lr, log := newLogRecorder(t)
	startDaemon(t, cfg, log, nil)
	ctx := waitCtx(t)
	if _, err := e.WaitTelemetry(ctx, 1, emulator.FromDevice("queued")); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitSubscribed(ctx, "queued", "devices/queued/messages/devicebound/#"); err != nil {
		t.Fatal(err)
	}
	e.StopListeners()
	if err := e.WaitDisconnected(ctx, "queued"); err != nil {
		t.Fatal(err)
	}
	if err := e.SendC2D("queued", []byte(`{}`), map[string]string{"method-name": "ImageTimerStop"}); err != nil {
		t.Fatalf("queueing the command while the camera is offline: %v", err)
	}
	if err := e.StartListeners(); err != nil {
		t.Fatal(err)
	}
	if _, err := lr.wait(ctx, 1, func(r logRecord) bool {
		return r.Msg == "queued command done" && r.Attrs["name"] == "ImageTimerStop" && fmt.Sprint(r.Attrs["status"]) == "200"
	}); err != nil {
		t.Fatalf("the command queued while offline was not run after the reconnect: %v", err)
	}
}

// A camera with its own key (derived off the device with provision --derive-key): no group key
// in the configuration, and DPS still admits it through the group enrollment.
func TestCameraWithItsOwnDeviceKey(t *testing.T) {
	e := startEmulator(t)
	cfg := dpsConfig(t, e)
	key, err := iothub.DeriveDeviceKey(groupKey, "own-key")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Azure.DPS.GroupEnrollmentKey = ""
	cam := fileCamera("own-key", photo(t, "bus.jpg"))
	cam.DeviceKey = key
	cfg.Cameras = []config.Camera{cam}
	startDaemon(t, cfg, discardLogger(), nil)
	if _, err := e.WaitTelemetry(waitCtx(t), 1, emulator.FromDevice("own-key")); err != nil {
		t.Fatal(err)
	}
	if regs := e.Registrations(); len(regs) != 1 || regs[0].Enrollment != groupName {
		t.Fatalf("registrations %+v", regs)
	}
}

// A connection string with ModuleId: the camera runs as a module identity, which gets direct
// methods and the twin but no cloud-to-device subscription (the hub refuses modules one).
func TestCameraAsModuleIdentity(t *testing.T) {
	const key = "bW9kdWxlLWlkZW50aXR5LWtleS1mb3ItdGhlLWRhZW1vbi10ZXN0"
	e := emutest.Start(t, emulator.Config{
		Devices: []emulator.Device{{ID: "gateway", ModuleID: "edgecam", Key: key}},
	})
	cs, err := e.ConnectionString("gateway/edgecam")
	if err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(t, e)
	cfg.Azure.ConnectionString = cs
	cfg.Cameras = []config.Camera{fileCamera("gateway", photo(t, "bus.jpg"))}
	startDaemon(t, cfg, discardLogger(), nil)
	ctx := waitCtx(t)
	if _, err := e.WaitTelemetry(ctx, 1, emulator.FromDevice("gateway/edgecam")); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitSubscribed(ctx, "gateway/edgecam", "$iothub/methods/POST/#"); err != nil {
		t.Fatal(err)
	}
	status, body, err := e.InvokeMethod(ctx, "gateway/edgecam", "ImageTimerStop", nil)
	if err != nil || status != 200 {
		t.Fatalf("command on the module: %d %s %v", status, body, err)
	}
	if _, err := e.WaitTwin(ctx, "gateway/edgecam", func(tw emulator.Twin) bool { return tw.Reported["CameraKind"] == "file" }); err != nil {
		t.Fatal(err)
	}
	if refused := e.Refusals(); len(refused) != 0 {
		t.Errorf("refusals %+v", refused)
	}
}

// azure.transport: mqtt-ws takes DPS and the hub over WebSockets.
func TestCameraOverWebSockets(t *testing.T) {
	e := startEmulator(t)
	cfg := dpsConfig(t, e)
	cfg.Azure.Transport = "mqtt-ws"
	cfg.Cameras = []config.Camera{fileCamera("ws-cam", photo(t, "bus.jpg"))}
	startDaemon(t, cfg, discardLogger(), nil)
	ctx := waitCtx(t)
	if _, err := e.WaitTelemetry(ctx, 1, emulator.FromDevice("ws-cam")); err != nil {
		t.Fatal(err)
	}
	if regs := e.Registrations(); len(regs) != 1 || !regs[0].WebSocket {
		t.Errorf("registrations %+v, want one over WebSockets", regs)
	}
	for _, c := range e.Connections() {
		if !c.WebSocket {
			t.Errorf("hub connection over plain MQTT: %+v", c)
		}
	}
}
