//go:build matprofile

package analysis

import (
	"image"
	"image/color"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/crossing"
	"github.com/edgecam/edgecam/internal/tally"
	"github.com/edgecam/edgecam/internal/zone"
)

// Every Mat the analysis makes (motion detector, annotation) is closed: go test -tags
// matprofile ./internal/analysis/.
func TestNoMatLeak(t *testing.T) {
	base := gocv.MatProfile.Count()
	func() {
		r := image.Rect(100, 100, 150, 300)
		m := &fakeModel{box: &r}
		mask := zone.Polygon{{X: 0.9, Y: 0}, {X: 1, Y: 0}, {X: 1, Y: 1}}
		a := New(m, Options{Rules: tally.Rules{Threshold: 0.5, Masks: []tally.Mask{{Polygon: mask}}}, Lines: []crossing.Line{door}})
		defer a.Close()
		img := gocv.NewMatWithSize(360, 640, gocv.MatTypeCV8UC3)
		defer img.Close()
		c := NewCounts(a.Lines())
		for i := 0; i < 20; i++ {
			img.SetTo(gocv.NewScalar(100, 100, 100, 0))
			r = image.Rect(100+15*i, 100, 150+15*i, 300)
			gocv.Rectangle(&img, r, color.RGBA{20, 20, 200, 0}, -1)
			f, err := a.Analyze(img, time.Unix(int64(i), 0))
			if err != nil {
				t.Fatal(err)
			}
			c.Add(f.Events)
			Annotate(&img, a.Lines(), c, f.Tracks)
		}
	}()
	if n := gocv.MatProfile.Count(); n != base {
		var b []byte
		w := &buf{b}
		gocv.MatProfile.WriteTo(w, 1)
		t.Fatalf("%d Mats left open:\n%s", n-base, w.b)
	}
}

type buf struct{ b []byte }

func (w *buf) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
