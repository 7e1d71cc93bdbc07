package yolo

import (
	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/imagecodec"
	"github.com/edgecam/edgecam/internal/tally"
)

// Counted appends to dst the detections that rules count (tally.Rules.Keep), or all of dets
// when rules is nil; preds are Predictions of the same result, one per detection in order.
// The daemon's marked-up frames and edgecam detect --annotate draw these.
func Counted(dst, dets []Detection, preds []tally.Prediction, rules *tally.Rules) []Detection {
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

// AnnotateCounted marks up img (a BGR image): the rules' masks and zones when rules is set
// (AnnotateZones), then the counted detections' boxes on top (Annotate).
func AnnotateCounted(img *gocv.Mat, counted []Detection, rules *tally.Rules) {
	if rules != nil {
		AnnotateZones(img, rules.Zones, rules.Masks)
	}
	Annotate(img, counted)
}

// WriteAnnotated decodes the encoded image data, marks it up as AnnotateCounted does and writes
// it to the file out (its extension chooses the format: .jpg or .png).
func WriteAnnotated(out string, data []byte, counted []Detection, rules *tally.Rules) error {
	img, err := imagecodec.DecodeMax(data, MaxPixels)
	if err != nil {
		return err
	}
	defer img.Close()
	AnnotateCounted(&img, counted, rules)
	return imagecodec.WriteFile(out, img)
}
