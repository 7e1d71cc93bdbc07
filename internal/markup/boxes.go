package markup

import (
	"image"
	"image/color"
	"strconv"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/yolo"
)

// palette gives each class a stable, distinct box colour (Ultralytics' colours, as RGBA for gocv,
// which draws them in BGR order on BGR images).
var palette = []color.RGBA{
	{0x38, 0x38, 0xFF, 0}, {0x97, 0x9D, 0xFF, 0}, {0x1F, 0x70, 0xFF, 0}, {0x1D, 0xB2, 0xFF, 0},
	{0x31, 0xD2, 0xCF, 0}, {0x0A, 0xF9, 0x48, 0}, {0x17, 0xCC, 0x92, 0}, {0x86, 0xDB, 0x3D, 0},
	{0x34, 0x93, 0x1A, 0}, {0x18, 0xC9, 0x1A, 0}, {0xA8, 0x99, 0x2C, 0}, {0xFF, 0xC2, 0x00, 0},
	{0x93, 0x45, 0x34, 0}, {0xFF, 0x73, 0x64, 0}, {0x52, 0x00, 0x92, 0}, {0xCB, 0x38, 0xFF, 0},
	{0xFF, 0x95, 0xC8, 0}, {0xFF, 0x37, 0xC7, 0},
}

// Boxes draws each detection's box, label and score on img (a BGR image the size the
// detections refer to). Line and text sizes follow the image size.
func Boxes(img *gocv.Mat, dets []yolo.Detection) {
	if img == nil || img.Empty() {
		return
	}
	w, h := img.Cols(), img.Rows()
	thick := max(1, (w+h)/600)
	scale := float64(thick) / 3
	textThick := max(1, thick-1)
	white := color.RGBA{255, 255, 255, 0}
	for _, d := range dets {
		c := palette[d.ClassID%len(palette)]
		if d.ClassID < 0 {
			c = palette[0]
		}
		box := image.Rect(int(d.Box[0]), int(d.Box[1]), int(d.Box[2]), int(d.Box[3]))
		gocv.RectangleWithParams(img, box, c, thick, gocv.LineAA, 0)
		label := d.Label + " " + strconv.FormatFloat(float64(d.Score), 'f', 2, 32)
		size, baseline := gocv.GetTextSizeWithBaseline(label, gocv.FontHersheySimplex, scale, textThick)
		// The label sits above the box, or inside it when the box touches the top edge.
		top := box.Min.Y - size.Y - baseline - 2
		if top < 0 {
			top = box.Min.Y
		}
		bg := image.Rect(box.Min.X, top, box.Min.X+size.X+2, top+size.Y+baseline+2)
		gocv.Rectangle(img, bg, c, -1)
		gocv.PutTextWithParams(img, label, image.Pt(box.Min.X+1, top+size.Y+1), gocv.FontHersheySimplex,
			scale, white, textThick, gocv.LineAA, false)
	}
}
