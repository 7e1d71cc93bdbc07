// Package yolo runs YOLO object detection with ONNX Runtime: Ultralytics-exact letterbox
// pre-processing with OpenCV, one reused runtime session per model, the YOLOv5, YOLOv8 (v9, 11)
// and end-to-end output layouts (told apart by the output shape, see onnxmodel.Info.Spec), and
// per-class NMS. Class names come from package classes (labels file, metadata, or COCO-80).
//
// A Detector owns its session, input/output tensors and scratch images and reuses them for every
// frame, so steady-state detection allocates nothing when the caller reuses its Result.
package yolo

import (
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"sync"
	"time"

	ort "github.com/yalue/onnxruntime_go"
	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/classes"
	"github.com/edgecam/edgecam/internal/imagecodec"
	"github.com/edgecam/edgecam/internal/onnxmodel"
)

// Defaults used when the matching Options field is zero.
const (
	DefaultConfidence    = 0.25
	DefaultIoU           = 0.45
	DefaultMaxDetections = 300
)

// Options configure a Detector. Zero fields take the defaults above.
type Options struct {
	ModelPath     string  // YOLO ONNX export: output [1,N,5+classes] (v5), [1,4+classes,N] (v8) or [1,N,6] (end-to-end)
	Confidence    float32 // minimum objectness and objectness x class score (default 0.25)
	IoU           float32 // NMS overlap above which the lower-scoring box of a class is dropped (0.45)
	MaxDetections int     // at most this many detections per image (300)
	Runtime       RuntimeOptions
}

// Detection is one detected object. Box is x1, y1, x2, y2 in pixels of the original image.
type Detection struct {
	ClassID int
	Label   string
	Score   float32
	Box     [4]float32
}

// Timings break down where one detection's time went.
type Timings struct {
	Decode, Preprocess, Inference, Postprocess, Total time.Duration
}

// Result is the outcome of one detection. Reuse one Result per caller so that steady-state
// detection does not allocate: Detect overwrites every field and reuses Detections' storage.
type Result struct {
	Width, Height int         // original image size
	Detections    []Detection // sorted by score, highest first
	Timings       Timings
	// Tiles is how many regions of the image were detected one by one (package tile, the whole
	// image included when it was one of them); 0 when the whole image was detected once.
	Tiles int
}

// Detector runs one YOLOv5 model. It is safe for concurrent use; inferences run one at a time.
type Detector struct {
	mu        sync.Mutex
	closed    bool
	session   *ort.AdvancedSession
	input     *ort.Tensor[float32]
	output    *ort.Tensor[float32]
	inW, inH  int
	spec      onnxmodel.Spec
	set       classes.Set
	classes   []string
	conf, iou float32
	maxDet    int

	bgr      gocv.Mat // colour-converted input when it is not 8-bit BGR
	resized  gocv.Mat
	window   letterbox // geometry of the image window last written into input
	haveWin  bool
	cands    []candidate
	cols     columnScratch // YOLOv8 layout
	inputBuf []float32
	outBuf   []float32

	// Decoded frames of DetectEncoded, reused: one per call in flight, so cameras sharing the
	// detector still decode in parallel (inference runs one at a time under mu). frameSlots
	// bounds the calls in flight to framesInFlight, so four cameras ticking together hold two
	// full-size frames, not four.
	frameSlots chan struct{}
	frameMu    sync.Mutex
	frames     []*frameBuf
	framesDone bool // Close has run: buffers given back are closed
}

// framesInFlight is how many DetectEncoded calls decode or wait for inference at once: one
// frame in inference while the next is decoded keeps ONNX Runtime busy; more would only hold
// more decoded frames in memory (~2.6 MB each for a 0.9-megapixel photo) while they wait.
const framesInFlight = 2

// frameBuf is a decoder and the Mat it decodes into, reused from frame to frame.
type frameBuf struct {
	dec imagecodec.Decoder
	img gocv.Mat
}

func (b *frameBuf) close() error { return errors.Join(b.dec.Close(), b.img.Close()) }

// getFrame waits for one of the framesInFlight slots and returns a frame buffer; putFrame gives
// both back.
func (d *Detector) getFrame() *frameBuf {
	d.frameSlots <- struct{}{}
	d.frameMu.Lock()
	defer d.frameMu.Unlock()
	if n := len(d.frames); n > 0 {
		b := d.frames[n-1]
		d.frames = d.frames[:n-1]
		return b
	}
	return &frameBuf{img: gocv.NewMat()}
}

func (d *Detector) putFrame(b *frameBuf) {
	d.frameMu.Lock()
	defer func() {
		d.frameMu.Unlock()
		<-d.frameSlots
	}()
	if d.framesDone {
		b.close()
		return
	}
	d.frames = append(d.frames, b)
}

// ReleaseFrames closes the decoded frames DetectEncoded keeps for reuse (those not in use); later
// calls allocate them again. The daemon's leak check measures the C heap without them, since
// which image sizes they hold after a run depends on the order the cameras' frames came in.
func (d *Detector) ReleaseFrames() error {
	d.frameMu.Lock()
	defer d.frameMu.Unlock()
	var errs []error
	for _, b := range d.frames {
		errs = append(errs, b.close())
	}
	d.frames = d.frames[:0]
	return errors.Join(errs...)
}

// New loads the model at opts.ModelPath and creates its ONNX Runtime session. If InitRuntime
// has not been called, New loads the library FindRuntimeLibrary("") finds.
func New(opts Options) (*Detector, error) {
	if opts.Confidence == 0 {
		opts.Confidence = DefaultConfidence
	}
	if opts.IoU == 0 {
		opts.IoU = DefaultIoU
	}
	if opts.MaxDetections == 0 {
		opts.MaxDetections = DefaultMaxDetections
	}
	switch {
	case !(opts.Confidence > 0 && opts.Confidence < 1):
		return nil, fmt.Errorf("confidence threshold %g: want a value between 0 and 1", opts.Confidence)
	case !(opts.IoU > 0 && opts.IoU <= 1):
		return nil, fmt.Errorf("IoU threshold %g: want a value between 0 and 1", opts.IoU)
	case opts.MaxDetections < 0:
		return nil, fmt.Errorf("max detections %d: want a positive number", opts.MaxDetections)
	case opts.Runtime.Threads < 0:
		return nil, fmt.Errorf("threads %d: want 0 (one per physical core) or more", opts.Runtime.Threads)
	}
	path := opts.ModelPath
	if path == "" {
		return nil, errors.New("no model file given; pass --model PATH to a YOLO ONNX export")
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("model %s: no such file; run `make deps` or pass --model PATH to a YOLO ONNX export", path)
	} else if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	info, err := onnxmodel.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	spec, err := info.Spec()
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	set, err := classes.ForModel(path, info, spec)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	d := &Detector{
		frameSlots: make(chan struct{}, framesInFlight),
		inW:        spec.InW, inH: spec.InH, spec: spec, set: set, classes: set.Names(),
		conf: opts.Confidence, iou: opts.IoU, maxDet: opts.MaxDetections,
	}

	if !runtimeReady() {
		lib, err := FindRuntimeLibrary("")
		if err != nil {
			return nil, err
		}
		if err := InitRuntime(lib); err != nil {
			return nil, err
		}
	}
	if err := d.open(data, spec.Input.Name, spec.Output.Name, opts.Runtime); err != nil {
		d.Close()
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	d.bgr, d.resized = gocv.NewMat(), gocv.NewMat()
	return d, nil
}

func (d *Detector) open(model []byte, inName, outName string, rt RuntimeOptions) error {
	var err error
	if d.inputBuf, err = mapFloats(3 * d.inW * d.inH); err != nil {
		return fmt.Errorf("input tensor: %w", err)
	}
	if d.input, err = ort.NewTensor(ort.NewShape(1, 3, int64(d.inH), int64(d.inW)), d.inputBuf); err != nil {
		return fmt.Errorf("input tensor: %w", err)
	}
	a, b := d.spec.Dims[0], d.spec.Dims[1]
	if d.outBuf, err = mapFloats(a * b); err != nil {
		return fmt.Errorf("output tensor: %w", err)
	}
	if d.output, err = ort.NewTensor(ort.NewShape(1, int64(a), int64(b)), d.outBuf); err != nil {
		return fmt.Errorf("output tensor: %w", err)
	}
	d.session, err = newSession(model, inName, outName, d.input, d.output, rt)
	return err
}

// Classes returns the class names in model index order. The slice must not be modified.
func (d *Detector) Classes() []string { return d.classes }

// ClassSet returns the class names as a set, saying where they came from.
func (d *Detector) ClassSet() classes.Set { return d.set }

// Layout returns the model's output layout.
func (d *Detector) Layout() onnxmodel.Layout { return d.spec.Layout }

// InputSize returns the model's input width and height in pixels.
func (d *Detector) InputSize() (w, h int) { return d.inW, d.inH }

// Close releases the session, tensors and images. It is safe to call more than once.
func (d *Detector) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var errs []error
	if d.session != nil {
		errs = append(errs, d.session.Destroy())
	}
	if d.input != nil {
		errs = append(errs, d.input.Destroy())
	}
	if d.output != nil {
		errs = append(errs, d.output.Destroy())
	}
	if d.bgr.Ptr() != nil {
		errs = append(errs, d.bgr.Close(), d.resized.Close())
	}
	// After the session and tensors that point into them.
	errs = append(errs, unmapFloats(d.inputBuf), unmapFloats(d.outBuf))
	d.inputBuf, d.outBuf = nil, nil
	d.frameMu.Lock()
	for _, b := range d.frames {
		errs = append(errs, b.close())
	}
	d.frames, d.framesDone = nil, true
	d.frameMu.Unlock()
	return errors.Join(errs...)
}

var errClosed = errors.New("detector is closed")

// Detect finds objects in img, an 8-bit BGR (or gray, or BGRA) image, and stores them in res.
func (d *Detector) Detect(img gocv.Mat, res *Result) error {
	if img.Empty() {
		return errors.New("empty image")
	}
	return d.detect(img, img.Cols(), img.Rows(), time.Now(), 0, res)
}

// DetectEncoded decodes a JPEG, PNG, BMP or WebP (package imagecodec: OpenCV's pixels, EXIF
// orientation applied) into a reused image and finds objects in it. Large JPEGs are decoded at
// 1/2, 1/4 or 1/8 scale when that is still well above the letterboxed size (see
// minReducedRatio), so most pixels the letterbox would throw away are never decoded. Boxes are
// in the original image's pixels either way.
func (d *Detector) DetectEncoded(data []byte, res *Result) error {
	start := time.Now()
	buf, origW, origH, err := d.decodeFrame(data, d.ReducedScale)
	if err != nil {
		return err
	}
	defer d.putFrame(buf)
	return d.detect(buf.img, origW, origH, start, time.Since(start), res)
}

// WithDecoded decodes data as DetectEncoded does, into one of the detector's reused frames (EXIF
// orientation applied), and calls fn with the picture and the image's original size; the
// picture is only valid during fn. scale chooses a JPEG's decode reduction (1, 2, 4 or 8) from
// the original size; nil decodes at full size. Package tile detects a frame's tiles this way.
func (d *Detector) WithDecoded(data []byte, scale func(w, h int) int, fn func(img gocv.Mat, origW, origH int) error) error {
	buf, origW, origH, err := d.decodeFrame(data, scale)
	if err != nil {
		return err
	}
	defer d.putFrame(buf)
	return fn(buf.img, origW, origH)
}

// ReducedScale is the JPEG decode reduction (8, 4, 2, else 1) DetectEncoded uses for a w x h
// image: the largest whose output is still at least minReducedRatio times the letterboxed size.
func (d *Detector) ReducedScale(w, h int) int { return reducedScale(w, h, d.inW, d.inH) }

// decodeFrame decodes data into a frame buffer the caller gives back with putFrame, at the
// reduction scale(w, h) (nil: full size), and returns the original image's size.
func (d *Detector) decodeFrame(data []byte, scaleFor func(w, h int) int) (*frameBuf, int, int, error) {
	format, w, h, err := imageHeader(data)
	if err != nil {
		return nil, 0, 0, err
	}
	if err := checkSize(w, h); err != nil {
		return nil, 0, 0, err
	}
	scale := 1
	if format == formatJPEG && scaleFor != nil {
		if s := scaleFor(w, h); s == 2 || s == 4 || s == 8 {
			scale = s
		}
	}
	buf := d.getFrame()
	buf.dec.MaxPixels = MaxPixels
	if err := buf.dec.Decode(data, scale, &buf.img); err != nil {
		d.putFrame(buf)
		return nil, 0, 0, fmt.Errorf("cannot decode image: %w", err)
	}
	mw, mh := buf.img.Cols(), buf.img.Rows()
	origW, origH := mw, mh
	if scale > 1 {
		// The decoder applies EXIF orientation, which can swap the header's width and height.
		origW, origH = w, h
		if (mw != ceilDiv(w, scale) || mh != ceilDiv(h, scale)) && mw == ceilDiv(h, scale) && mh == ceilDiv(w, scale) {
			origW, origH = h, w
		}
	}
	return buf, origW, origH, nil
}

// minReducedRatio is how much larger than the letterboxed image a reduced JPEG decode must be.
// Near 1x the final resize is almost the identity, so the network sees libjpeg's DCT-smoothed
// picture instead of Ultralytics' bilinear subsampling of the full image, and weak detections
// move by up to 0.07 (zidane.jpg, kite.jpg at 1/2 scale). From 1.5x on the bilinear step
// dominates again and scores stay within about 0.01 of a full decode (measured on the
// reference photos upscaled 1.5x to 3x). 1920x1080 decodes at 1/2, 3840x2160 at 1/4.
const minReducedRatio = 1.5

// reducedScale returns the largest JPEG decode reduction (8, 4, 2, else 1) whose output is still
// at least minReducedRatio times the letterboxed image.
func reducedScale(w, h, dstW, dstH int) int {
	lb := newLetterbox(w, h, dstW, dstH)
	for _, s := range [...]int{8, 4, 2} {
		if float64(ceilDiv(w, s)) >= minReducedRatio*float64(lb.NewW) &&
			float64(ceilDiv(h, s)) >= minReducedRatio*float64(lb.NewH) {
			return s
		}
	}
	return 1
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// detect runs the pipeline on img and reports boxes in an origW x origH image.
func (d *Detector) detect(img gocv.Mat, origW, origH int, start time.Time, decode time.Duration, res *Result) error {
	if res == nil {
		return errors.New("nil Result")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errClosed
	}
	t0 := time.Now()
	lb, err := d.preprocess(img)
	if err != nil {
		return err
	}
	t1 := time.Now()
	if err := d.session.Run(); err != nil {
		return fmt.Errorf("inference: %w", err)
	}
	t2 := time.Now()
	d.postprocess(lb, float64(origW)/float64(img.Cols()), float64(origH)/float64(img.Rows()), origW, origH, res)
	t3 := time.Now()
	res.Width, res.Height, res.Tiles = origW, origH, 0
	res.Timings = Timings{Decode: decode, Preprocess: t1.Sub(t0), Inference: t2.Sub(t1), Postprocess: t3.Sub(t2)}
	res.Timings.Total = decode + t3.Sub(t0)
	return nil
}

// preprocess letterboxes img into the input tensor.
func (d *Detector) preprocess(img gocv.Mat) (letterbox, error) {
	src := img
	switch img.Type() {
	case gocv.MatTypeCV8UC3:
	case gocv.MatTypeCV8UC1:
		gocv.CvtColor(img, &d.bgr, gocv.ColorGrayToBGR)
		src = d.bgr
	case gocv.MatTypeCV8UC4:
		gocv.CvtColor(img, &d.bgr, gocv.ColorBGRAToBGR)
		src = d.bgr
	default:
		return letterbox{}, fmt.Errorf("image type %v: want 8-bit BGR", img.Type())
	}
	w, h := src.Cols(), src.Rows()
	if w <= 0 || h <= 0 {
		return letterbox{}, errors.New("empty image")
	}
	if err := checkSize(w, h); err != nil {
		return letterbox{}, err
	}
	lb := newLetterbox(w, h, d.inW, d.inH)
	if lb.NewW != w || lb.NewH != h {
		gocv.Resize(src, &d.resized, image.Pt(lb.NewW, lb.NewH), 0, 0, gocv.InterpolationLinear)
		src = d.resized
	} else if !src.IsContinuous() {
		src.CopyTo(&d.resized)
		src = d.resized
	}
	pix, err := src.DataPtrUint8()
	if err != nil {
		return letterbox{}, err
	}
	if !d.haveWin || d.window.NewW != lb.NewW || d.window.NewH != lb.NewH || d.window.Left != lb.Left || d.window.Top != lb.Top {
		fillPad(d.inputBuf)
		d.window, d.haveWin = lb, true
	}
	fillImage(d.inputBuf, d.inW, d.inH, pix, src.Step(), lb.NewW, lb.NewH, lb.Left, lb.Top)
	return lb, nil
}

// postprocess decodes the output tensor into res.Detections, scaled by (sx, sy) from the
// letterboxed image's source to the original image.
func (d *Detector) postprocess(lb letterbox, sx, sy float64, outW, outH int, res *Result) {
	var kept []candidate
	switch d.spec.Layout {
	case onnxmodel.YOLOv8:
		d.cands = decodeColumns(d.outBuf, d.spec.Dims[0], d.spec.Dims[1], d.conf, &d.cols, d.cands[:0])
		kept = nms(d.cands, d.iou, d.maxDet)
	case onnxmodel.EndToEnd:
		// NMS ran inside the model; running it again with other settings could drop what it kept.
		d.cands = decodeEndToEnd(d.outBuf, d.conf, d.cands[:0])
		kept = nms(d.cands, 2, d.maxDet) // an IoU above 1 only sorts and caps
	default:
		d.cands = decodeRows(d.outBuf, d.spec.Dims[1], d.conf, d.cands[:0])
		kept = nms(d.cands, d.iou, d.maxDet)
	}
	res.Detections = res.Detections[:0]
	for _, c := range kept {
		label := ""
		if c.Class < len(d.classes) {
			label = d.classes[c.Class]
		} else {
			label = classLabel(c.Class)
		}
		res.Detections = append(res.Detections, Detection{
			ClassID: c.Class, Label: label, Score: c.Score,
			Box: lb.unmap(c.Box, sx, sy, outW, outH),
		})
	}
}
