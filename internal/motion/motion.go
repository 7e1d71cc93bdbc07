// Package motion finds moving regions in a camera's frames without the model: each frame is
// shrunk to a small grey picture (Options.Height rows), compared with a running average of the
// frames before it, thresholded, dilated and grouped into blobs. It is what lets continuous
// analysis run the detector only when something moves.
//
// A sudden change of most of the frame (infrared switching on, a cloud, lightning, the camera
// adjusting its exposure) is not motion: the detector recalibrates, taking the new frame as its
// background, and reports no motion for that frame. Masked regions (the same polygons as the
// camera's masks) never report motion.
//
// Every Mat is allocated once per frame size and reused: a frame costs no allocation once the
// first has been seen.
package motion

import (
	"image"
	"image/color"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/zone"
)

// Options tune a Detector; the zero value of each field is its default.
type Options struct {
	// Height is the height in pixels of the grey picture compared (the width follows the
	// frame's aspect ratio): 120 by default. Smaller is cheaper and blind to smaller objects.
	Height int
	// Threshold is the difference in grey level (0..255) from the running average over which a
	// pixel has changed: 25 by default.
	Threshold float64
	// Alpha is the weight of each new frame in the running average (0..1): 0.05 by default, so
	// something that stops moving melts into the background after a few seconds at 5 frames a
	// second.
	Alpha float64
	// MinArea is the smallest blob, in fractions of the frame area, that counts as motion:
	// 0.0025 by default (64 pixels of a 213x120 picture once dilated: an object of about 35x35
	// pixels of a 1080p frame; a speck of noise dilates to about 50).
	MinArea float64
	// Recalibrate is the fraction of the frame that, changed at once, makes the detector take
	// the frame as its new background instead of reporting motion: 0.6 by default.
	Recalibrate float64
	// Dilate is how many times the changed pixels are dilated (3x3) before grouping, joining
	// the parts of one moving object: 2 by default.
	Dilate int
}

func (o Options) withDefaults() Options {
	if o.Height <= 0 {
		o.Height = 120
	}
	if o.Threshold <= 0 {
		o.Threshold = 25
	}
	if o.Alpha <= 0 || o.Alpha > 1 {
		o.Alpha = 0.05
	}
	if o.MinArea <= 0 {
		o.MinArea = 0.0025
	}
	if o.Recalibrate <= 0 || o.Recalibrate > 1 {
		o.Recalibrate = 0.6
	}
	if o.Dilate <= 0 {
		o.Dilate = 2
	}
	return o
}

// Result is what one frame showed.
type Result struct {
	// Motion reports at least one moving blob.
	Motion bool
	// Boxes are the moving blobs' bounding boxes (x1, y1, x2, y2 in fractions of the frame). The
	// slice is reused by the next Detect.
	Boxes [][4]float64
	// Changed is the fraction of the (unmasked) frame whose pixels changed.
	Changed float64
	// Recalibrated reports that most of the frame changed at once and the frame became the new
	// background (Motion is false), or that this was the first frame of its size.
	Recalibrated bool
}

// Detector compares frames with a running average. It is not safe for concurrent use; Close
// releases its Mats.
type Detector struct {
	o     Options
	masks []zone.Polygon

	size    image.Point // the frame size the Mats below are made for
	small   image.Point // the shrunk size
	allowed int         // unmasked pixels of the shrunk picture

	shrunk, grey, avg, avg8, diff, changed, dilated gocv.Mat
	labels, stats, centroids                        gocv.Mat
	kernel, mask                                    gocv.Mat
	hasMask                                         bool
	ready                                           bool // avg holds a background
	closed                                          bool
	boxes                                           [][4]float64
}

// New returns a detector; masks are polygons in fractions of the frame whose pixels are ignored.
func New(o Options, masks []zone.Polygon) *Detector {
	return &Detector{
		o:         o.withDefaults(),
		masks:     masks,
		shrunk:    gocv.NewMat(),
		grey:      gocv.NewMat(),
		avg:       gocv.NewMat(),
		avg8:      gocv.NewMat(),
		diff:      gocv.NewMat(),
		changed:   gocv.NewMat(),
		dilated:   gocv.NewMat(),
		labels:    gocv.NewMat(),
		stats:     gocv.NewMat(),
		centroids: gocv.NewMat(),
		kernel:    gocv.GetStructuringElement(gocv.MorphRect, image.Pt(3, 3)),
		mask:      gocv.NewMat(),
	}
}

// Close releases the detector's Mats. It is safe to call more than once.
func (d *Detector) Close() {
	for _, m := range []*gocv.Mat{&d.shrunk, &d.grey, &d.avg, &d.avg8, &d.diff, &d.changed, &d.dilated,
		&d.labels, &d.stats, &d.centroids, &d.kernel, &d.mask} {
		if !d.closed {
			m.Close()
		}
	}
	d.closed = true
	d.ready = false
}

// Reset forgets the background: the next frame becomes it.
func (d *Detector) Reset() { d.ready = false }

// resize makes the shrunk size and the mask for frames of size sz.
func (d *Detector) resize(sz image.Point) {
	d.size = sz
	h := min(d.o.Height, sz.Y)
	w := max(1, (sz.X*h+sz.Y/2)/sz.Y)
	d.small = image.Pt(w, h)
	d.ready = false
	d.hasMask = len(d.masks) > 0
	d.allowed = w * h
	if !d.hasMask {
		return
	}
	d.mask.Close()
	d.mask = gocv.NewMatWithSizeFromScalar(gocv.NewScalar(255, 0, 0, 0), h, w, gocv.MatTypeCV8UC1)
	pts := make([][]image.Point, 0, len(d.masks))
	for _, pg := range d.masks {
		ps := make([]image.Point, len(pg))
		for i, p := range pg {
			ps[i] = image.Pt(int(p.X*float64(w)+0.5), int(p.Y*float64(h)+0.5))
		}
		pts = append(pts, ps)
	}
	pv := gocv.NewPointsVectorFromPoints(pts)
	gocv.FillPoly(&d.mask, pv, color.RGBA{})
	pv.Close()
	d.allowed = gocv.CountNonZero(d.mask)
}

// Detect compares frame (8-bit BGR or grey, any size) with the background and updates the
// background. The Result's Boxes are valid until the next Detect.
func (d *Detector) Detect(frame gocv.Mat) Result {
	if d.closed || frame.Empty() {
		return Result{}
	}
	if sz := image.Pt(frame.Cols(), frame.Rows()); sz != d.size {
		d.resize(sz)
	}
	// Shrink first, then convert: the colour conversion runs on a few thousand pixels. Bilinear
	// shrinking reads 4 pixels per output pixel (INTER_AREA reads them all: 10x slower on a 1080p
	// frame); the blur after it absorbs the aliasing.
	gocv.Resize(frame, &d.shrunk, d.small, 0, 0, gocv.InterpolationLinear)
	if d.shrunk.Channels() == 3 {
		gocv.CvtColor(d.shrunk, &d.diff, gocv.ColorBGRToGray)
	} else {
		d.shrunk.CopyTo(&d.diff)
	}
	gocv.GaussianBlur(d.diff, &d.grey, image.Pt(5, 5), 0, 0, gocv.BorderDefault)
	if !d.ready {
		d.grey.ConvertTo(&d.avg, gocv.MatTypeCV32F)
		d.ready = true
		return Result{Recalibrated: true, Boxes: d.boxes[:0]}
	}
	d.avg.ConvertTo(&d.avg8, gocv.MatTypeCV8U)
	gocv.AbsDiff(d.grey, d.avg8, &d.diff)
	gocv.Threshold(d.diff, &d.changed, float32(d.o.Threshold), 255, gocv.ThresholdBinary)
	if d.hasMask {
		gocv.BitwiseAnd(d.changed, d.mask, &d.changed)
	}
	r := Result{Boxes: d.boxes[:0]}
	if d.allowed > 0 {
		r.Changed = float64(gocv.CountNonZero(d.changed)) / float64(d.allowed)
	}
	if r.Changed >= d.o.Recalibrate {
		d.grey.ConvertTo(&d.avg, gocv.MatTypeCV32F)
		r.Recalibrated = true
		return r
	}
	if r.Changed > 0 {
		gocv.DilateWithParams(d.changed, &d.dilated, d.kernel, image.Pt(-1, -1), gocv.BorderType(d.o.Dilate), gocv.BorderConstant, color.RGBA{})
		n := gocv.ConnectedComponentsWithStats(d.dilated, &d.labels, &d.stats, &d.centroids)
		w, h := float64(d.small.X), float64(d.small.Y)
		minArea := d.o.MinArea * w * h
		for i := 1; i < n; i++ { // label 0 is the background
			if float64(d.stats.GetIntAt(i, 4)) < minArea {
				continue
			}
			x, y := float64(d.stats.GetIntAt(i, 0)), float64(d.stats.GetIntAt(i, 1))
			bw, bh := float64(d.stats.GetIntAt(i, 2)), float64(d.stats.GetIntAt(i, 3))
			r.Boxes = append(r.Boxes, [4]float64{x / w, y / h, (x + bw) / w, (y + bh) / h})
		}
	}
	d.boxes = r.Boxes
	r.Motion = len(r.Boxes) > 0
	gocv.AccumulatedWeighted(d.grey, &d.avg, d.o.Alpha)
	return r
}
