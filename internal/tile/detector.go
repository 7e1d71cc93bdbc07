package tile

import (
	"errors"
	"image"
	"sync"
	"time"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/yolo"
)

// Base is the detector tiles are detected with; *yolo.Detector is one.
type Base interface {
	Detect(img gocv.Mat, res *yolo.Result) error
	WithDecoded(data []byte, scale func(w, h int) int, fn func(img gocv.Mat, origW, origH int) error) error
	ReducedScale(w, h int) int
	Classes() []string
}

// Detector detects a frame tile by tile with a Base detector (shared with other cameras: each
// tile is one inference under the base's lock) and merges the boxes. It has the methods of the
// daemon's Detector, so a camera's worker uses it in place of the base. It reuses its scratch
// from frame to frame and detects one frame at a time.
type Detector struct {
	base Base
	opts Options

	mu      sync.Mutex
	regions []image.Rectangle
	part    yolo.Result
	boxes   []Box
	// DetectEncoded's state for its callbacks (method values made once, so no per-frame closure)
	out       *yolo.Result
	start     time.Time
	scaleFn   func(w, h int) int
	decodedFn func(img gocv.Mat, origW, origH int) error
}

// New returns a Detector tiling frames as opts says, with base.
func New(base Base, opts Options) *Detector {
	d := &Detector{base: base, opts: opts}
	d.scaleFn, d.decodedFn = d.scale, d.decoded
	return d
}

// Classes returns the base detector's class names.
func (d *Detector) Classes() []string { return d.base.Classes() }

// Regions returns the regions of a w x h frame detected one by one (for drawing them), the
// whole frame first when it is detected too.
func (d *Detector) Regions(w, h int) []image.Rectangle {
	var out []image.Rectangle
	if d.opts.Full {
		out = append(out, image.Rect(0, 0, w, h))
	}
	return d.opts.Regions(out, w, h)
}

// Detect finds objects in img (8-bit BGR, gray or BGRA) tile by tile and stores the merged
// boxes in res, in img's pixels. res.Tiles is the number of detections run (tiles, and the
// whole frame with Full); res.Timings sums the stages over them, Total being the whole.
func (d *Detector) Detect(img gocv.Mat, res *yolo.Result) error {
	if img.Empty() {
		return errors.New("empty image")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.detect(img, img.Cols(), img.Rows(), time.Now(), 0, res)
}

// DetectEncoded decodes data (with the base's reused frames, reduced only as far as every tile
// keeps 1.5 times the model's input size) and detects it as Detect does; boxes are in the
// original image's pixels.
func (d *Detector) DetectEncoded(data []byte, res *yolo.Result) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.out, d.start = res, time.Now()
	defer func() { d.out = nil }()
	return d.base.WithDecoded(data, d.scaleFn, d.decodedFn)
}

// scale is the JPEG decode reduction for a w x h image: the base's for the smallest region.
func (d *Detector) scale(w, h int) int {
	d.regions = d.opts.Regions(d.regions[:0], w, h)
	s := d.base.ReducedScale(w, h)
	for _, r := range d.regions {
		s = min(s, d.base.ReducedScale(r.Dx(), r.Dy()))
	}
	return s
}

func (d *Detector) decoded(img gocv.Mat, origW, origH int) error {
	return d.detect(img, origW, origH, d.start, time.Since(d.start), d.out)
}

// edgeTolerance is how close, in pixels of a tile, a box side must be to the tile's edge to
// count as cut by it (at least 2 pixels, 1 % of the tile's side).
func edgeTolerance(side int) float32 { return max(2, float32(side)/100) }

// detect runs the whole frame (with Full) and every region of img, whose boxes are scaled to an
// origW x origH frame, and merges them into res.
func (d *Detector) detect(img gocv.Mat, origW, origH int, start time.Time, decode time.Duration, res *yolo.Result) error {
	if res == nil {
		return errors.New("nil Result")
	}
	w, h := img.Cols(), img.Rows()
	sx, sy := float32(origW)/float32(w), float32(origH)/float32(h)
	d.regions = d.opts.Regions(d.regions[:0], w, h)
	d.boxes = d.boxes[:0]
	var t yolo.Timings
	n := 0
	add := func(r image.Rectangle, whole bool) {
		part := &d.part
		t.Preprocess += part.Timings.Preprocess
		t.Inference += part.Timings.Inference
		t.Postprocess += part.Timings.Postprocess
		n++
		tolX, tolY := edgeTolerance(r.Dx()), edgeTolerance(r.Dy())
		for _, det := range part.Detections {
			b := Box{Detection: det}
			if !whole {
				if r.Min.X > 0 && det.Box[0] <= tolX {
					b.Cut |= cutLeft
				}
				if r.Min.Y > 0 && det.Box[1] <= tolY {
					b.Cut |= cutTop
				}
				if r.Max.X < w && det.Box[2] >= float32(r.Dx())-tolX {
					b.Cut |= cutRight
				}
				if r.Max.Y < h && det.Box[3] >= float32(r.Dy())-tolY {
					b.Cut |= cutBottom
				}
			}
			x0, y0 := float32(r.Min.X), float32(r.Min.Y)
			b.Box = [4]float32{(det.Box[0] + x0) * sx, (det.Box[1] + y0) * sy, (det.Box[2] + x0) * sx, (det.Box[3] + y0) * sy}
			d.boxes = append(d.boxes, b)
		}
	}
	full := d.opts.Full || len(d.regions) == 0
	if full {
		if err := d.base.Detect(img, &d.part); err != nil {
			return err
		}
		add(image.Rect(0, 0, w, h), true)
	}
	for _, r := range d.regions {
		if err := d.detectRegion(img, r); err != nil {
			return err
		}
		add(r, false)
	}
	m0 := time.Now()
	kept := Merge(d.boxes)
	res.Detections = res.Detections[:0]
	for _, b := range kept {
		res.Detections = append(res.Detections, b.Detection)
	}
	t.Postprocess += time.Since(m0)
	t.Decode = decode
	t.Total = time.Since(start)
	res.Width, res.Height, res.Tiles, res.Timings = origW, origH, n, t
	return nil
}

// detectRegion detects region r of img (a view of its pixels, not a copy) into d.part.
func (d *Detector) detectRegion(img gocv.Mat, r image.Rectangle) error {
	sub := img.Region(r)
	defer sub.Close()
	return d.base.Detect(sub, &d.part)
}
