package daemon_test

import (
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
func TestLinesEndToEnd(t *testing.T) {
	testfixture.RequireFFmpeg(t)
	if testing.Short() {
		t.Skip("the counting-line clip takes about 80 s")
	}
	o := footfall.Options{LeadIn: 50, Gap: 10, Tail: 40, PauseAfter: 2, Pause: 60}
	_, frames := footfall.Timeline(o)
	clipLen := time.Duration(frames) * time.Second / footfall.FPS
	clip := footfall.MakeWith(t, t.TempDir(), "door.mp4", o)
	feed := testfixture.StartRTSPFeed(t, testfixture.FreeAddr(t), clip)
	started := time.Now() // the publisher's first loop starts about now
	defer feed.Stop()

	e := startEmulator(t)
	cfg := dpsConfig(t, e)
	marked, kept := filepath.Join(t.TempDir(), "marked.jpg"), filepath.Join(t.TempDir(), "frame.jpg")
	cfg.Cameras = append(cfg.Cameras, config.Camera{
		ID: "door", Type: config.TypeRTSP, URL: feed.URL("", ""), MarkedUpFile: marked, ImageFile: kept,
		Analysis: &config.Analysis{FPS: 5},
		Lines:    []config.Line{{Name: "door", Points: [][]float64{{0.5, 0.02}, {0.5, 0.99}}, In: "right", Labels: []string{"person"}}},
	})
	lr, log := newLogRecorder(t)
	d := startDaemon(t, cfg, log, nil)

	totals := func() (in, out, sumIn, sumOut int, last map[string]int) { return doorTotals(t, e, "door") }
	wait := func(what string, until time.Time, ok func(in, out int) bool) {
		t.Helper()
		for time.Now().Before(until) {
			if in, out, _, _, _ := totals(); ok(in, out) {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		in, out, _, _, last := totals()
		t.Fatalf("%s: totals in %d out %d (last message %v)\n%v", what, in, out, last, lr.find(func(r logRecord) bool { return r.Msg == "crossing" }))
	}
	// The first two scenes (one in, one out), then a restart in the pause after them.
	wait("first in and out", started.Add(60*time.Second), func(in, out int) bool { return in >= 1 && out >= 1 })
	if err := d.stop(t); err != nil {
		t.Fatal(err)
	}
	state, err := os.ReadFile(filepath.Join(cfg.State.Dir, "lines", "door.json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restart %v into the clip; saved %s", time.Since(started).Round(time.Second), state)
	if want := `{"totals":{"door":{"person":[1,1]}},"sent":{"door":{"person":[1,1]}}}`; string(state) != want {
		t.Errorf("saved totals %s, want %s", state, want)
	}
	startDaemon(t, cfg, log, nil)
	wait("all crossings", started.Add(clipLen), func(in, out int) bool { return in >= footfall.In && out >= footfall.Out })
	// The person stopping on the line and the one walking along it come after: wait for the end
	// of the clip (before the publisher's next loop brings the first person again).
	time.Sleep(time.Until(started.Add(clipLen - 3*time.Second)))
	in, out, sumIn, sumOut, last := totals()
	t.Logf("at the end of the clip: %v", last)
	if in != footfall.In || out != footfall.Out || sumIn != footfall.In || sumOut != footfall.Out {
		t.Fatalf("totals in %d out %d, per-message counts add up to in %d out %d; want %d and %d\n%v",
			in, out, sumIn, sumOut, footfall.In, footfall.Out, lr.find(func(r logRecord) bool { return r.Msg == "crossing" }))
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
