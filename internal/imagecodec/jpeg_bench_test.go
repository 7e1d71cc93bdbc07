package imagecodec

import (
	"image"
	"testing"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/testfixture"
)

// benchInputs are bus.jpg (810x1080) and a 1920x1080 JPEG made from it (quality 95).
func benchInputs(b *testing.B) map[string][]byte {
	bus := readFile(b, testfixture.Photo(b, "bus.jpg"))
	img := referenceScaled(b, bus, 1)
	defer img.Close()
	hd := gocv.NewMat()
	defer hd.Close()
	gocv.Resize(img, &hd, image.Pt(1920, 1080), 0, 0, gocv.InterpolationLinear)
	data, err := EncodeJPEG(hd, 0)
	if err != nil {
		b.Fatal(err)
	}
	return map[string][]byte{"bus": bus, "1080p": data}
}

// BenchmarkJPEGDecode compares the JPEG decoder (into a reused Mat) with gocv.IMDecode at full and 1/2
// scale.
func BenchmarkJPEGDecode(b *testing.B) {
	for name, data := range benchInputs(b) {
		for _, scale := range []int{1, 2} {
			suffix := "/" + name + "/1:" + string(rune('0'+scale))
			b.Run("jpeg"+suffix, func(b *testing.B) {
				var d jpegDecoder
				defer d.Close()
				dst := gocv.NewMat()
				defer dst.Close()
				b.ReportAllocs()
				for b.Loop() {
					if err := d.Decode(data, scale, &dst); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("gocv"+suffix, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					m := referenceScaled(b, data, scale)
					m.Close()
				}
			})
		}
	}
}

// BenchmarkEncode compares JPEGEncoder.Append (reused buffers) with gocv.IMEncode on a 1080p frame.
func BenchmarkJPEGEncode(b *testing.B) {
	img := referenceScaled(b, benchInputs(b)["1080p"], 1)
	defer img.Close()
	b.Run("jpeg", func(b *testing.B) {
		var e JPEGEncoder
		defer e.Close()
		var out []byte
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if out, err = e.Append(out[:0], img, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gocv", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf, err := gocv.IMEncode(gocv.JPEGFileExt, img)
			if err != nil {
				b.Fatal(err)
			}
			buf.Close()
		}
	})
}
