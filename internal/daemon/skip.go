package daemon

import (
	"time"

	"github.com/edgecam/edgecam/internal/camera"
	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/motion"
)

// skipper is motion.skipUnchanged on a timer camera: a tick whose frame shows no motion
// against the frame of the last inference reuses that inference's detections.
type skipper struct {
	mot     *motion.Detector
	refresh time.Duration
	last    time.Time // the last inference; zero before the first
}

func newSkipper(cam *config.Camera) *skipper {
	if cam.Motion == nil || !cam.Motion.SkipUnchanged || cam.Analysis != nil {
		return nil
	}
	// Alpha close to 0: the background stays the frame of the last inference, so changes too
	// slow to show between two ticks still add up to motion.
	return &skipper{mot: motion.New(motion.Options{Alpha: 1e-6}, config.MotionMasks(cam)), refresh: cam.Motion.Refresh.Std()}
}

// detect runs the model on frame into w.res, unless nothing moved since the last inference
// (within refresh): then w.res keeps the last detections and skipped is true.
func (s *skipper) detect(w *worker, frame *camera.Frame, now time.Time) (skipped bool, err error) {
	img, err := frame.Image() // decoded once for the tick, kept (and closed) by the frame
	if err != nil {
		return false, err
	}
	r := s.mot.Detect(img)
	if !s.last.IsZero() && !r.Motion && !r.Recalibrated && now.Sub(s.last) < s.refresh {
		w.metrics.Inference(w.cam.ID, true)
		return true, nil
	}
	if err := w.det.Detect(img, &w.res); err != nil {
		return false, err
	}
	w.metrics.Inference(w.cam.ID, false)
	s.last = now
	s.mot.Reset() // this frame becomes the background
	s.mot.Detect(img)
	return false, nil
}

func (s *skipper) close() { s.mot.Close() }
