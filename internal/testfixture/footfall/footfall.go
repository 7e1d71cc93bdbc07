// Package footfall makes the counting-line test clip: people cut out of the shared test photos
// (their person boxes) walking over a still background at known times, across a vertical line
// down the middle of the frame: several in (walking right), several out, two crossing at once
// in opposite directions, one stopping on the line, one walking along it. Tests of `edgecam
// detect` and of the daemon's continuous analysis count it.
package footfall

import (
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/imagecodec"
	"github.com/edgecam/edgecam/internal/testfixture"
)

// The clip's geometry and rate.
const (
	Width, Height = 640, 360
	FPS           = 5
	// SpriteHeight is a person's height in fractions of the frame.
	SpriteHeight = 0.42
)

// Expected totals of the clip over the line x = 0.5, in = right.
const (
	In  = 3
	Out = 3
)

// LineYAML is the camera's line, for a configuration.
const LineYAML = `    lines:
      - {name: door, points: [[0.5, 0.02], [0.5, 0.99]], in: right, labels: [person]}
`

// sprite is a person box of a shared photo: the photo's name and the box in its pixels.
type sprite struct {
	photo string
	box   image.Rectangle
}

// The person boxes of the reference detections in ../shared/testdata/README.md.
var sprites = []sprite{
	{"person.jpg", image.Rect(191, 100, 275, 373)},
	{"bus.jpg", image.Rect(52, 399, 207, 895)},
	{"zidane.jpg", image.Rect(742, 40, 1154, 716)},
	{"bus.jpg", image.Rect(219, 408, 349, 863)},
}

// Walker is one person of the clip: visible from frame Start, walking (by its bottom-centre)
// from From to To in Frames frames, then standing at To for Hold frames, then gone.
type Walker struct {
	Sprite       int
	From, To     [2]float64
	Start        int
	Frames, Hold int
}

// Rows of the frame the walkers keep to (bottom-centre y), so that no two overlap.
const rowA, rowB = 0.45, 0.93

// phases are the clip's scenes in order, each walker's Start relative to its phase: 0.025 of
// the frame width a frame (a person's width in 3 frames).
var phases = [][]Walker{
	{{Sprite: 0, From: [2]float64{0.2, rowA}, To: [2]float64{0.8, rowA}, Frames: 25}}, // in
	{{Sprite: 1, From: [2]float64{0.8, rowB}, To: [2]float64{0.2, rowB}, Frames: 25}}, // out
	{ // in and out at once
		{Sprite: 2, From: [2]float64{0.2, rowA}, To: [2]float64{0.8, rowA}, Frames: 25},
		{Sprite: 3, From: [2]float64{0.8, rowB}, To: [2]float64{0.2, rowB}, Frames: 25},
	},
	{{Sprite: 1, From: [2]float64{0.2, rowB}, To: [2]float64{0.8, rowB}, Frames: 25}}, // in
	{{Sprite: 0, From: [2]float64{0.8, rowA}, To: [2]float64{0.2, rowA}, Frames: 25}}, // out
	// Walks up to the line and stops on it until the clip leaves it.
	{{Sprite: 2, From: [2]float64{0.2, rowA}, To: [2]float64{0.5, rowA}, Frames: 13, Hold: 15}},
	// Walks down along the line.
	{{Sprite: 3, From: [2]float64{0.5, 0.5}, To: [2]float64{0.5, 0.95}, Frames: 19}},
}

// Options time the clip; zero values are the defaults.
type Options struct {
	// LeadIn is the frames of empty scene before the first walker (2), Gap the frames between
	// two scenes (3), Tail the frames after the last (5).
	LeadIn, Gap, Tail int
	// Pause adds frames of empty scene after scene number PauseAfter (counted from 1): room for
	// a test to restart the daemon while nobody walks.
	PauseAfter, Pause int
}

// Timeline is the walkers of a clip with their start frames, and its length in frames.
func Timeline(o Options) (walkers []Walker, frames int) {
	if o.LeadIn == 0 {
		o.LeadIn = 2
	}
	if o.Gap == 0 {
		o.Gap = 3
	}
	if o.Tail == 0 {
		o.Tail = 5
	}
	at := o.LeadIn
	for i, ph := range phases {
		end := at
		for _, w := range ph {
			w.Start += at
			walkers = append(walkers, w)
			end = max(end, w.Start+w.Frames+w.Hold)
		}
		at = end + o.Gap
		if i+1 == o.PauseAfter {
			at += o.Pause
		}
	}
	return walkers, at - o.Gap + o.Tail
}

// Scene draws the clip's pictures.
type Scene struct {
	script  []Walker
	bg      gocv.Mat
	sprites []gocv.Mat
	scaled  gocv.Mat
}

// NewScene loads the sprites from the shared photos, for the walkers of script.
func NewScene(t testing.TB, script []Walker) *Scene {
	t.Helper()
	s := &Scene{script: script, bg: gocv.NewMatWithSize(Height, Width, gocv.MatTypeCV8UC3), scaled: gocv.NewMat()}
	// A floor and a wall with a few vertical stripes: texture for the motion detector.
	s.bg.SetTo(gocv.NewScalar(150, 160, 165, 0))
	gocv.Rectangle(&s.bg, image.Rect(0, Height/3, Width, Height), color.RGBA{110, 118, 124, 0}, -1)
	for x := 20; x < Width; x += 90 {
		gocv.Rectangle(&s.bg, image.Rect(x, 0, x+12, Height/3), color.RGBA{130, 140, 150, 0}, -1)
	}
	photos := map[string]gocv.Mat{}
	for _, sp := range sprites {
		m, ok := photos[sp.photo]
		if !ok {
			data, err := os.ReadFile(testfixture.Photo(t, sp.photo))
			if err != nil {
				t.Fatal(err)
			}
			if m, err = imagecodec.Decode(data); err != nil {
				t.Fatal(err)
			}
			photos[sp.photo] = m
		}
		r := m.Region(sp.box)
		s.sprites = append(s.sprites, r.Clone())
		r.Close()
	}
	for _, m := range photos {
		m.Close()
	}
	return s
}

// Close releases the scene's Mats.
func (s *Scene) Close() {
	s.bg.Close()
	s.scaled.Close()
	for _, m := range s.sprites {
		m.Close()
	}
}

var spriteH = SpriteHeight * Height

// Draw draws picture i into dst (Width x Height BGR).
func (s *Scene) Draw(i int, dst *gocv.Mat) {
	s.bg.CopyTo(dst)
	for _, w := range s.script {
		k := i - w.Start
		if k < 0 || k >= w.Frames+w.Hold {
			continue
		}
		f := min(1, float64(k)/float64(w.Frames-1))
		x := w.From[0] + (w.To[0]-w.From[0])*f
		y := w.From[1] + (w.To[1]-w.From[1])*f
		sp := s.sprites[w.Sprite]
		h := int(spriteH)
		wd := sp.Cols() * h / sp.Rows()
		gocv.Resize(sp, &s.scaled, image.Pt(wd, h), 0, 0, gocv.InterpolationArea)
		x0, y0 := int(x*Width)-wd/2, int(y*Height)-h
		r := image.Rect(x0, y0, x0+wd, y0+h).Intersect(image.Rect(0, 0, Width, Height))
		if r.Empty() {
			continue
		}
		src := s.scaled.Region(r.Sub(image.Pt(x0, y0)))
		roi := dst.Region(r)
		src.CopyTo(&roi)
		src.Close()
		roi.Close()
	}
}

// Make encodes the clip with ffmpeg (libx264, no B-frames, a key frame every 2 s) into dir as
// name; its extension chooses the container (.h264 for an elementary stream, .mp4).
func Make(t testing.TB, dir, name string) string {
	t.Helper()
	return MakeWith(t, dir, name, Options{})
}

// MakeWith is Make with the clip timed as o says (Timeline gives its length).
func MakeWith(t testing.TB, dir, name string, o Options) string {
	t.Helper()
	script, frames := Timeline(o)
	testfixture.RequireFFmpeg(t)
	out := filepath.Join(dir, name)
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "rawvideo", "-pix_fmt", "bgr24", "-s", "640x360", "-r", "5", "-i", "-",
		"-c:v", "libx264", "-preset", "veryfast", "-g", "10", "-bf", "0", "-pix_fmt", "yuv420p", out)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr safeBuf
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := NewScene(t, script)
	defer s.Close()
	frame := gocv.NewMatWithSize(Height, Width, gocv.MatTypeCV8UC3)
	defer frame.Close()
	for i := 0; i < frames; i++ {
		s.Draw(i, &frame)
		if _, err := stdin.Write(frame.ToBytes()); err != nil {
			t.Fatalf("ffmpeg: %v: %s", err, stderr.String())
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, stderr.String())
	}
	return out
}

type safeBuf struct{ b []byte }

func (s *safeBuf) Write(p []byte) (int, error) { s.b = append(s.b, p...); return len(p), nil }
func (s *safeBuf) String() string              { return string(s.b) }
