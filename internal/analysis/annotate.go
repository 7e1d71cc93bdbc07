package analysis

import (
	"fmt"
	"image"
	"image/color"
	"strconv"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/crossing"
	"github.com/edgecam/edgecam/internal/track"
)

var (
	lineColour  = color.RGBA{0x00, 0xE0, 0xFF, 0} // yellow in BGR
	trackColour = color.RGBA{0x50, 0xDC, 0x28, 0} // green
	white       = color.RGBA{255, 255, 255, 0}
	black       = color.RGBA{0, 0, 0, 0}
)

// Annotate draws on img (a BGR frame) the counting lines with an arrow towards their in side
// and their in and out counts (c may be nil), then the tracks' boxes with their IDs on top.
func Annotate(img *gocv.Mat, lines []crossing.Line, c *Counts, tracks []track.Track) {
	if img == nil || img.Empty() {
		return
	}
	w, h := img.Cols(), img.Rows()
	thick := max(1, (w+h)/600)
	scale := float64(thick) / 2.5
	for i, l := range lines {
		a := image.Pt(int(l.A.X*float64(w)), int(l.A.Y*float64(h)))
		b := image.Pt(int(l.B.X*float64(w)), int(l.B.Y*float64(h)))
		gocv.Line(img, a, b, lineColour, thick+1)
		// An arrow from the middle of the line towards its in side.
		m := image.Pt((a.X+b.X)/2, (a.Y+b.Y)/2)
		d := max(12, (w+h)/40)
		var tip image.Point
		switch l.In {
		case crossing.Left:
			tip = m.Add(image.Pt(-d, 0))
		case crossing.Right:
			tip = m.Add(image.Pt(d, 0))
		case crossing.Up:
			tip = m.Add(image.Pt(0, -d))
		default:
			tip = m.Add(image.Pt(0, d))
		}
		gocv.ArrowedLine(img, m, tip, lineColour, thick+1)
		text := l.Name
		if c != nil {
			in, out := c.Line(i)
			text = fmt.Sprintf("%s in %d out %d", l.Name, in, out)
		}
		// The name and counts beside the line's first end, on the side opposite the arrow.
		size, _ := gocv.GetTextSizeWithBaseline(text, gocv.FontHersheySimplex, scale, max(1, thick-1))
		at := a.Add(image.Pt(thick*2, thick*2))
		if l.In == crossing.Right {
			at.X = a.X - size.X - thick*4
		}
		tag(img, text, at, lineColour, black, scale, thick)
	}
	for _, t := range tracks {
		r := image.Rect(int(t.Box[0]*float64(w)), int(t.Box[1]*float64(h)), int(t.Box[2]*float64(w)), int(t.Box[3]*float64(h)))
		gocv.RectangleWithParams(img, r, trackColour, thick, gocv.LineAA, 0)
		tag(img, "#"+strconv.Itoa(t.ID)+" "+t.Label, image.Pt(r.Min.X, r.Min.Y), trackColour, black, scale, thick)
		p := image.Pt((r.Min.X+r.Max.X)/2, r.Max.Y)
		gocv.Circle(img, p, 2*thick, trackColour, -1)
	}
}

// tag writes text on a filled box whose top-left corner is at p (kept inside the image).
func tag(img *gocv.Mat, text string, p image.Point, bg, fg color.RGBA, scale float64, thick int) {
	tt := max(1, thick-1)
	size, base := gocv.GetTextSizeWithBaseline(text, gocv.FontHersheySimplex, scale, tt)
	p.X = min(max(p.X, 0), max(0, img.Cols()-size.X-2))
	p.Y = min(max(p.Y, 0), max(0, img.Rows()-size.Y-base-2))
	gocv.Rectangle(img, image.Rect(p.X, p.Y, p.X+size.X+2, p.Y+size.Y+base+2), bg, -1)
	gocv.PutTextWithParams(img, text, image.Pt(p.X+1, p.Y+size.Y+1), gocv.FontHersheySimplex, scale, fg, tt, gocv.LineAA, false)
}
