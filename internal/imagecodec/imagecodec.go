// Package imagecodec turns the encoded images edgecam reads (JPEG, PNG, BMP, WebP: the formats
// package imageinfo recognizes) into 8-bit BGR Mats as OpenCV 4.6's imdecode(IMREAD_COLOR) did,
// and writes JPEG and PNG files, without OpenCV's imgcodecs module: JPEG through package jpeg
// (libjpeg-turbo), the others with Go's decoders.
//
// The pixels are OpenCV's byte for byte: PNG's 16-bit samples keep their high byte and alpha is
// dropped, as libpng's strip_16 and strip_alpha do; a PNG's eXIf orientation is applied as for a
// JPEG; lossy WebP's YCbCr goes through libwebp's fancy upsampler and fixed-point conversion
// (webp.go) rather than Go's JFIF formula.
package imagecodec

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"

	"gocv.io/x/gocv"
	"golang.org/x/image/bmp"
	"golang.org/x/image/webp"

	"github.com/edgecam/edgecam/internal/imageinfo"
	"github.com/edgecam/edgecam/internal/jpeg"
)

// A Decoder decodes images into reused Mats. It is not safe for concurrent use; the zero value
// is ready to use. Close releases its scratch memory.
type Decoder struct {
	// MaxPixels is the largest image (width x height) Decode allocates for; larger ones are
	// refused from their header (for JPEG: the frame size libjpeg itself reads). 0 means
	// imageinfo.DefaultMaxPixels.
	MaxPixels int64

	jpeg    jpeg.Decoder
	rotated gocv.Mat // a PNG's pixels before its EXIF orientation is applied
}

// Close releases the decoder's scratch memory. The decoder stays usable.
func (d *Decoder) Close() error {
	err := d.jpeg.Close()
	if d.rotated.Ptr() != nil {
		err = errors.Join(err, d.rotated.Close())
		d.rotated = gocv.Mat{}
	}
	return err
}

// Decode decodes data (JPEG, PNG, BMP or WebP) into dst as 8-bit BGR, reusing dst's memory when
// it already has the image's size (a zero Mat is fine; the caller closes dst). A JPEG is decoded
// at 1/scale (1, 2, 4 or 8) and turned as its EXIF orientation says; other formats take scale 1
// only. Images over d.MaxPixels are refused before anything is allocated for them.
func (d *Decoder) Decode(data []byte, scale int, dst *gocv.Mat) error {
	format := imageinfo.Sniff(data)
	if format == "" && bytes.HasPrefix(data, []byte{0xFF, 0xD8}) {
		format = imageinfo.JPEG
	}
	if format == imageinfo.JPEG {
		d.jpeg.MaxPixels = d.MaxPixels
		return d.jpeg.Decode(data, scale, dst)
	}
	if scale != 1 {
		return fmt.Errorf("decode %s: scale 1/%d: reduced decoding is for JPEG only", format, scale)
	}
	if format != "" {
		_, w, h, err := imageinfo.Header(data)
		if err == nil {
			err = imageinfo.CheckPixels(w, h, d.MaxPixels)
		}
		if err != nil {
			return fmt.Errorf("decode %s: %w", strings.ToUpper(string(format)), err)
		}
	}
	var (
		img image.Image
		err error
	)
	switch format {
	case imageinfo.PNG:
		img, err = png.Decode(bytes.NewReader(data))
	case imageinfo.BMP:
		img, err = bmp.Decode(bytes.NewReader(data))
	case imageinfo.WebP:
		img, err = webp.Decode(bytes.NewReader(data))
	default:
		return errors.New("not a JPEG, PNG, BMP or WebP image")
	}
	if err != nil {
		return fmt.Errorf("decode %s: %w", strings.ToUpper(string(format)), err)
	}
	// OpenCV 4.6 applies a PNG's eXIf orientation too (not a BMP's or WebP's).
	if o := imageinfo.Orientation(data); format == imageinfo.PNG && o >= 2 && o <= 8 {
		if err := toBGR(img, &d.rotated); err != nil {
			return err
		}
		jpeg.Orient(d.rotated, dst, o)
		return nil
	}
	return toBGR(img, dst)
}

// Decode decodes data into a new BGR Mat (see Decoder.Decode at scale 1) with the default pixel
// limit; the caller closes it.
func Decode(data []byte) (gocv.Mat, error) { return DecodeMax(data, 0) }

// DecodeMax is Decode with a pixel limit (0: imageinfo.DefaultMaxPixels).
func DecodeMax(data []byte, maxPixels int64) (gocv.Mat, error) {
	d := Decoder{MaxPixels: maxPixels}
	defer d.Close()
	m := gocv.NewMat()
	if err := d.Decode(data, 1, &m); err != nil {
		m.Close()
		return gocv.Mat{}, err
	}
	return m, nil
}

// toBGR copies img's colour (alpha dropped, 16-bit samples' high byte) into dst as 8-bit BGR.
func toBGR(img image.Image, dst *gocv.Mat) error {
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	if w <= 0 || h <= 0 {
		return fmt.Errorf("bad image size %dx%d", w, h)
	}
	if dst.Ptr() == nil || dst.Cols() != w || dst.Rows() != h || dst.Type() != gocv.MatTypeCV8UC3 || !dst.IsContinuous() {
		if dst.Ptr() != nil {
			dst.Close()
		}
		*dst = gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC3)
	}
	pix, err := dst.DataPtrUint8()
	if err != nil {
		return err
	}
	step := dst.Step()
	row := func(y int) []byte { return pix[y*step : y*step+3*w] }
	switch m := img.(type) {
	case *image.Gray:
		for y := range h {
			out, in := row(y), m.Pix[y*m.Stride:]
			for x := range w {
				v := in[x]
				out[3*x], out[3*x+1], out[3*x+2] = v, v, v
			}
		}
	case *image.Gray16:
		for y := range h {
			out, in := row(y), m.Pix[y*m.Stride:]
			for x := range w {
				v := in[2*x]
				out[3*x], out[3*x+1], out[3*x+2] = v, v, v
			}
		}
	case *image.RGBA:
		rgba8(m.Pix, m.Stride, w, h, row)
	case *image.NRGBA:
		rgba8(m.Pix, m.Stride, w, h, row)
	case *image.RGBA64:
		rgba16(m.Pix, m.Stride, w, h, row)
	case *image.NRGBA64:
		rgba16(m.Pix, m.Stride, w, h, row)
	case *image.Paletted:
		var lut [256][3]byte
		for i, c := range m.Palette {
			lut[i] = raw8(c)
		}
		for y := range h {
			out, in := row(y), m.Pix[y*m.Stride:]
			for x := range w {
				c := lut[in[x]]
				out[3*x], out[3*x+1], out[3*x+2] = c[2], c[1], c[0]
			}
		}
	case *image.YCbCr:
		if m.SubsampleRatio == image.YCbCrSubsampleRatio420 {
			webpBGR(m, w, h, row)
			break
		}
		generic(img, w, h, row)
	case *image.NYCbCrA: // lossy WebP with alpha, which is dropped
		if m.SubsampleRatio == image.YCbCrSubsampleRatio420 {
			webpBGR(&m.YCbCr, w, h, row)
			break
		}
		generic(img, w, h, row)
	default:
		generic(img, w, h, row)
	}
	return nil
}

// generic converts any image through the colour models.
func generic(img image.Image, w, h int, row func(int) []byte) {
	r := img.Bounds()
	for y := range h {
		out := row(y)
		for x := range w {
			c := raw8(img.At(r.Min.X+x, r.Min.Y+y))
			out[3*x], out[3*x+1], out[3*x+2] = c[2], c[1], c[0]
		}
	}
}

func rgba8(p []byte, stride, w, h int, row func(int) []byte) {
	for y := range h {
		out, in := row(y), p[y*stride:]
		for x := range w {
			out[3*x], out[3*x+1], out[3*x+2] = in[4*x+2], in[4*x+1], in[4*x]
		}
	}
}

func rgba16(p []byte, stride, w, h int, row func(int) []byte) {
	for y := range h {
		out, in := row(y), p[y*stride:]
		for x := range w {
			out[3*x], out[3*x+1], out[3*x+2] = in[8*x+4], in[8*x+2], in[8*x]
		}
	}
}

// raw8 is c's red, green and blue as stored, without alpha applied: what libpng's strip_alpha
// leaves. Premultiplied colours are un-premultiplied first.
func raw8(c color.Color) [3]byte {
	switch c := c.(type) {
	case color.NRGBA:
		return [3]byte{c.R, c.G, c.B}
	case color.RGBA:
		if c.A == 0xFF {
			return [3]byte{c.R, c.G, c.B}
		}
	case color.YCbCr:
		r, g, b := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
		return [3]byte{r, g, b}
	case color.NYCbCrA:
		r, g, b := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
		return [3]byte{r, g, b}
	}
	n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
	return [3]byte{byte(n.R >> 8), byte(n.G >> 8), byte(n.B >> 8)}
}

// WriteFile writes img (8-bit BGR) to path in the format its extension names: .jpg, .jpeg or
// .jpe (JPEG of jpeg.DefaultQuality, as OpenCV's imwrite) or .png.
func WriteFile(path string, img gocv.Mat) error {
	var (
		data []byte
		err  error
	)
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".jpg", ".jpeg", ".jpe":
		data, err = jpeg.Encode(img, jpeg.DefaultQuality)
	case ".png":
		data, err = EncodePNG(img)
	default:
		return fmt.Errorf("write %s: unknown image extension %q: use .jpg or .png", path, ext)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.WriteFile(path, data, 0o666)
}

// EncodePNG encodes img (8-bit BGR, gray or BGRA) as PNG.
func EncodePNG(img gocv.Mat) ([]byte, error) {
	if img.Empty() {
		return nil, errors.New("encode PNG: empty image")
	}
	src := img
	if !img.IsContinuous() {
		src = img.Clone()
		defer src.Close()
	}
	w, h := src.Cols(), src.Rows()
	pix, err := src.DataPtrUint8()
	if err != nil {
		return nil, fmt.Errorf("encode PNG: %w", err)
	}
	var out image.Image
	switch src.Type() {
	case gocv.MatTypeCV8UC1:
		g := image.NewGray(image.Rect(0, 0, w, h))
		for y := range h {
			copy(g.Pix[y*g.Stride:y*g.Stride+w], pix[y*src.Step():])
		}
		out = g
	case gocv.MatTypeCV8UC3, gocv.MatTypeCV8UC4:
		ch := src.Channels()
		n := image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			in, o := pix[y*src.Step():], n.Pix[y*n.Stride:]
			for x := range w {
				o[4*x], o[4*x+1], o[4*x+2], o[4*x+3] = in[ch*x+2], in[ch*x+1], in[ch*x], 0xFF
				if ch == 4 {
					o[4*x+3] = in[4*x+3]
				}
			}
		}
		out = n
	default:
		return nil, fmt.Errorf("encode PNG: image type %v: want 8-bit BGR, gray or BGRA", src.Type())
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, out); err != nil {
		return nil, fmt.Errorf("encode PNG: %w", err)
	}
	return buf.Bytes(), nil
}
