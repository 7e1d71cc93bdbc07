package track

import (
	"testing"
)

func centred(cx, cy, w, h float64) [4]float64 {
	return [4]float64{cx - w/2, cy - h/2, cx + w/2, cy + h/2}
}

func idOf(t *testing.T, tracks []Track, det int) int {
	t.Helper()
	for _, tr := range tracks {
		if tr.Det == det {
			return tr.ID
		}
	}
	return 0
}

func TestCrossingObjectsKeepTheirIDs(t *testing.T) {
	tr := New(Options{})
	var idA, idB int
	// A walks right, B walks left, along nearly the same row: their boxes overlap for several
	// frames around frame 15, where they pass each other.
	for f := 0; f < 30; f++ {
		ax := 0.1 + 0.027*float64(f)
		bx := 0.9 - 0.027*float64(f)
		dets := []Detection{
			{Box: centred(ax, 0.5, 0.08, 0.3), Score: 0.9, Label: "person"},
			{Box: centred(bx, 0.52, 0.08, 0.3), Score: 0.85, Label: "person"},
		}
		if f%2 == 1 { // the detector's order is not stable
			dets[0], dets[1] = dets[1], dets[0]
		}
		out := tr.Update(dets)
		ia, ib := 0, 1
		if f%2 == 1 {
			ia, ib = 1, 0
		}
		if f == 0 {
			if len(out) != 0 {
				t.Fatalf("frame 0: %d tracks reported before a second sighting", len(out))
			}
			continue
		}
		a, b := idOf(t, out, ia), idOf(t, out, ib)
		if f == 1 {
			idA, idB = a, b
			if idA == 0 || idB == 0 || idA == idB {
				t.Fatalf("frame 1: ids %d, %d", a, b)
			}
			continue
		}
		if a != idA || b != idB {
			t.Fatalf("frame %d (A at x=%.2f, B at x=%.2f): A has ID %d, B %d; want %d and %d", f, ax, bx, a, b, idA, idB)
		}
	}
}

func TestLostTrackIsRecovered(t *testing.T) {
	tr := New(Options{})
	var id int
	for f := 0; f < 25; f++ {
		x := 0.1 + 0.03*float64(f)
		var dets []Detection
		hidden := f >= 8 && f < 13 // behind a pillar for 5 frames
		if !hidden {
			dets = []Detection{{Box: centred(x, 0.5, 0.08, 0.25), Score: 0.8, Label: "person"}}
		}
		out := tr.Update(dets)
		switch {
		case hidden:
			if len(out) != 0 || tr.Alive() != 1 {
				t.Fatalf("frame %d (hidden): %d reported, %d alive; want 0 and 1 (lost)", f, len(out), tr.Alive())
			}
		case f == 0:
		case f == 1:
			id = out[0].ID
		default:
			if len(out) != 1 || out[0].ID != id {
				t.Fatalf("frame %d: %+v, want the track %d", f, out, id)
			}
		}
	}
}

func TestLowScoreDetectionsKeepATrack(t *testing.T) {
	tr := New(Options{})
	var id int
	for f := 0; f < 12; f++ {
		s := 0.9
		if f >= 4 && f < 8 {
			s = 0.3 // partly hidden: only the second pass matches it
		}
		out := tr.Update([]Detection{{Box: centred(0.2+0.01*float64(f), 0.5, 0.1, 0.3), Score: s, Label: "car"}})
		if f == 1 {
			id = out[0].ID
		}
		if f >= 1 && (len(out) != 1 || out[0].ID != id) {
			t.Fatalf("frame %d score %.1f: %+v, want track %d", f, s, out, id)
		}
	}
	// A low-score detection never starts a track.
	tr = New(Options{})
	for f := 0; f < 5; f++ {
		if out := tr.Update([]Detection{{Box: centred(0.5, 0.5, 0.1, 0.1), Score: 0.4, Label: "car"}}); len(out) != 0 {
			t.Fatalf("low-score detections started %+v", out)
		}
	}
	if tr.Alive() != 0 {
		t.Fatalf("%d tracks alive from low-score detections", tr.Alive())
	}
}

func TestOneFrameSightingIsDropped(t *testing.T) {
	tr := New(Options{})
	tr.Update([]Detection{{Box: centred(0.5, 0.5, 0.1, 0.1), Score: 0.9, Label: "dog"}})
	if tr.Alive() != 1 {
		t.Fatalf("alive %d after a sighting", tr.Alive())
	}
	if out := tr.Update(nil); len(out) != 0 || tr.Alive() != 0 {
		t.Fatalf("a sighting not seen again: %+v, %d alive; want it gone", out, tr.Alive())
	}
}

func TestTrackExpiresAfterBuffer(t *testing.T) {
	tr := New(Options{Buffer: 3})
	d := []Detection{{Box: centred(0.5, 0.5, 0.1, 0.2), Score: 0.9, Label: "person"}}
	tr.Update(d)
	first := tr.Update(d)[0].ID
	for i := 0; i < 3; i++ {
		tr.Update(nil)
	}
	if tr.Alive() != 1 {
		t.Fatalf("alive %d after 3 frames unseen, want 1 (buffer 3)", tr.Alive())
	}
	tr.Update(nil)
	if tr.Alive() != 0 {
		t.Fatalf("alive %d after 4 frames unseen, want 0", tr.Alive())
	}
	tr.Update(d)
	out := tr.Update(d)
	if len(out) != 1 || out[0].ID == first {
		t.Fatalf("after expiry: %+v, want a new ID (not %d)", out, first)
	}
}

func TestLabelsDoNotMix(t *testing.T) {
	tr := New(Options{})
	b := centred(0.5, 0.5, 0.1, 0.2)
	tr.Update([]Detection{{Box: b, Score: 0.9, Label: "person"}})
	tr.Update([]Detection{{Box: b, Score: 0.9, Label: "person"}})
	out := tr.Update([]Detection{{Box: b, Score: 0.9, Label: "dog"}})
	if len(out) != 0 || tr.Alive() != 2 {
		t.Fatalf("a dog where a person was: %+v, %d alive; want the person lost and a tentative dog", out, tr.Alive())
	}
}

func TestKalmanPredictsMotion(t *testing.T) {
	var k kalman
	k.init(centred(0.1, 0.5, 0.1, 0.2))
	for f := 1; f <= 10; f++ {
		k.predict()
		k.update(centred(0.1+0.02*float64(f), 0.5, 0.1, 0.2))
	}
	k.predict()
	if c := (k.box()[0] + k.box()[2]) / 2; c < 0.31 || c > 0.33 {
		t.Fatalf("predicted centre x %.3f after moving 0.02 a frame to 0.30, want about 0.32", c)
	}
}

func TestNoAllocationsPerFrame(t *testing.T) {
	tr := New(Options{})
	dets := make([]Detection, 20)
	f := 0
	step := func() {
		for i := range dets {
			dets[i] = Detection{Box: centred(0.05+0.045*float64(i)+0.001*float64(f%50), 0.5, 0.04, 0.2), Score: 0.8, Label: "person"}
		}
		tr.Update(dets)
		f++
	}
	for i := 0; i < 5; i++ {
		step()
	}
	if a := testing.AllocsPerRun(50, step); a > 0 {
		t.Errorf("%v allocations per frame, want 0", a)
	}
}

// BenchmarkUpdate50 is one frame of 50 objects walking in a grid, each followed by its track.
func BenchmarkUpdate50(b *testing.B) {
	tr := New(Options{})
	dets := make([]Detection, 50)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for j := range dets {
			x := 0.05 + 0.09*float64(j%10) + 0.0005*float64(i%40)
			y := 0.1 + 0.18*float64(j/10)
			dets[j] = Detection{Box: centred(x, y, 0.05, 0.15), Score: 0.6 + 0.006*float64(j), Label: "person"}
		}
		if out := tr.Update(dets); i > 2 && len(out) != 50 {
			b.Fatalf("frame %d: %d tracks, want 50", i, len(out))
		}
	}
}

func TestFastObjectIsFollowedByDistance(t *testing.T) {
	// A person 0.05 wide and 0.25 tall moving 0.08 a frame: boxes of consecutive frames do not
	// overlap (a frame skipped by a busy device), but the centre moves a third of the height.
	for _, jump := range []float64{0, -1} {
		tr := New(Options{Jump: jump})
		var ids []int
		for f := 0; f < 8; f++ {
			out := tr.Update([]Detection{{Box: centred(0.1+0.08*float64(f), 0.5, 0.05, 0.25), Score: 0.9, Label: "person"}})
			for _, o := range out {
				ids = append(ids, o.ID)
			}
		}
		if jump == 0 && (len(ids) != 7 || ids[0] != ids[6]) {
			t.Errorf("with the distance pass: ids %v, want one track from the second frame", ids)
		}
		if jump < 0 && len(ids) != 0 {
			t.Errorf("without it: ids %v, want none confirmed", ids)
		}
	}
}

// SetOptions applies from the next Update and keeps the tracks: a 0.55 detection starts no
// track under NewTrack 0.6 and one after NewTrack becomes 0.5.
func TestSetOptionsAppliesToTheNextFrame(t *testing.T) {
	tr := New(Options{})
	d := []Detection{{Box: centred(0.5, 0.5, 0.1, 0.2), Score: 0.55, Label: "car"}}
	for range 3 {
		if out := tr.Update(d); len(out) != 0 || tr.Alive() != 0 {
			t.Fatalf("NewTrack 0.6: a 0.55 detection gave %+v", out)
		}
	}
	tr.SetOptions(Options{High: 0.5, NewTrack: 0.5})
	tr.Update(d)
	out := tr.Update(d)
	if len(out) != 1 {
		t.Fatalf("NewTrack 0.5: %+v after two sightings, want one track", out)
	}
	id := out[0].ID
	tr.SetOptions(Options{})
	if out := tr.Update(d); len(out) != 1 || out[0].ID != id {
		t.Fatalf("back to the defaults: %+v, want track %d kept (0.55 still matches in the second pass)", out, id)
	}
}
