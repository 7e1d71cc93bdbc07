package analysis

import (
	"image"
	"image/color"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/crossing"
	"github.com/edgecam/edgecam/internal/tally"
	"github.com/edgecam/edgecam/internal/track"
	"github.com/edgecam/edgecam/internal/yolo"
	"github.com/edgecam/edgecam/internal/zone"
)

// fakeModel "detects" a person where the test says.
type fakeModel struct {
	calls int
	box   *image.Rectangle
	score float32 // 0: 0.9
}

func (m *fakeModel) Detect(img gocv.Mat, res *yolo.Result) error {
	m.calls++
	res.Width, res.Height = img.Cols(), img.Rows()
	res.Detections = res.Detections[:0]
	if m.box != nil {
		b := *m.box
		score := m.score
		if score == 0 {
			score = 0.9
		}
		res.Detections = append(res.Detections, yolo.Detection{Label: "person", Score: score,
			Box: [4]float32{float32(b.Min.X), float32(b.Min.Y), float32(b.Max.X), float32(b.Max.Y)}})
	}
	return nil
}

var door = crossing.Line{Name: "door", A: zone.Point{X: 0.5, Y: 0}, B: zone.Point{X: 0.5, Y: 1}, In: crossing.Right}

func TestStaticSceneSkipsTheModel(t *testing.T) {
	m := &fakeModel{}
	a := New(m, Options{Rules: tally.Rules{Threshold: 0.5}, Lines: []crossing.Line{door}, Refresh: time.Minute})
	defer a.Close()
	img := gocv.NewMatWithSize(360, 640, gocv.MatTypeCV8UC3)
	defer img.Close()
	img.SetTo(gocv.NewScalar(100, 100, 100, 0))
	t0 := time.Unix(1000, 0)
	for i := 0; i < 50; i++ { // 10 s at 5 fps
		if _, err := a.Analyze(img, t0.Add(time.Duration(i)*200*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	if m.calls != 1 || a.Skipped != 49 {
		t.Fatalf("model ran %d times, %d skipped, on a still scene; want once (the first frame)", m.calls, a.Skipped)
	}
	// The refresh runs it again after a minute.
	if f, _ := a.Analyze(img, t0.Add(time.Minute)); !f.Inferred || m.calls != 2 {
		t.Fatalf("after refresh: inferred %v, calls %d", f.Inferred, m.calls)
	}
}

func TestMovingPersonIsTrackedAndCounted(t *testing.T) {
	m := &fakeModel{}
	a := New(m, Options{Rules: tally.Rules{Threshold: 0.5}, Lines: []crossing.Line{door}})
	defer a.Close()
	img := gocv.NewMatWithSize(360, 640, gocv.MatTypeCV8UC3)
	defer img.Close()
	t0 := time.Unix(1000, 0)
	var evs []crossing.Event
	var last *Frame
	for i := 0; i < 30; i++ {
		img.SetTo(gocv.NewScalar(100, 100, 100, 0))
		x := 150 + 12*i
		r := image.Rect(x, 100, x+50, 300)
		gocv.Rectangle(&img, r, color.RGBA{20, 20, 200, 0}, -1)
		m.box = &r
		f, err := a.Analyze(img, t0.Add(time.Duration(i)*200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, f.Events...)
		last = f
	}
	if len(evs) != 1 || !evs[0].In || evs[0].Label != "person" {
		t.Fatalf("events %+v, want one person in", evs)
	}
	if len(last.Tracks) != 1 || len(last.Preds) != 1 {
		t.Fatalf("last frame: tracks %+v preds %+v", last.Tracks, last.Preds)
	}
	c := NewCounts(a.Lines())
	c.Add(evs)
	if in, out := c.Get(0, "person"); in != 1 || out != 0 {
		t.Fatalf("counts %d/%d", in, out)
	}
	Annotate(&img, a.Lines(), c, last.Tracks)
	Annotate(nil, nil, nil, nil)
}

func TestMaskedDetectionsAreNotTracked(t *testing.T) {
	m := &fakeModel{}
	right := zone.Polygon{{X: 0.5, Y: 0}, {X: 1, Y: 0}, {X: 1, Y: 1}, {X: 0.5, Y: 1}}
	a := New(m, Options{Rules: tally.Rules{Threshold: 0.5, Masks: []tally.Mask{{Polygon: right}}}, Refresh: -1})
	defer a.Close()
	img := gocv.NewMatWithSize(360, 640, gocv.MatTypeCV8UC3)
	defer img.Close()
	r := image.Rect(400, 100, 450, 300)
	m.box = &r
	for i := 0; i < 5; i++ {
		f, _ := a.Analyze(img, time.Unix(int64(i), 0))
		if len(f.Tracks) != 0 {
			t.Fatalf("a masked person is tracked: %+v", f.Tracks)
		}
	}
}

// A threshold changed at run time (SetRules, as after a change from the cloud) is the tracker's
// from the next frame: a person scored 0.7 starts no track under 0.8, and one under 0.6. A
// tracker given its own thresholds keeps them.
func TestSetRulesMovesTheTrackerThreshold(t *testing.T) {
	r := image.Rect(100, 100, 150, 300)
	m := &fakeModel{box: &r, score: 0.7}
	a := New(m, Options{Rules: tally.Rules{Threshold: 0.8}, Refresh: -1})
	defer a.Close()
	img := gocv.NewMatWithSize(360, 640, gocv.MatTypeCV8UC3)
	defer img.Close()
	at := time.Unix(0, 0)
	analyze := func(frames int) []int {
		var ids []int
		for range frames {
			at = at.Add(200 * time.Millisecond)
			f, err := a.Analyze(img, at)
			if err != nil {
				t.Fatal(err)
			}
			ids = ids[:0]
			for _, tr := range f.Tracks {
				ids = append(ids, tr.ID)
			}
		}
		return ids
	}
	if ids := analyze(4); len(ids) != 0 {
		t.Fatalf("threshold 0.8: a 0.7 detection is tracked: %v", ids)
	}
	if a.SetRules(tally.Rules{Threshold: 0.8}) {
		t.Error("SetRules with the same threshold reported a change")
	}
	if !a.SetRules(tally.Rules{Threshold: 0.6}) {
		t.Error("SetRules from 0.8 to 0.6 reported no change")
	}
	if ids := analyze(2); len(ids) != 1 {
		t.Fatalf("threshold 0.6: tracks %v after two frames, want the person", ids)
	}

	own := New(m, Options{Rules: tally.Rules{Threshold: 0.8}, Track: track.Options{High: 0.9, NewTrack: 0.9}})
	defer own.Close()
	if own.SetRules(tally.Rules{Threshold: 0.6}) {
		t.Error("a tracker with its own thresholds took the rules' new one")
	}
}

func TestStillPersonStopsTheModel(t *testing.T) {
	r := image.Rect(100, 100, 150, 300)
	m := &fakeModel{box: &r}
	a := New(m, Options{Rules: tally.Rules{Threshold: 0.5}, Refresh: time.Minute})
	defer a.Close()
	img := gocv.NewMatWithSize(360, 640, gocv.MatTypeCV8UC3)
	defer img.Close()
	gocv.Rectangle(&img, r, color.RGBA{20, 20, 200, 0}, -1)
	t0 := time.Unix(1000, 0)
	var f *Frame
	for i := 0; i < 50; i++ {
		f, _ = a.Analyze(img, t0.Add(time.Duration(i)*200*time.Millisecond))
	}
	// The model runs while the track may still move (the tracker's 15-frame buffer), then stops.
	if m.calls > 17 {
		t.Fatalf("model ran %d times in 50 frames of a person standing still, want it to stop after about 16", m.calls)
	}
	if len(f.Preds) != 1 {
		t.Fatalf("the last detections stand: %+v", f.Preds)
	}
}
