package daemon_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/emulator"
	"github.com/edgecam/edgecam/internal/testfixture"
	"github.com/edgecam/edgecam/internal/testfixture/footfall"
)

// TestLinesEndToEnd: the footfall clip (three people in, three out, two of them at once, one
// stopping on the line, one walking along it) served by a real RTSP server process, analysed at
// 5 frames a second; the daemon is restarted in the middle of the clip, while nobody walks.
// The hub gets exactly 3 in and 3 out, in the totals and in the per-message counts together.
//
// The publisher plays the clip in real time, in a loop, whatever the daemon does; the clip's
// empty stretches are what a slow machine (the daemon starting, a restart, the hub's messages
// lagging) has to fit in: 20 s before the first walker, a 25 s pause for the restart, 15 s
// after the last walker. The test waits on events (log records, the hub's messages) and says
// which stretch was too short when one was, rather than reporting a count that is off.
func TestLinesEndToEnd(t *testing.T) {
	testfixture.RequireFFmpeg(t)
	if testing.Short() {
		t.Skip("the counting-line clip takes about 100 s")
	}
	o := footfall.Options{LeadIn: 100, Gap: 10, Tail: 75, PauseAfter: 2, Pause: 125}
	walkers, frames := footfall.Timeline(o)
	at := func(frame int) time.Duration { return time.Duration(frame) * time.Second / footfall.FPS }
	lastGone := 0
	for _, w := range walkers {
		lastGone = max(lastGone, w.Start+w.Frames+w.Hold)
	}
	// Into the clip: the first walker enters, the third scene (after the pause) begins, the last
	// walker is gone, and the publisher's next loop brings the first walker again.
	firstScene, thirdScene := at(walkers[0].Start), at(walkers[2].Start)
	allGone, nextLoop := at(lastGone), at(frames)+at(walkers[0].Start)

	clip := footfall.MakeWith(t, t.TempDir(), "door.mp4", o)
	feed := testfixture.StartRTSPFeed(t, testfixture.FreeAddr(t), clip)
	started := time.Now() // the publisher's first loop starts about now
	defer feed.Stop()
	into := func() time.Duration { return time.Since(started).Round(100 * time.Millisecond) }

	e := startEmulator(t)
	cfg := dpsConfig(t, e)
	marked, kept := filepath.Join(t.TempDir(), "marked.jpg"), filepath.Join(t.TempDir(), "frame.jpg")
	cfg.Cameras = append(cfg.Cameras, config.Camera{
		ID: "door", Type: config.TypeRTSP, URL: feed.URL("", ""), MarkedUpFile: marked, ImageFile: kept,
		Analysis: &config.Analysis{FPS: 5},
		Lines:    []config.Line{{Name: "door", Points: [][]float64{{0.5, 0.02}, {0.5, 0.99}}, In: "right", Labels: []string{"person"}}},
	})
	lr, log := newLogRecorder(t)
	crossings := func() []logRecord { return lr.find(func(r logRecord) bool { return r.Msg == "crossing" }) }
	until := func(d time.Duration) context.Context {
		ctx, cancel := context.WithDeadline(context.Background(), started.Add(d))
		t.Cleanup(cancel)
		return ctx
	}
	// analysing waits for a tick of a frame the model ran on, logged after since, before the
	// clip reaches by.
	analysing := func(what string, since time.Time, by time.Duration) {
		t.Helper()
		_, err := lr.wait(until(by), 1, func(r logRecord) bool {
			n, _ := r.Attrs["inferences"].(int64)
			return r.Msg == "tick" && r.Attrs["camera"] == "door" && n > 0 && r.Time.After(since)
		})
		if err != nil {
			t.Fatalf("%s analysed no frame by %v into the clip, when the next walker comes (now %v): too slow for the clip", what, by, into())
		}
		t.Logf("%s analyses frames %v into the clip", what, into())
	}
	// reach waits until the hub has a message with totals that ok accepts, before the clip
	// reaches by.
	reach := func(what string, by time.Duration, ok func(in, out int) bool) {
		t.Helper()
		_, err := e.WaitTelemetry(until(by), 1, func(m emulator.Telemetry) bool {
			var body map[string]int
			return m.DeviceID == "door" && json.Unmarshal(m.Body, &body) == nil &&
				ok(body["door_person_inTotal"], body["door_person_outTotal"])
		})
		if err != nil {
			in, out, _, _, last := doorTotals(t, e, "door")
			t.Fatalf("%s: not at the hub by %v into the clip (now %v): totals in %d out %d (last message %v)\n%v",
				what, by, into(), in, out, last, crossings())
		}
		t.Logf("%s at the hub %v into the clip", what, into())
	}

	d := startDaemon(t, cfg, log, nil)
	analysing("the daemon", time.Time{}, firstScene)
	// The first two scenes (one in, one out), then a restart in the pause after them.
	reach("first in and out", thirdScene, func(in, out int) bool { return in >= 1 && out >= 1 })
	if err := d.stop(t); err != nil {
		t.Fatal(err)
	}
	state, err := os.ReadFile(filepath.Join(cfg.State.Dir, "lines", "door.json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restart %v into the clip; saved %s", into(), state)
	if want := `{"totals":{"door":{"person":[1,1]}},"sent":{"door":{"person":[1,1]}}}`; string(state) != want {
		t.Errorf("saved totals %s, want %s", state, want)
	}
	restarted := time.Now()
	startDaemon(t, cfg, log, nil)
	analysing("the restarted daemon", restarted, thirdScene)
	reach("all crossings", nextLoop, func(in, out int) bool { return in >= footfall.In && out >= footfall.Out })
	// The person stopping on the line and the one walking along it come after: check once both
	// are gone, on a message the hub received after that (and before the publisher's next loop
	// brings the first person again).
	checkAt := started.Add(allGone + 5*time.Second)
	time.Sleep(time.Until(checkAt))
	if _, err := e.WaitTelemetry(until(nextLoop), 1, func(m emulator.Telemetry) bool {
		return m.DeviceID == "door" && m.Received.After(checkAt)
	}); err != nil {
		t.Fatalf("no message at the hub between the last walker leaving and the next loop (now %v into the clip): %v", into(), err)
	}
	in, out, sumIn, sumOut, last := doorTotals(t, e, "door")
	t.Logf("after the last walker (%v into the clip): %v", into(), last)
	if in != footfall.In || out != footfall.Out || sumIn != footfall.In || sumOut != footfall.Out {
		t.Fatalf("totals in %d out %d, per-message counts add up to in %d out %d; want %d and %d\n%v",
			in, out, sumIn, sumOut, footfall.In, footfall.Out, crossings())
	}
	for _, f := range []string{marked, kept} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("markedUpFile or imageFile %s: %v", f, err)
		}
	}
	if last["person"] != 0 && last["person"] != 1 {
		t.Errorf("last tally %v: at most the person on the line is in view", last)
	}
}

// TestLinesRPi: the same clip from a Raspberry Pi camera: a stand-in rpicam-vid on PATH plays
// it as rpicam-vid writes H.264 (in real time, on stdout), through the daemon's continuous
// analysis to exact totals at the hub.
func TestLinesRPi(t *testing.T) {
	testfixture.RequireFFmpeg(t)
	if testing.Short() {
		t.Skip("the counting-line clip takes about 40 s")
	}
	_, frames := footfall.Timeline(footfall.Options{})
	clipLen := time.Duration(frames) * time.Second / footfall.FPS
	clip := footfall.Make(t, t.TempDir(), "door.h264")
	bin := t.TempDir()
	// After the clip the stand-in keeps its stdout open and sends nothing, as a camera whose
	// picture stopped would: the streamer must not replay the clip.
	script := "#!/bin/sh\nffmpeg -hide_banner -loglevel error -nostdin -re -i " + clip + " -c:v copy -f h264 -\nexec sleep 600\n"
	if err := os.WriteFile(filepath.Join(bin, "rpicam-vid"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	e := startEmulator(t)
	cfg := dpsConfig(t, e)
	cfg.Cameras = append(cfg.Cameras, config.Camera{
		ID: "pi", Type: config.TypeRPi,
		Analysis: &config.Analysis{FPS: 5},
		Lines:    []config.Line{{Name: "door", Points: [][]float64{{0.5, 0.02}, {0.5, 0.99}}, In: "right", Labels: []string{"person"}}},
	})
	lr, log := newLogRecorder(t)
	started := time.Now()
	startDaemon(t, cfg, log, nil)
	time.Sleep(time.Until(started.Add(clipLen + 3*time.Second)))
	in, out, sumIn, sumOut, _ := doorTotals(t, e, "pi")
	if in != footfall.In || out != footfall.Out || sumIn != footfall.In || sumOut != footfall.Out {
		t.Fatalf("totals in %d out %d, per-message counts in %d out %d; want %d and %d\n%v",
			in, out, sumIn, sumOut, footfall.In, footfall.Out, lr.find(func(r logRecord) bool { return r.Msg == "crossing" }))
	}
}

// doorTotals reads the telemetry of device's "door" line for people: the last message's
// totals, the sums of the per-message counts, and the last message.
func doorTotals(t *testing.T, e *emulator.Emulator, device string) (in, out, sumIn, sumOut int, last map[string]int) {
	t.Helper()
	for _, m := range e.Telemetry() {
		if m.DeviceID != device {
			continue
		}
		var body map[string]int
		if err := json.Unmarshal(m.Body, &body); err != nil {
			t.Fatal(err)
		}
		sumIn += body["door_person_in"]
		sumOut += body["door_person_out"]
		in, out, last = body["door_person_inTotal"], body["door_person_outTotal"], body
	}
	return
}
