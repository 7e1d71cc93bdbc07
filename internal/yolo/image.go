package yolo

import "github.com/edgecam/edgecam/internal/imageinfo"

// MaxPixels is the largest image the detector decodes whatever the caller checked; bigger
// headers are refused before decoding. Cameras have their own, lower maxPixels.
const MaxPixels = 100_000_000

const formatJPEG = imageinfo.JPEG

// imageHeader reads the format and pixel size of an encoded image from its header and checks
// that a JPEG or PNG is complete (see package imageinfo).
func imageHeader(data []byte) (imageinfo.Format, int, int, error) { return imageinfo.Header(data) }

// checkSize refuses empty and absurdly large images.
func checkSize(w, h int) error { return imageinfo.CheckPixels(w, h, MaxPixels) }
