package yolo

import "math"

// letterbox is the geometry of Ultralytics' letterbox for a srcW x srcH image into a dstW x dstH
// network input: scale by Gain keeping the aspect ratio, resize to NewW x NewH, pad with gray.
type letterbox struct {
	SrcW, SrcH               int
	DstW, DstH               int
	Gain                     float64 // r = min(dstH/srcH, dstW/srcW)
	NewW, NewH               int     // round(srcW*r), round(srcH*r)
	Top, Bottom, Left, Right int     // padding in pixels
	PadX, PadY               float64 // (dst - src*r)/2, as Ultralytics' scale_boxes undoes it
}

// newLetterbox computes the geometry exactly as Ultralytics' letterbox (auto=False, scaleup=True):
// Python's round() (half to even) for the resized size, and top/left = round(d-0.1),
// bottom/right = round(d+0.1).
func newLetterbox(srcW, srcH, dstW, dstH int) letterbox {
	r := math.Min(float64(dstH)/float64(srcH), float64(dstW)/float64(srcW))
	lb := letterbox{SrcW: srcW, SrcH: srcH, DstW: dstW, DstH: dstH, Gain: r}
	// At least one pixel: a 20000x10 strip would round to 0 rows, which OpenCV cannot resize to.
	lb.NewW = max(1, int(math.RoundToEven(float64(srcW)*r)))
	lb.NewH = max(1, int(math.RoundToEven(float64(srcH)*r)))
	dw := float64(dstW-lb.NewW) / 2
	dh := float64(dstH-lb.NewH) / 2
	lb.Top, lb.Bottom = int(math.RoundToEven(dh-0.1)), int(math.RoundToEven(dh+0.1))
	lb.Left, lb.Right = int(math.RoundToEven(dw-0.1)), int(math.RoundToEven(dw+0.1))
	lb.PadX = (float64(dstW) - float64(srcW)*r) / 2
	lb.PadY = (float64(dstH) - float64(srcH)*r) / 2
	return lb
}

// unmap turns a box in network-input pixels into source-image pixels scaled by (sx, sy) and
// clipped to [0, outW] x [0, outH], as Ultralytics' scale_boxes and clip_boxes do.
func (lb letterbox) unmap(box [4]float32, sx, sy float64, outW, outH int) [4]float32 {
	x1 := (float64(box[0]) - lb.PadX) / lb.Gain * sx
	y1 := (float64(box[1]) - lb.PadY) / lb.Gain * sy
	x2 := (float64(box[2]) - lb.PadX) / lb.Gain * sx
	y2 := (float64(box[3]) - lb.PadY) / lb.Gain * sy
	w, h := float64(outW), float64(outH)
	return [4]float32{
		float32(clamp(x1, 0, w)), float32(clamp(y1, 0, h)),
		float32(clamp(x2, 0, w)), float32(clamp(y2, 0, h)),
	}
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(v, hi)) }

// pixelScale maps a byte to the network's 0..1 input range: float32(v)/255 as PyTorch computes it.
var pixelScale = func() (lut [256]float32) {
	for i := range lut {
		lut[i] = float32(i) / 255
	}
	return lut
}()

// padValue is the letterbox's gray (114) in network units.
var padValue = pixelScale[114]

// fillPad sets every element of the NCHW input to the letterbox gray.
func fillPad(dst []float32) {
	for i := range dst {
		dst[i] = padValue
	}
}

// fillImage writes a w x h BGR image (rows of stride bytes) into the letterbox window of an
// NCHW RGB float input of dstW x dstH, at (left, top), scaled to 0..1. dst holds three planes.
func fillImage(dst []float32, dstW, dstH int, src []byte, stride, w, h, left, top int) {
	plane := dstW * dstH
	r, g, b := dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	lut := &pixelScale
	for y := 0; y < h; y++ {
		base := (top+y)*dstW + left
		rr := r[base : base+w]
		gg := g[base : base+w][:len(rr)] // same lengths: lets the compiler drop bounds checks
		bb := b[base : base+w][:len(rr)]
		row := src[y*stride : y*stride+3*w][:3*len(rr)]
		for x := range rr {
			i := 3 * x
			bb[x] = lut[row[i]]
			gg[x] = lut[row[i+1]]
			rr[x] = lut[row[i+2]]
		}
	}
}
