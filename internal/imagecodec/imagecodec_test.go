package imagecodec

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/imageinfo"
	"github.com/edgecam/edgecam/internal/testfixture"
)

func readFile(t testing.TB, path string) []byte { return testfixture.ReadFile(t, path) }

func reference(t testing.TB, data []byte) gocv.Mat {
	t.Helper()
	m, err := gocv.IMDecode(data, gocv.IMReadColor)
	if err != nil || m.Empty() {
		t.Fatalf("gocv.IMDecode: %v", err)
	}
	return m
}

// diff returns how many bytes of got differ from want and by how much at most; -1 when the
// size or type differ.
func diff(got, want gocv.Mat) (n, maxDiff int) {
	if got.Rows() != want.Rows() || got.Cols() != want.Cols() || got.Type() != want.Type() {
		return -1, -1
	}
	g, w := got.ToBytes(), want.ToBytes()
	for i := range g {
		if d := int(g[i]) - int(w[i]); d != 0 {
			n++
			maxDiff = max(maxDiff, d, -d)
		}
	}
	return n, maxDiff
}

func encoded(t testing.TB, ext string, m gocv.Mat, params ...int) []byte {
	t.Helper()
	var buf *gocv.NativeByteBuffer
	var err error
	if len(params) == 0 {
		buf, err = gocv.IMEncode(gocv.FileExt(ext), m) // gocv's WithParams indexes params[0]
	} else {
		buf, err = gocv.IMEncodeWithParams(gocv.FileExt(ext), m, params)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	return bytes.Clone(buf.GetBytes())
}

// Every PNG kind (PngSuite), BMPs, and lossless and lossy WebP decode to OpenCV's pixels byte
// for byte.
func TestDecodeMatchesOpenCV(t *testing.T) {
	files, err := filepath.Glob("testdata/*.png")
	if err != nil || len(files) < 20 {
		t.Fatalf("testdata: %d files, %v", len(files), err)
	}
	inputs := map[string][]byte{}
	for _, f := range files {
		inputs[f] = readFile(t, f)
	}
	photo := reference(t, readFile(t, testfixture.Photo(t, "zidane.jpg")))
	defer photo.Close()
	bgra := gocv.NewMat()
	defer bgra.Close()
	gocv.CvtColor(photo, &bgra, gocv.ColorBGRToBGRA)
	inputs["photo.bmp"] = encoded(t, ".bmp", photo)
	inputs["photo.png"] = encoded(t, ".png", photo)
	inputs["photo-bgra.png"] = encoded(t, ".png", bgra)
	inputs["photo-lossless.webp"] = encoded(t, ".webp", photo, gocv.IMWriteWebpQuality, 101)
	inputs["photo-lossy.webp"] = encoded(t, ".webp", photo, gocv.IMWriteWebpQuality, 90)
	odd := photo.Region(image.Rect(1, 1, 300, 201)) // odd width and height
	defer odd.Close()
	oddEven := photo.Region(image.Rect(1, 1, 301, 200))
	defer oddEven.Close()
	inputs["odd-lossy.webp"] = encoded(t, ".webp", odd.Clone(), gocv.IMWriteWebpQuality, 75)
	inputs["even-odd-lossy.webp"] = encoded(t, ".webp", oddEven.Clone(), gocv.IMWriteWebpQuality, 75)
	inputs["odd.bmp"] = encoded(t, ".bmp", odd.Clone())
	var d Decoder
	defer d.Close()
	dst := gocv.NewMat()
	defer dst.Close()
	for name, data := range inputs {
		if err := d.Decode(data, 1, &dst); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		want := reference(t, data)
		if n, m := diff(dst, want); n != 0 {
			t.Errorf("%s: %dx%d: %d bytes differ from OpenCV's %dx%d, by up to %d", name, dst.Cols(), dst.Rows(), n, want.Cols(), want.Rows(), m)
		}
		want.Close()
	}
}

// pngChunk inserts a chunk after a PNG's IHDR.
func pngChunk(data []byte, typ string, body []byte) []byte {
	var c []byte
	c = binary.BigEndian.AppendUint32(c, uint32(len(body)))
	c = append(c, typ...)
	c = append(c, body...)
	c = binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(append([]byte(typ), body...)))
	out := append([]byte(nil), data[:33]...)
	return append(append(out, c...), data[33:]...)
}

// pngAfterIDAT appends a chunk just before a PNG's IEND.
func pngAfterIDAT(data []byte, typ string, body []byte) []byte {
	end := len(data) - 12
	withChunk := pngChunk(append(append([]byte(nil), data[:33]...), data[end:]...), typ, body)
	return append(append(append([]byte(nil), data[:end]...), withChunk[33:len(withChunk)-12]...), data[end:]...)
}

// OpenCV 4.6 applies a PNG's eXIf orientation as libpng keeps the chunk: here too.
func TestPNGExifMatchesOpenCV(t *testing.T) {
	png := readFile(t, "testdata/basn2c08.png")
	mm := func(o byte) []byte {
		return []byte("MM\x00\x2A\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00" + string(rune(o)) + "\x00\x00\x00\x00\x00\x00")
	}
	bad := []byte("XY\x00\x2A\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x03\x00\x00\x00\x00\x00\x00")
	for name, data := range map[string][]byte{
		"before IDAT 6":    pngChunk(png, "eXIf", mm(6)),
		"before IDAT 8":    pngChunk(png, "eXIf", mm(8)),
		"after IDAT 3":     pngAfterIDAT(png, "eXIf", mm(3)),
		"bad then good":    pngChunk(pngChunk(png, "eXIf", mm(5)), "eXIf", bad),
		"two":              pngChunk(pngChunk(png, "eXIf", mm(7)), "eXIf", mm(2)),
		"before and after": pngAfterIDAT(pngChunk(png, "eXIf", mm(4)), "eXIf", mm(6)),
	} {
		m, err := Decode(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := reference(t, data)
		if n, _ := diff(m, want); n != 0 {
			t.Errorf("%s: %d bytes differ from OpenCV's", name, n)
		}
		m.Close()
		want.Close()
	}
}

func TestDecodeErrors(t *testing.T) {
	png := readFile(t, "testdata/basn2c08.png")
	var d Decoder
	defer d.Close()
	for name, tc := range map[string]struct {
		data  []byte
		scale int
		want  string
	}{
		"text":        {[]byte("hello, not an image"), 1, "not a JPEG, PNG, BMP or WebP image"},
		"png cut":     {png[:len(png)/2], 1, "decode PNG: "},
		"png reduced": {png, 2, "decode png: scale 1/2: reduced decoding is for JPEG only"},
		"bmp":         {[]byte("BM" + strings.Repeat("\x00", 40)), 1, "decode BMP: "},
		"webp":        {[]byte("RIFF\x00\x00\x00\x00WEBPVP8 \x00\x00\x00\x00"), 1, "decode WEBP: "},
		"jpeg cut":    {[]byte{0xFF, 0xD8, 0xFF}, 1, "decode JPEG: "},
	} {
		m := gocv.NewMat()
		err := d.Decode(tc.data, tc.scale, &m)
		m.Close()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}

// WriteFile writes imwrite's JPEG bytes for .jpg and a lossless PNG for .png.
func TestWriteFile(t *testing.T) {
	img := reference(t, readFile(t, testfixture.Photo(t, "dog.jpg")))
	defer img.Close()
	dir := t.TempDir()
	jpg := filepath.Join(dir, "a.jpg")
	if err := WriteFile(jpg, img); err != nil {
		t.Fatal(err)
	}
	want, err := gocv.IMEncode(gocv.JPEGFileExt, img)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	if !bytes.Equal(readFile(t, jpg), want.GetBytes()) {
		t.Error(".jpg: not imencode's bytes")
	}
	roi := img.Region(image.Rect(3, 5, 200, 100))
	defer roi.Close()
	for _, m := range []gocv.Mat{img, roi} {
		p := filepath.Join(dir, "b.PNG")
		if err := WriteFile(p, m); err != nil {
			t.Fatal(err)
		}
		back := reference(t, readFile(t, p))
		if n, _ := diff(back, m.Clone()); n != 0 {
			t.Errorf(".png %dx%d: %d bytes changed", m.Cols(), m.Rows(), n)
		}
		back.Close()
	}
	if err := WriteFile(filepath.Join(dir, "c.gif"), img); err == nil || !strings.Contains(err.Error(), `unknown image extension ".gif": use .jpg or .png`) {
		t.Errorf("gif: %v", err)
	}
	if _, err := EncodeJPEG(gocv.NewMat(), 0); err == nil {
		t.Error("empty image encoded")
	}
}

// FuzzDecode feeds mutated PNG, BMP and WebP images to the decoder: an error or an image, never
// a panic in the conversions.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"basn0g16.png", "basn3p08-trns.png", "basn6a16.png"} {
		f.Add(readFile(f, filepath.Join("testdata", name)))
	}
	small := gocv.NewMatWithSize(9, 7, gocv.MatTypeCV8UC3)
	defer small.Close()
	f.Add(encoded(f, ".webp", small, gocv.IMWriteWebpQuality, 80))
	f.Add(encoded(f, ".bmp", small))
	var d Decoder
	defer d.Close()
	dst := gocv.NewMat()
	defer dst.Close()
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, w, h, err := imageinfo.Header(data); err != nil || w*h > 1<<20 {
			return // the callers refuse these before decoding
		}
		if err := d.Decode(data, 1, &dst); err == nil && dst.Type() != gocv.MatTypeCV8UC3 {
			t.Fatalf("decoded to %v", dst.Type())
		}
	})
}

// MaxPixels refuses every format from its header before decoding: a JPEG from the size libjpeg
// reads, the others from imageinfo's.
func TestDecodeMaxPixels(t *testing.T) {
	d := Decoder{MaxPixels: 1000}
	defer d.Close()
	m := gocv.NewMat()
	defer m.Close()
	for name, data := range map[string][]byte{
		"jpeg": testfixture.SmallJPEG(40, 30),
		"png":  testfixture.PNG(300, 200, nil),
	} {
		err := d.Decode(data, 1, &m)
		if err == nil || !strings.Contains(err.Error(), "more than the limit of 0") {
			t.Errorf("%s: %v, want it over the limit", name, err)
		}
	}
	d.MaxPixels = 0
	if err := d.Decode(testfixture.SmallJPEG(40, 30), 1, &m); err != nil || m.Cols() != 40 {
		t.Errorf("default limit: %v", err)
	}
}
