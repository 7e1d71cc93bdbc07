package mats

import "gocv.io/x/gocv"

// Changed counts the pixels of two BGR Mats of one size whose grey-level difference is above
// threshold (0: any difference), to tell that something was drawn.
func Changed(a, b gocv.Mat, threshold float32) int {
	diff := gocv.NewMat()
	defer diff.Close()
	gocv.AbsDiff(a, b, &diff)
	gray := gocv.NewMat()
	defer gray.Close()
	gocv.CvtColor(diff, &gray, gocv.ColorBGRToGray)
	if threshold > 0 {
		gocv.Threshold(gray, &gray, threshold, 255, gocv.ThresholdBinary)
	}
	return gocv.CountNonZero(gray)
}
