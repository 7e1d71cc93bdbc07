// Package markup is what edgecam does with a detector's result besides counting it: the
// detections as tally predictions (boxes in fractions of the image), the ones a camera's rules
// count, and the marked-up frame (zones and masks, then the counted boxes) for `edgecam detect
// --annotate`, the daemon's marked-up file and uploads. It keeps package yolo free of tallies,
// zones and drawing.
package markup

import (
	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/imagecodec"
	"github.com/edgecam/edgecam/internal/tally"
	"github.com/edgecam/edgecam/internal/yolo"
)

// Counted appends to dst the detections that rules count (tally.Rules.Keep), or all of dets
// when rules is nil; preds are Predictions of the same result, one per detection in order.
// The daemon's marked-up frames and edgecam detect --annotate draw these.
func Counted(dst, dets []yolo.Detection, preds []tally.Prediction, rules *tally.Rules) []yolo.Detection {
	if rules == nil {
		return append(dst, dets...)
	}
	for i, d := range dets {
		if rules.Keep(preds[i]) {
			dst = append(dst, d)
		}
	}
	return dst
}

// Frame marks up img (a BGR image): the rules' masks and zones when rules is set (Zones),
// then the counted detections' boxes on top (Boxes).
func Frame(img *gocv.Mat, counted []yolo.Detection, rules *tally.Rules) {
	if rules != nil {
		Zones(img, rules.Zones, rules.Masks)
	}
	Boxes(img, counted)
}

// WriteFile decodes the encoded image data (up to the detector's yolo.MaxPixels), marks it up as
// Frame does and writes it to the file out (its extension chooses the format: .jpg or .png).
func WriteFile(out string, data []byte, counted []yolo.Detection, rules *tally.Rules) error {
	img, err := imagecodec.DecodeMax(data, yolo.MaxPixels)
	if err != nil {
		return err
	}
	defer img.Close()
	Frame(&img, counted, rules)
	return imagecodec.WriteFile(out, img)
}
