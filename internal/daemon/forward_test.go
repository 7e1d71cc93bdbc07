package daemon_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/emulator"
	"github.com/edgecam/edgecam/internal/queue"
)

// Store-and-forward: the hub goes away for several periods and edgecam is restarted while it is
// away. Every tick's tally arrives once the hub is back, oldest first, with its capture time;
// none is lost. A duplicate is acceptable only where an acknowledgement was lost (the hub
// recorded the message but the outage cut its PUBACK), and the test says so when it happens.
func TestStoreAndForwardAcrossOutageAndRestart(t *testing.T) {
	e := startEmulator(t)
	cfg := dpsConfig(t, e)
	cfg.Cameras = []config.Camera{
		fileCamera("bus-stop", photo(t, "bus.jpg")),
		fileCamera("pitch", photo(t, "zidane.jpg")),
	}
	want := map[string]string{
		"bus-stop": `{"bicycle":0,"bus":1,"car":0,"person":3,"traffic_light":0}`,
		"pitch":    `{"bicycle":0,"car":0,"person":1,"traffic_light":0}`,
	}
	const offlineTicks = 3 // per camera and per run
	lr, log := newLogRecorder(t)
	ctx := waitCtx(t)
	// moreTicks waits for n more sent ticks of every camera.
	moreTicks := func(n int, what string) {
		t.Helper()
		for id := range want {
			have := len(lr.find(ticks(id, true)))
			if _, err := lr.wait(ctx, have+n, ticks(id, true)); err != nil {
				t.Fatalf("%s: %s: %v", id, what, err)
			}
		}
	}

	start := time.Now()
	first := startDaemon(t, cfg, log, nil)
	for id := range want {
		if _, err := e.WaitTelemetry(ctx, 2, emulator.FromDevice(id)); err != nil {
			t.Fatalf("%s before the outage: %v", id, err)
		}
	}

	e.StopListeners()
	t.Log("hub and DPS listeners stopped")
	moreTicks(offlineTicks, "ticks while the hub is away")
	if err := first.stop(t); err != nil {
		t.Fatalf("first run: %v", err)
	}
	for id := range want {
		kept := lr.find(func(r logRecord) bool {
			return r.Msg == "tallies kept for the next start" && r.Attrs["camera"] == id
		})
		if len(kept) != 1 {
			t.Errorf("%s: stopping while offline logged %d 'tallies kept' lines, want 1", id, len(kept))
		}
	}

	t.Log("edgecam restarted while the hub is away")
	second := startDaemon(t, cfg, log, nil)
	moreTicks(offlineTicks, "ticks after the restart while the hub is away")
	if err := e.StartListeners(); err != nil {
		t.Fatal(err)
	}
	t.Log("hub and DPS listeners back")
	for id := range want {
		n := len(lr.find(ticks(id, true)))
		if _, err := e.WaitTelemetry(ctx, n, emulator.FromDevice(id)); err != nil {
			t.Fatalf("%s: waiting for the %d tallies ticked so far: %v (received %d)", id, n, err, len(fromDevice(e, id)))
		}
	}
	if err := second.stop(t); err != nil {
		t.Fatalf("second run: %v", err)
	}
	end := time.Now()

	for id, body := range want {
		sent := lr.find(ticks(id, true))
		msgs := fromDevice(e, id)
		// What the last stop left queued is delivered by the next start; it is not lost.
		q, err := queue.Open(filepath.Join(cfg.State.Dir, "queue", id), 100, discardLogger())
		if err != nil {
			t.Fatal(err)
		}
		left := q.Len()
		q.Close()

		// Collapse the duplicates of lost acknowledgements by their message-id, as a consumer
		// would: a redelivery repeats the item at the head of the queue, so it directly follows
		// its first delivery, and it is the same message (capture time and body), with the same
		// message-id. Two different tallies never share one.
		var delivered []emulator.Telemetry
		seen := map[string]bool{}
		for i, m := range msgs {
			mid := m.Properties["$.mid"]
			if i > 0 && mid == msgs[i-1].Properties["$.mid"] {
				if m.Properties["iothub-creation-time-utc"] != msgs[i-1].Properties["iothub-creation-time-utc"] || string(m.Body) != string(msgs[i-1].Body) {
					t.Errorf("%s: two different tallies with message-id %s: %s and %s", id, mid, msgs[i-1].Body, m.Body)
				}
				t.Logf("%s: the tally captured at %s arrived twice, with one message-id (its acknowledgement was lost in the outage)",
					id, m.Properties["iothub-creation-time-utc"])
				continue
			}
			if len(mid) != 32 || seen[mid] {
				t.Errorf("%s: message-id %q: want 32 hex digits, once per tally", id, mid)
			}
			seen[mid] = true
			delivered = append(delivered, m)
		}
		checkMessages(t, id, delivered, body, modelID, start, end)
		if len(delivered)+left != len(sent) {
			t.Errorf("%s: %d ticks sent, %d tallies delivered, %d still queued: %d lost",
				id, len(sent), len(delivered), left, len(sent)-len(delivered)-left)
			continue
		}
		// Tick i captured its frame after tick i-1 logged and before tick i logged: each
		// delivered creation time (milliseconds, truncated) falls in its own tick's window.
		for i, m := range delivered {
			ct := creationTime(t, m)
			lo := start
			if i > 0 {
				lo = sent[i-1].Time
			}
			if ct.Before(lo.Add(-time.Millisecond)) || ct.After(sent[i].Time) {
				t.Errorf("%s: tally %d has creation time %s, outside its tick's window (%s, %s]",
					id, i, ct.Format(time.RFC3339Nano), lo.Format(time.RFC3339Nano), sent[i].Time.Format(time.RFC3339Nano))
			}
		}
		t.Logf("%s: %d ticks sent, %d tallies delivered in order, %d duplicates, %d queued at the end",
			id, len(sent), len(delivered), len(msgs)-len(delivered), left)
	}
}
