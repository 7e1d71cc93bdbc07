package camera

import (
	"bytes"
	"errors"
	"fmt"

	"gocv.io/x/gocv"
)

// JPEG returns the frame as JPEG: its encoded data when that is already JPEG, else the image
// encoded (a decoded RTSP frame, a PNG snapshot).
func (f *Frame) JPEG() ([]byte, error) {
	if f == nil {
		return nil, errors.New("no frame")
	}
	if f.HasMat() {
		return EncodeJPEG(f.Mat)
	}
	if bytes.HasPrefix(f.Data, []byte{0xFF, 0xD8, 0xFF}) {
		return f.Data, nil
	}
	img, err := f.Decode()
	if err != nil {
		return nil, err
	}
	defer img.Close()
	return EncodeJPEG(img)
}

// EncodeJPEG encodes img as JPEG into a Go byte slice.
func EncodeJPEG(img gocv.Mat) ([]byte, error) {
	if img.Empty() {
		return nil, errors.New("encode JPEG: empty image")
	}
	buf, err := gocv.IMEncode(gocv.JPEGFileExt, img)
	if err != nil {
		return nil, fmt.Errorf("encode JPEG: %w", err)
	}
	defer buf.Close()
	return bytes.Clone(buf.GetBytes()), nil
}
