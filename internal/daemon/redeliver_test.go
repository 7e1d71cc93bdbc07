package daemon_test

import (
	"testing"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/emulator"
)

// A network that fails after the hub recorded a tally but before its acknowledgement makes the
// spool send the tally again: the hub gets it twice, with one message-id ($.mid), so a consumer
// that drops repeated message-ids counts every tally once, and none is missing.
func TestRedeliveryKeepsMessageID(t *testing.T) {
	e := startEmulator(t)
	cfg := dpsConfig(t, e)
	cfg.Cameras = []config.Camera{fileCamera("pitch", photo(t, "zidane.jpg"))}
	lr, log := newLogRecorder(t)
	ctx := waitCtx(t)
	d := startDaemon(t, cfg, log, nil)
	wait := func(n int, what string) {
		t.Helper()
		if _, err := e.WaitTelemetry(ctx, n, emulator.FromDevice("pitch")); err != nil {
			t.Fatalf("%s: %v (received %d)", what, err, len(fromDevice(e, "pitch")))
		}
	}
	wait(1, "the first tally")
	if err := e.SetThrottle("pitch", emulator.ThrottleAckLost); err != nil {
		t.Fatal(err)
	}
	n := len(fromDevice(e, "pitch"))
	// Recorded, its PUBACK lost, sent again after the reconnection: at least twice more.
	wait(n+2, "the tally whose acknowledgement is lost, and its redelivery")
	if err := e.SetThrottle("pitch", emulator.ThrottleNone); err != nil {
		t.Fatal(err)
	}
	wait(len(fromDevice(e, "pitch"))+3, "tallies after the network recovered")
	if err := d.stop(t); err != nil {
		t.Fatal(err)
	}

	msgs := fromDevice(e, "pitch")
	first := map[string]emulator.Telemetry{} // by message-id
	times := map[string]bool{}
	repeats := 0
	for _, m := range msgs {
		mid, ct := m.Properties["$.mid"], m.Properties["iothub-creation-time-utc"]
		if len(mid) != 32 {
			t.Fatalf("message-id %q: want 32 hex digits (properties %v)", mid, m.Properties)
		}
		if f, ok := first[mid]; ok {
			repeats++
			if string(f.Body) != string(m.Body) || f.Properties["iothub-creation-time-utc"] != ct {
				t.Errorf("message-id %s on two different tallies: %s at %s and %s at %s", mid,
					f.Body, f.Properties["iothub-creation-time-utc"], m.Body, ct)
			}
			continue
		}
		first[mid] = m
		if times[ct] {
			t.Errorf("two message-ids for the tally captured at %s", ct)
		}
		times[ct] = true
	}
	if repeats == 0 {
		t.Fatalf("no tally arrived twice in %d messages: the lost acknowledgement was not exercised", len(msgs))
	}
	// Every tally the daemon sent is there once its repeats are dropped; the last ones may have
	// been queued at the stop, never delivered.
	sent := len(lr.find(ticks("pitch", true)))
	if len(first) > sent || len(first) < sent-2 {
		t.Errorf("%d tallies sent, %d distinct message-ids delivered", sent, len(first))
	}
	t.Logf("%d messages, %d distinct tallies, %d repeats (each with its first delivery's message-id), %d ticks sent",
		len(msgs), len(first), repeats, sent)
}
