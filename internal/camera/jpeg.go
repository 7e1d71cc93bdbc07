package camera

import (
	"bytes"
	"errors"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/imagecodec"
)

// JPEG returns the frame as JPEG: its encoded data when that is already JPEG, else the image
// encoded (a decoded RTSP frame, a PNG snapshot).
func (f *Frame) JPEG() ([]byte, error) {
	if f == nil {
		return nil, errors.New("no frame")
	}
	if bytes.HasPrefix(f.Data, []byte{0xFF, 0xD8, 0xFF}) {
		return f.Data, nil
	}
	img, err := f.Image()
	if err != nil {
		return nil, err
	}
	return EncodeJPEG(img)
}

// EncodeJPEG encodes img as JPEG (quality 95, OpenCV's default and what edgecam always used)
// into a new byte slice.
func EncodeJPEG(img gocv.Mat) ([]byte, error) {
	return imagecodec.EncodeJPEG(img, imagecodec.JPEGQuality)
}
