package motion

import (
	"image"
	"image/color"
	"testing"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/zone"
)

// scene draws a 640x360 grey frame with a textured background and a dark square of side 60 at (x, y).
func scene(t testing.TB, m *gocv.Mat, x, y int, bright float64) {
	t.Helper()
	m.SetTo(gocv.NewScalar(bright, bright, bright, 0))
	for i := 0; i < 640; i += 80 {
		gocv.Rectangle(m, image.Rect(i, 0, i+40, 360), color.RGBA{uint8(min(255, bright+30)), uint8(min(255, bright+30)), uint8(min(255, bright+30)), 0}, -1)
	}
	if x >= 0 {
		gocv.Rectangle(m, image.Rect(x, y, x+60, y+60), color.RGBA{10, 20, 200, 0}, -1)
	}
}

func newFrame() gocv.Mat { return gocv.NewMatWithSize(360, 640, gocv.MatTypeCV8UC3) }

// newRig is a motion detector New(o, masks) and a frame for it, both closed with the test.
func newRig(t testing.TB, o Options, masks []zone.Polygon) (*Detector, gocv.Mat) {
	d := New(o, masks)
	f := newFrame()
	t.Cleanup(func() {
		f.Close()
		d.Close()
	})
	return d, f
}

func TestStaticSceneHasNoMotion(t *testing.T) {
	d, f := newRig(t, Options{}, nil)
	scene(t, &f, 100, 100, 120)
	if r := d.Detect(f); !r.Recalibrated || r.Motion {
		t.Fatalf("first frame: %+v, want the background taken", r)
	}
	for i := 0; i < 10; i++ {
		if r := d.Detect(f); r.Motion || r.Recalibrated || r.Changed != 0 {
			t.Fatalf("frame %d of a static scene: %+v", i, r)
		}
	}
}

func TestMovingObjectIsFound(t *testing.T) {
	d, f := newRig(t, Options{}, nil)
	scene(t, &f, -1, 0, 120)
	d.Detect(f)
	d.Detect(f)
	scene(t, &f, 300, 200, 120)
	r := d.Detect(f)
	if !r.Motion || r.Recalibrated || len(r.Boxes) != 1 {
		t.Fatalf("square appeared: %+v, want one blob", r)
	}
	b := r.Boxes[0]
	// The square spans x 300..360 (0.47..0.56), y 200..260 (0.56..0.72); dilation and blur grow it a little.
	if b[0] > 0.47 || b[0] < 0.42 || b[2] < 0.56 || b[2] > 0.61 || b[1] > 0.56 || b[1] < 0.5 || b[3] < 0.72 || b[3] > 0.78 {
		t.Errorf("blob %v does not match the square (0.47, 0.56)-(0.56, 0.72)", b)
	}
}

func TestTwoObjectsTwoBlobs(t *testing.T) {
	d, f := newRig(t, Options{}, nil)
	scene(t, &f, -1, 0, 120)
	d.Detect(f)
	scene(t, &f, 50, 50, 120)
	gocv.Rectangle(&f, image.Rect(500, 250, 560, 310), color.RGBA{250, 250, 250, 0}, -1)
	if r := d.Detect(f); len(r.Boxes) != 2 {
		t.Fatalf("two squares: %+v, want two blobs", r)
	}
}

func TestSmallNoiseIsNotMotion(t *testing.T) {
	d, f := newRig(t, Options{}, nil)
	scene(t, &f, 100, 100, 120)
	d.Detect(f)
	scene(t, &f, 100, 100, 130) // +10 grey levels everywhere: under the threshold
	if r := d.Detect(f); r.Motion {
		t.Fatalf("slight exposure change: %+v, want no motion", r)
	}
	// A 3x3 pixel speck is far below MinArea once shrunk.
	gocv.Rectangle(&f, image.Rect(400, 40, 403, 43), color.RGBA{255, 255, 255, 0}, -1)
	if r := d.Detect(f); r.Motion {
		t.Fatalf("a speck: %+v, want no motion", r)
	}
}

func TestSuddenChangeRecalibrates(t *testing.T) {
	d, f := newRig(t, Options{}, nil)
	scene(t, &f, 100, 100, 60)
	d.Detect(f)
	d.Detect(f)
	scene(t, &f, 100, 100, 200) // infrared on: the whole frame brightens
	r := d.Detect(f)
	if r.Motion || !r.Recalibrated || r.Changed < 0.6 {
		t.Fatalf("whole frame changed: %+v, want a recalibration without motion", r)
	}
	if r := d.Detect(f); r.Motion || r.Recalibrated {
		t.Fatalf("the frame after the recalibration: %+v, want nothing", r)
	}
	// Motion is seen again against the new background.
	scene(t, &f, 400, 100, 200)
	if r := d.Detect(f); !r.Motion {
		t.Fatalf("square moved after the recalibration: %+v, want motion", r)
	}
}

func TestMaskHidesMotion(t *testing.T) {
	right := zone.Polygon{{X: 0.5, Y: 0}, {X: 1, Y: 0}, {X: 1, Y: 1}, {X: 0.5, Y: 1}}
	d, f := newRig(t, Options{}, []zone.Polygon{right})
	scene(t, &f, -1, 0, 120)
	d.Detect(f)
	scene(t, &f, 450, 150, 120) // in the masked right half
	if r := d.Detect(f); r.Motion || r.Changed != 0 {
		t.Fatalf("motion under the mask: %+v, want none", r)
	}
	scene(t, &f, 100, 150, 120) // in the left half
	if r := d.Detect(f); !r.Motion {
		t.Fatalf("motion outside the mask: %+v, want motion", r)
	}
	// Most of the unmasked half changing is a recalibration, measured against the unmasked area.
	scene(t, &f, -1, 0, 120)
	gocv.Rectangle(&f, image.Rect(0, 0, 300, 360), color.RGBA{250, 250, 250, 0}, -1)
	if r := d.Detect(f); !r.Recalibrated || r.Motion {
		t.Fatalf("the whole unmasked half changed: %+v, want a recalibration", r)
	}
}

func TestSlowChangeMeltsIntoBackground(t *testing.T) {
	d, f := newRig(t, Options{Alpha: 0.2}, nil)
	scene(t, &f, -1, 0, 120)
	d.Detect(f)
	scene(t, &f, 300, 100, 120) // a square arrives and stays
	var r Result
	for i := 0; i < 40; i++ {
		r = d.Detect(f)
	}
	if r.Motion {
		t.Fatalf("a square that stopped 40 frames ago: %+v, want it in the background", r)
	}
}

func TestFrameSizeChangeResets(t *testing.T) {
	d, f := newRig(t, Options{}, nil)
	scene(t, &f, 100, 100, 120)
	d.Detect(f)
	g := gocv.NewMatWithSize(480, 640, gocv.MatTypeCV8UC3)
	defer g.Close()
	if r := d.Detect(g); !r.Recalibrated || r.Motion {
		t.Fatalf("new frame size: %+v, want a new background", r)
	}
	grey := gocv.NewMatWithSize(480, 640, gocv.MatTypeCV8UC1)
	defer grey.Close()
	if r := d.Detect(grey); r.Motion {
		t.Fatalf("grey frame of the same picture: %+v", r)
	}
}

func TestNoAllocationsPerFrame(t *testing.T) {
	d := New(Options{}, nil)
	defer d.Close()
	a, b := newFrame(), newFrame()
	defer a.Close()
	defer b.Close()
	scene(t, &a, 100, 100, 120)
	scene(t, &b, 300, 100, 120)
	d.Detect(a)
	d.Detect(b)
	i := 0
	allocs := testing.AllocsPerRun(50, func() {
		if i++; i%2 == 0 {
			d.Detect(a)
		} else {
			d.Detect(b)
		}
	})
	if allocs > 0 {
		t.Errorf("%v allocations per frame, want 0", allocs)
	}
}

func TestClosedDetector(t *testing.T) {
	d := New(Options{}, nil)
	d.Close()
	d.Close()
	f := newFrame()
	defer f.Close()
	if r := d.Detect(f); r.Motion {
		t.Fatal("closed detector reported motion")
	}
}

// BenchmarkDetect1080p is one 1920x1080 BGR frame (what a camera's decoder hands over), a square
// moving between two places.
func BenchmarkDetect1080p(b *testing.B) {
	d := New(Options{}, nil)
	defer d.Close()
	f1 := gocv.NewMatWithSize(1080, 1920, gocv.MatTypeCV8UC3)
	f2 := gocv.NewMatWithSize(1080, 1920, gocv.MatTypeCV8UC3)
	defer f1.Close()
	defer f2.Close()
	f1.SetTo(gocv.NewScalar(120, 120, 120, 0))
	f2.SetTo(gocv.NewScalar(120, 120, 120, 0))
	gocv.Rectangle(&f1, image.Rect(300, 300, 500, 700), color.RGBA{20, 20, 20, 0}, -1)
	gocv.Rectangle(&f2, image.Rect(900, 300, 1100, 700), color.RGBA{20, 20, 20, 0}, -1)
	d.Detect(f1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			d.Detect(f2)
		} else {
			d.Detect(f1)
		}
	}
}
