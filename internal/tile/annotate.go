package tile

import (
	"image"
	"image/color"

	"gocv.io/x/gocv"
)

// tileColour outlines tiles: cyan, unlike zones (amber) and the boxes.
var tileColour = color.RGBA{0x00, 0xFF, 0xFF, 0}

// Draw outlines regions (Detector.Regions: the tiles detected one by one) on img, thinly, so
// that the objects' boxes drawn after stay readable; the whole frame, when among them, is its
// border and is not drawn.
func Draw(img *gocv.Mat, regions []image.Rectangle) {
	if img == nil || img.Empty() {
		return
	}
	frame := image.Rect(0, 0, img.Cols(), img.Rows())
	thick := max(2, (img.Cols()+img.Rows())/1000)
	for _, r := range regions {
		if r == frame {
			continue
		}
		// Inset by half the line so an edge on the frame's border stays visible.
		in := image.Rect(r.Min.X+thick/2, r.Min.Y+thick/2, r.Max.X-1-thick/2, r.Max.Y-1-thick/2)
		gocv.RectangleWithParams(img, in, tileColour, thick, gocv.LineAA, 0)
	}
}
