package crossing

import (
	"testing"

	"github.com/edgecam/edgecam/internal/track"
	"github.com/edgecam/edgecam/internal/zone"
)

// door is a steep line at x = 0.5 from y = 0.2 to 0.8; walking right is in.
var door = Line{Name: "door", A: zone.Point{X: 0.5, Y: 0.2}, B: zone.Point{X: 0.5, Y: 0.8}, In: Right}

// at is a track of a person whose bottom-centre anchor is at (x, y).
func at(id int, x, y float64) track.Track {
	return track.Track{ID: id, Label: "person", Box: [4]float64{x - 0.04, y - 0.25, x + 0.04, y}}
}

type step []track.Track

// run feeds the frames to a new counter and returns the events with the frame they came in.
func run(t *testing.T, lines []Line, frames []step) (in, out int, evs []Event, when []int) {
	t.Helper()
	c := New(lines, Options{})
	for f, s := range frames {
		for _, e := range c.Update(s) {
			evs = append(evs, e)
			when = append(when, f)
			if e.In {
				in++
			} else {
				out++
			}
		}
	}
	return
}

// walk moves track id from (x0, y0) to (x1, y1) in n frames.
func walk(id int, x0, y0, x1, y1 float64, n int) []step {
	var s []step
	for i := 0; i < n; i++ {
		f := float64(i) / float64(n-1)
		s = append(s, step{at(id, x0+(x1-x0)*f, y0+(y1-y0)*f)})
	}
	return s
}

func TestCrossingInAndOut(t *testing.T) {
	in, out, evs, when := run(t, []Line{door}, walk(1, 0.2, 0.6, 0.8, 0.6, 13)) // 0.05 a frame
	if in != 1 || out != 0 {
		t.Fatalf("walking right: in %d out %d, want 1 0", in, out)
	}
	// Past the band (x > 0.52) from frame 7 (x = 0.55): counted on the third frame there.
	if when[0] != 9 || evs[0].Track != 1 || evs[0].Label != "person" || evs[0].Line != 0 {
		t.Fatalf("event %+v at frame %d, want track 1 at frame 9", evs[0], when[0])
	}
	in, out, _, _ = run(t, []Line{door}, walk(1, 0.8, 0.6, 0.2, 0.6, 13))
	if in != 0 || out != 1 {
		t.Fatalf("walking left: in %d out %d, want 0 1", in, out)
	}
}

func TestCountedOnlyAfterSettling(t *testing.T) {
	frames := walk(1, 0.3, 0.5, 0.6, 0.5, 7)                   // ends at 0.6: two frames past the band
	frames = append(frames, walk(1, 0.5, 0.5, 0.3, 0.5, 5)...) // and back
	if in, out, _, _ := run(t, []Line{door}, frames); in != 0 || out != 0 {
		t.Fatalf("a step over the line and back: in %d out %d, want none", in, out)
	}
}

func TestPassingBesideTheSegmentIsNotCounted(t *testing.T) {
	for _, y := range []float64{0.9, 0.1} { // below B, above A
		if in, out, _, _ := run(t, []Line{door}, walk(1, 0.2, y, 0.8, y, 13)); in+out != 0 {
			t.Errorf("walking right at y=%v, beside the segment: in %d out %d, want none", y, in, out)
		}
	}
	// Just inside the end counts.
	if in, _, _, _ := run(t, []Line{door}, walk(1, 0.2, 0.79, 0.8, 0.79, 13)); in != 1 {
		t.Errorf("walking right at y=0.79: in %d, want 1", in)
	}
}

func TestStoppingOnTheLineIsNotCounted(t *testing.T) {
	frames := walk(1, 0.2, 0.5, 0.5, 0.5, 7)
	for i := 0; i < 30; i++ { // stands on the line, jittering by a pixel or two
		frames = append(frames, step{at(1, 0.5+0.01*float64(i%3-1), 0.5+0.005*float64(i%2))})
	}
	if in, out, _, _ := run(t, []Line{door}, frames); in+out != 0 {
		t.Fatalf("stopped on the line: in %d out %d, want none", in, out)
	}
	// Then walks back where it came from: still nothing.
	frames = append(frames, walk(1, 0.5, 0.5, 0.2, 0.5, 7)...)
	if in, out, _, _ := run(t, []Line{door}, frames); in+out != 0 {
		t.Fatalf("stopped on the line and went back: in %d out %d, want none", in, out)
	}
	// Or goes on through: counted once, in.
	frames = append(frames[:37], walk(1, 0.5, 0.5, 0.8, 0.5, 7)...)
	if in, out, _, _ := run(t, []Line{door}, frames); in != 1 || out != 0 {
		t.Fatalf("stopped on the line then went through: in %d out %d, want 1 0", in, out)
	}
}

func TestWalkingAlongTheLineIsNotCounted(t *testing.T) {
	var frames []step
	for i := 0; i < 40; i++ { // down the line and back, weaving by 1.5 % of the frame
		y := 0.15 + 0.0175*float64(i)
		frames = append(frames, step{at(1, 0.5+0.015*float64(i%3-1), y)})
	}
	if in, out, _, _ := run(t, []Line{door}, frames); in+out != 0 {
		t.Fatalf("walking along the line: in %d out %d, want none", in, out)
	}
}

func TestOncePerDirection(t *testing.T) {
	var frames []step
	for k := 0; k < 3; k++ { // in, out, in, out, in, out
		frames = append(frames, walk(1, 0.3, 0.5, 0.7, 0.5, 9)...)
		frames = append(frames, walk(1, 0.7, 0.5, 0.3, 0.5, 9)...)
	}
	if in, out, _, _ := run(t, []Line{door}, frames); in != 1 || out != 1 {
		t.Fatalf("pacing through the door: in %d out %d, want 1 1", in, out)
	}
}

func TestTwoCrossingAtOnce(t *testing.T) {
	a, b := walk(1, 0.2, 0.45, 0.8, 0.45, 13), walk(2, 0.8, 0.55, 0.2, 0.55, 13)
	var frames []step
	for i := range a {
		frames = append(frames, step{a[i][0], b[i][0]})
	}
	in, out, evs, when := run(t, []Line{door}, frames)
	if in != 1 || out != 1 || when[0] != when[1] {
		t.Fatalf("two crossing at once: in %d out %d (%+v at %v), want 1 1 in one frame", in, out, evs, when)
	}
}

func TestIDSwitchNearTheLine(t *testing.T) {
	// Track 1 walks up to the line and vanishes; the tracker finds the person again as track 7,
	// which walks on through: one crossing.
	frames := walk(1, 0.2, 0.5, 0.45, 0.5, 6)
	frames = append(frames, walk(7, 0.5, 0.5, 0.8, 0.5, 7)...)
	if in, out, evs, _ := run(t, []Line{door}, frames); in != 1 || out != 0 || evs[0].Track != 7 {
		t.Fatalf("ID switch before the line: in %d out %d %+v, want 1 0 by track 7", in, out, evs)
	}
	// Track 1 crosses and is counted, then becomes track 7 just past the line: not again.
	frames = walk(1, 0.2, 0.5, 0.65, 0.5, 10)
	frames = append(frames, walk(7, 0.65, 0.5, 0.8, 0.5, 5)...)
	if in, out, _, _ := run(t, []Line{door}, frames); in != 1 || out != 0 {
		t.Fatalf("ID switch after counting: in %d out %d, want 1 0", in, out)
	}
	// The switch happens while crossing: 1 is last seen before the band, 7 first after it.
	frames = walk(1, 0.2, 0.5, 0.46, 0.5, 6)
	frames = append(frames, walk(7, 0.55, 0.5, 0.8, 0.5, 6)...)
	if in, out, _, _ := run(t, []Line{door}, frames); in != 1 || out != 0 {
		t.Fatalf("ID switch across the line: in %d out %d, want 1 0", in, out)
	}
	// Two people: a new one appearing far away does not take over the first one's history.
	frames = walk(1, 0.2, 0.5, 0.45, 0.5, 6)
	frames = append(frames, walk(7, 0.9, 0.3, 0.6, 0.3, 7)...)
	if in, out, _, _ := run(t, []Line{door}, frames); in+out != 0 {
		t.Fatalf("a stranger appearing on the other side: in %d out %d, want none", in, out)
	}
	// Nor does one of another label.
	frames = walk(1, 0.2, 0.5, 0.45, 0.5, 6)
	car := walk(7, 0.5, 0.5, 0.8, 0.5, 7)
	for _, s := range car {
		s[0].Label = "car"
	}
	frames = append(frames, car...)
	if in, out, _, _ := run(t, []Line{door}, frames); in+out != 0 {
		t.Fatalf("a car replacing a person: in %d out %d, want none", in, out)
	}
}

func TestTrackAppearingOnTheLineIsNotCounted(t *testing.T) {
	// A track first seen past the line (it came through a side door) only starts there.
	if in, out, _, _ := run(t, []Line{door}, walk(1, 0.6, 0.5, 0.9, 0.5, 10)); in+out != 0 {
		t.Fatalf("started on the in side: in %d out %d, want none", in, out)
	}
}

func TestLabels(t *testing.T) {
	cars := door
	cars.Labels = []string{"car"}
	if in, out, _, _ := run(t, []Line{cars}, walk(1, 0.2, 0.6, 0.8, 0.6, 13)); in+out != 0 {
		t.Fatalf("a person over a car line: in %d out %d, want none", in, out)
	}
	both := door
	both.Labels = []string{"car", "person"}
	if in, _, _, _ := run(t, []Line{cars, both}, walk(1, 0.2, 0.6, 0.8, 0.6, 13)); in != 1 {
		t.Fatalf("a person over a person line: in %d, want 1", in)
	}
}

func TestDirections(t *testing.T) {
	flat := Line{A: zone.Point{X: 0.1, Y: 0.5}, B: zone.Point{X: 0.9, Y: 0.5}}
	down := walk(1, 0.5, 0.2, 0.5, 0.8, 13)
	for _, c := range []struct {
		l      Line
		d      Direction
		frames []step
		in     bool
	}{
		{flat, Down, down, true},
		{flat, Up, down, false},
		{Line{A: flat.B, B: flat.A}, Down, down, true}, // the order of the points does not matter
		{door, Left, walk(1, 0.2, 0.5, 0.8, 0.5, 13), false},
		{Line{A: door.B, B: door.A}, Right, walk(1, 0.2, 0.5, 0.8, 0.5, 13), true},
		// A diagonal line from top-left to bottom-right; walking right crosses it.
		{Line{A: zone.Point{X: 0.3, Y: 0.1}, B: zone.Point{X: 0.7, Y: 0.9}}, Right, walk(1, 0.2, 0.6, 0.8, 0.6, 13), true},
	} {
		c.l.In = c.d
		in, out, _, _ := run(t, []Line{c.l}, c.frames)
		if c.in && (in != 1 || out != 0) || !c.in && (in != 0 || out != 1) {
			t.Errorf("line %v-%v in %v: in %d out %d, want in=%v", c.l.A, c.l.B, c.d, in, out, c.in)
		}
	}
}

func TestAcross(t *testing.T) {
	a, b := zone.Point{X: 0.5, Y: 0.1}, zone.Point{X: 0.55, Y: 0.9} // steep
	if !Across(a, b, Left) || !Across(a, b, Right) || Across(a, b, Up) || Across(a, b, Down) {
		t.Error("a steep line takes left and right only")
	}
	a, b = zone.Point{X: 0.1, Y: 0.5}, zone.Point{X: 0.9, Y: 0.6} // flat
	if Across(a, b, Left) || Across(a, b, Right) || !Across(a, b, Up) || !Across(a, b, Down) {
		t.Error("a flat line takes up and down only")
	}
	a, b = zone.Point{X: 0.1, Y: 0.1}, zone.Point{X: 0.9, Y: 0.9} // 45°: either
	for d := Left; d <= Down; d++ {
		if !Across(a, b, d) {
			t.Errorf("45° line refuses %v", d)
		}
	}
	for _, s := range []string{"left", "right", "up", "down"} {
		if d, err := ParseDirection(s); err != nil || d.String() != s {
			t.Errorf("ParseDirection(%q) = %v, %v", s, d, err)
		}
	}
	if _, err := ParseDirection("in"); err == nil {
		t.Error("ParseDirection(in) accepted")
	}
}

func TestAnchor(t *testing.T) {
	// A flat line at y = 0.5; a box whose centre stays above it while its bottom crosses.
	l := Line{A: zone.Point{X: 0.1, Y: 0.5}, B: zone.Point{X: 0.9, Y: 0.5}, In: Down}
	frames := walk(1, 0.5, 0.35, 0.5, 0.7, 10) // bottom 0.35 -> 0.7, centre 0.225 -> 0.575
	if in, _, _, _ := run(t, []Line{l}, frames); in != 1 {
		t.Errorf("bottom-centre anchor: in %d, want 1", in)
	}
	frames = walk(1, 0.5, 0.35, 0.5, 0.72, 10) // centre ends at 0.595: past the band two frames
	l.Anchor = zone.Center
	if in, _, _, _ := run(t, []Line{l}, frames[:8]); in != 0 {
		t.Errorf("centre anchor not yet settled past the line: in %d, want 0", in)
	}
}

func TestForget(t *testing.T) {
	c := New([]Line{door}, Options{Forget: 5})
	c.Update(step{at(1, 0.3, 0.5)})
	for i := 0; i < 6; i++ {
		c.Update(nil)
	}
	if len(c.tracks) != 0 {
		t.Fatalf("%d histories kept after 6 empty frames, want 0", len(c.tracks))
	}
}

func TestNoAllocationsPerFrame(t *testing.T) {
	c := New([]Line{door}, Options{})
	tracks := make([]track.Track, 20)
	f := 0
	fn := func() {
		for i := range tracks {
			tracks[i] = at(i+1, 0.2+0.03*float64(f%20), 0.05*float64(i))
		}
		c.Update(tracks)
		f++
	}
	for i := 0; i < 3; i++ {
		fn()
	}
	if a := testing.AllocsPerRun(100, fn); a > 0 {
		t.Errorf("%v allocations per frame", a)
	}
}
