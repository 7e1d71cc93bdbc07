package jpeg

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/edgecam/edgecam/internal/imageinfo"
	"github.com/edgecam/edgecam/internal/testfixture"
)

var photos = []string{"bus.jpg", "dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg", "kite.jpg", "person.jpg", "zidane.jpg"}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// reference decodes data with OpenCV's imdecode, the decoder package jpeg replaces.
func reference(t testing.TB, data []byte, scale int) gocv.Mat {
	t.Helper()
	flag := map[int]gocv.IMReadFlag{1: gocv.IMReadColor, 2: gocv.IMReadReducedColor2,
		4: gocv.IMReadReducedColor4, 8: gocv.IMReadReducedColor8}[scale]
	m, err := gocv.IMDecode(data, flag)
	if err != nil || m.Empty() {
		t.Fatalf("gocv.IMDecode: %v (empty %v)", err, m.Empty())
	}
	return m
}

// sameMat fails unless a and b have the same size, type and bytes.
func sameMat(t testing.TB, what string, got, want gocv.Mat) {
	t.Helper()
	if got.Rows() != want.Rows() || got.Cols() != want.Cols() || got.Type() != want.Type() {
		t.Errorf("%s: %dx%d %v, OpenCV %dx%d %v", what, got.Cols(), got.Rows(), got.Type(), want.Cols(), want.Rows(), want.Type())
		return
	}
	g, w := got.ToBytes(), want.ToBytes()
	if !bytes.Equal(g, w) {
		n, maxDiff := 0, 0
		for i := range g {
			if d := int(g[i]) - int(w[i]); d != 0 {
				n++
				maxDiff = max(maxDiff, d, -d)
			}
		}
		t.Errorf("%s: %d of %d bytes differ from OpenCV's, by up to %d", what, n, len(g), maxDiff)
	}
}

// Every test photo, at every scale, decodes to OpenCV's pixels byte for byte, into a reused Mat.
func TestDecodeMatchesOpenCV(t *testing.T) {
	var d Decoder
	defer d.Close()
	dst := gocv.NewMat()
	defer dst.Close()
	for _, name := range photos {
		data := readFile(t, testfixture.Photo(t, name))
		for _, scale := range []int{1, 2, 4, 8} {
			if err := d.Decode(data, scale, &dst); err != nil {
				t.Fatalf("%s 1/%d: %v", name, scale, err)
			}
			want := reference(t, data, scale)
			sameMat(t, fmt.Sprintf("%s 1/%d", name, scale), dst, want)
			want.Close()
		}
	}
}

// The JPEG variants of Go's test data (subsamplings, progressive, restart markers, RGB, CMYK,
// gray) decode to OpenCV's pixels, three channels each.
func TestDecodeVariantsMatchOpenCV(t *testing.T) {
	files, err := filepath.Glob("testdata/*.jpeg")
	if err != nil || len(files) < 10 {
		t.Fatalf("testdata: %v %v", files, err)
	}
	var d Decoder
	defer d.Close()
	for _, f := range files {
		data := readFile(t, f)
		for _, scale := range []int{1, 2, 8} {
			var m gocv.Mat
			if err := d.Decode(data, scale, &m); err != nil {
				t.Errorf("%s 1/%d: %v", f, scale, err)
				continue
			}
			want := reference(t, data, scale)
			sameMat(t, fmt.Sprintf("%s 1/%d", f, scale), m, want)
			m.Close()
			want.Close()
		}
	}
}

// entry is one 12-byte IFD entry; value is the 4-byte value field, written in the TIFF's order
// as a SHORT left-justified (short) or a LONG.
type entry struct {
	tag, typ uint16
	count    uint32
	value    uint32
	short    bool
}

// tiff is a TIFF header with byte order order ("II", "MM" or anything else), tag mark mark, IFD0 at
// offset 8 holding entries (count n, or len(entries) when n < 0), and extra bytes after it.
func tiff(order string, mark uint16, n int, entries []entry, extra []byte) []byte {
	le := order == "II"
	b := []byte(order)
	u16 := func(v uint16) {
		if le {
			b = append(b, byte(v), byte(v>>8))
		} else {
			b = append(b, byte(v>>8), byte(v))
		}
	}
	u32 := func(v uint32) {
		if le {
			u16(uint16(v))
			u16(uint16(v >> 16))
		} else {
			u16(uint16(v >> 16))
			u16(uint16(v))
		}
	}
	u16(mark)
	u32(8)
	if n < 0 {
		n = len(entries)
	}
	u16(uint16(n))
	for _, e := range entries {
		u16(e.tag)
		u16(e.typ)
		u32(e.count)
		if e.short {
			u16(uint16(e.value))
			u16(0)
		} else {
			u32(e.value)
		}
	}
	u32(0) // no next IFD
	return append(b, extra...)
}

var withAPP1 = testfixture.JPEGWithAPP1

// withoutDHT drops the Huffman table segments before the first scan, as Motion-JPEG cameras
// send frames (the decoder must use the standard tables, as OpenCV loads them).
func withoutDHT(data []byte) []byte {
	out := append([]byte(nil), data[:2]...)
	i := 2
	for i+4 <= len(data) && data[i] == 0xFF && data[i+1] != 0xDA {
		n := int(data[i+2])<<8 | int(data[i+3])
		if data[i+1] != 0xC4 {
			out = append(out, data[i:i+2+n]...)
		}
		i += 2 + n
	}
	return append(out, data[i:]...)
}

// A Motion-JPEG frame without Huffman tables decodes to OpenCV's pixels.
func TestDecodeWithoutHuffmanTablesMatchesOpenCV(t *testing.T) {
	img := reference(t, readFile(t, testfixture.Photo(t, "horses.jpg")), 2)
	defer img.Close()
	enc, err := Encode(img, 80) // libjpeg's standard tables: what an MJPEG frame leaves out
	if err != nil {
		t.Fatal(err)
	}
	data := withoutDHT(enc)
	if bytes.Contains(data[:200], []byte{0xFF, 0xC4}) || len(data) >= len(enc) {
		t.Fatalf("DHT not removed: %d -> %d bytes", len(enc), len(data))
	}
	var d Decoder
	defer d.Close()
	var m gocv.Mat
	defer m.Close()
	if err := d.Decode(data, 1, &m); err != nil {
		t.Fatal(err)
	}
	want := reference(t, data, 1)
	defer want.Close()
	sameMat(t, "without DHT", m, want)
}

// withOrientation returns the JPEG data with an Exif APP1 segment holding orientation o.
func withOrientation(data []byte, o uint16, littleEndian bool) []byte {
	return withAPP1(data, testfixture.ExifOrientation(o, littleEndian))
}

// A JPEG with each EXIF orientation decodes turned exactly as OpenCV turns it, at every scale;
// a non-square one swaps its width and height for orientations 5-8.
func TestDecodeOrientationMatchesOpenCV(t *testing.T) {
	plain := readFile(t, testfixture.Photo(t, "bus.jpg")) // 810x1080
	var d Decoder
	defer d.Close()
	dst := gocv.NewMat()
	defer dst.Close()
	for o := uint16(0); o <= 9; o++ {
		for _, le := range []bool{false, true} {
			data := withOrientation(plain, o, le)
			for _, scale := range []int{1, 4} {
				if err := d.Decode(data, scale, &dst); err != nil {
					t.Fatalf("orientation %d: %v", o, err)
				}
				want := reference(t, data, scale)
				sameMat(t, fmt.Sprintf("orientation %d (little-endian %v) 1/%d", o, le, scale), dst, want)
				want.Close()
				if o >= 5 && o <= 8 && (dst.Cols() != (1080+scale-1)/scale || dst.Rows() != (810+scale-1)/scale) {
					t.Errorf("orientation %d 1/%d: %dx%d, want width and height swapped", o, scale, dst.Cols(), dst.Rows())
				}
			}
		}
	}
}

// Malformed and unusual EXIF data turns the image exactly as OpenCV's ExifReader does: it stops
// at the first entry it cannot read, keeps the first orientation, reads only the first APP1,
// ignores its signature and reads a LONG's first two bytes.
func TestDecodeOddExifMatchesOpenCV(t *testing.T) {
	plain := readFile(t, "testdata/video-001.jpeg") // 150x103
	orient := func(o uint32) entry { return entry{0x0112, 3, 1, o, true} }
	badMake := entry{0x010F, 2, 100, 0xFFFF, false} // string past the end
	badRes := entry{0x011A, 5, 1, 0xFFF0, false}    // rational past the end
	okMake := entry{0x010F, 2, 4, 0x41424300, false}
	exif := func(b []byte) []byte { return append([]byte("Exif\x00\x00"), b...) }
	xmp := []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>")
	cases := map[string]struct {
		data []byte
		o    int // what OpenCV reads, as imageinfo.Orientation reports it
	}{
		"bad string before":       {withAPP1(plain, exif(tiff("MM", 0x2A, -1, []entry{badMake, orient(6)}, nil))), 1},
		"bad string after":        {withAPP1(plain, exif(tiff("II", 0x2A, -1, []entry{orient(6), badMake}, nil))), 6},
		"bad rational before":     {withAPP1(plain, exif(tiff("II", 0x2A, -1, []entry{badRes, orient(8)}, nil))), 1},
		"good string before":      {withAPP1(plain, exif(tiff("II", 0x2A, -1, []entry{okMake, orient(8)}, nil))), 8},
		"two orientations":        {withAPP1(plain, exif(tiff("MM", 0x2A, -1, []entry{orient(6), orient(3)}, nil))), 6},
		"xmp first":               {withAPP1(plain, xmp, exif(tiff("MM", 0x2A, -1, []entry{orient(6)}, nil))), 1},
		"other signature":         {withAPP1(plain, append([]byte("Abcd\x00\x00"), tiff("MM", 0x2A, -1, []entry{orient(3)}, nil)...)), 3},
		"long big-endian":         {withAPP1(plain, exif(tiff("MM", 0x2A, -1, []entry{{0x0112, 4, 1, 6, false}}, nil))), 0},
		"long little-endian":      {withAPP1(plain, exif(tiff("II", 0x2A, -1, []entry{{0x0112, 4, 1, 6, false}}, nil))), 6},
		"more entries than there": {withAPP1(plain, exif(tiff("II", 0x2A, 40, []entry{orient(7)}, nil))), 7},
		"wrong tag mark":          {withAPP1(plain, exif(tiff("MM", 0x2B, -1, []entry{orient(6)}, nil))), 1},
		"no byte order":           {withAPP1(plain, exif(tiff("XY", 0x2A, -1, []entry{orient(6)}, nil))), 6},
		"orientation 0":           {withAPP1(plain, exif(tiff("II", 0x2A, -1, []entry{orient(0)}, nil))), 0},
		"orientation 65535":       {withAPP1(plain, exif(tiff("II", 0x2A, -1, []entry{orient(65535)}, nil))), 65535},
		"short app1":              {withAPP1(plain, []byte("Exif\x00")), 1},
		"cut in the entry":        {withAPP1(plain, exif(tiff("II", 0x2A, -1, []entry{orient(6)}, nil)[:18])), 1},
	}
	var d Decoder
	defer d.Close()
	for name, tc := range cases {
		data := tc.data
		if o := imageinfo.Orientation(data); o != tc.o {
			t.Errorf("%s: orientation %d, want %d", name, o, tc.o)
		}
		var m gocv.Mat
		if err := d.Decode(data, 1, &m); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		want := reference(t, data, 1)
		sameMat(t, name, m, want)
		m.Close()
		want.Close()
	}
}

// Broken data gives an error naming the problem (libjpeg's message), never a crash or a
// half-gray picture.
func TestDecodeErrors(t *testing.T) {
	bus := readFile(t, testfixture.Photo(t, "bus.jpg"))
	var d Decoder
	defer d.Close()
	for name, tc := range map[string]struct {
		data  []byte
		scale int
		want  string
	}{
		"empty":              {nil, 1, "decode JPEG: empty data"},
		"garbage":            {[]byte("GET / HTTP/1.1\r\n\r\n"), 1, "Not a JPEG file: starts with 0x47 0x45"},
		"only SOI":           {bus[:2], 1, "decode JPEG: "},
		"header only":        {bus[:600], 1, "truncated JPEG: Premature end of JPEG file"},
		"half":               {bus[:len(bus)/2], 1, "truncated JPEG: Premature end of JPEG file"},
		"half reduced":       {bus[:len(bus)/2], 8, "truncated JPEG"},
		"bad scale":          {bus, 3, "scale 1/3: want 1, 2, 4 or 8"},
		"no frame":           {[]byte{0xFF, 0xD8, 0xFF, 0xD9}, 1, "decode JPEG: "},
		"zero size in frame": {[]byte{0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, 0, 0, 0, 0, 1, 1, 0x11, 0, 0xFF, 0xD9}, 1, "decode JPEG: "},
	} {
		m := gocv.NewMat()
		err := d.Decode(tc.data, tc.scale, &m)
		m.Close()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
		if strings.Contains(tc.want, "truncated") && !errors.Is(err, ErrTruncated) {
			t.Errorf("%s: %v is not ErrTruncated", name, err)
		}
	}
}

// Encoding gives imencode(".jpg")'s bytes for BGR, gray and BGRA images, and a quality is used.
func TestEncodeMatchesOpenCV(t *testing.T) {
	img := reference(t, readFile(t, testfixture.Photo(t, "zidane.jpg")), 2)
	defer img.Close()
	gray, bgra := gocv.NewMat(), gocv.NewMat()
	defer gray.Close()
	defer bgra.Close()
	gocv.CvtColor(img, &gray, gocv.ColorBGRToGray)
	gocv.CvtColor(img, &bgra, gocv.ColorBGRToBGRA)
	roi := img.Region(image.Rect(10, 20, 300, 200)) // not continuous
	defer roi.Close()
	var e Encoder
	defer e.Close()
	for name, m := range map[string]gocv.Mat{"bgr": img, "gray": gray, "bgra": bgra, "region": roi} {
		got, err := e.Append(nil, m, 0)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, err := gocv.IMEncode(gocv.JPEGFileExt, m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.GetBytes()) {
			t.Errorf("%s: %d bytes, OpenCV %d, not the same", name, len(got), want.Len())
		}
		want.Close()
	}
	q50, err := Encode(img, 50)
	if err != nil {
		t.Fatal(err)
	}
	want, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, img, []int{gocv.IMWriteJpegQuality, 50})
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	if !bytes.Equal(q50, want.GetBytes()) {
		t.Errorf("quality 50: %d bytes, OpenCV %d", len(q50), want.Len())
	}
	// Append appends.
	out, err := e.Append([]byte("prefix"), img, 0)
	if err != nil || !bytes.HasPrefix(out, []byte("prefix\xFF\xD8")) {
		t.Errorf("Append: %v %q", err, out[:min(len(out), 10)])
	}
	for name, tc := range map[string]struct {
		m gocv.Mat
		q int
	}{"empty": {gocv.NewMat(), 0}, "quality": {img, 101}} {
		if _, err := e.Append(nil, tc.m, tc.q); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	f32 := gocv.NewMatWithSize(4, 4, gocv.MatTypeCV32F)
	defer f32.Close()
	if _, err := e.Append(nil, f32, 0); err == nil || !strings.Contains(err.Error(), "want 8-bit") {
		t.Errorf("float image: %v", err)
	}
}

// FuzzDecode feeds the decoder mutated JPEGs: any outcome but a crash is fine, and a decoded
// image has the size libjpeg announced. The decoder's own pixel limit refuses the bombs a
// fuzzed header claims (65535x65535); the hostile seeds reach the hidden-frame, many-scans and
// cut-short paths.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"video-001.jpeg", "video-001.progressive.jpeg", "video-001.cmyk.jpeg", "video-005.gray.jpeg", "video-001.restart2.jpeg"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, uint8(0))
		f.Add(withOrientation(data, 6, true), uint8(1))
	}
	f.Add(testfixture.HiddenFrameJPEG(8000, 8000), uint8(0))
	f.Add(testfixture.ManyScansJPEG(64, 48, MaxScans+10), uint8(0))
	f.Add(testfixture.ManyScansJPEG(64, 48, 12), uint8(1))
	f.Add(testfixture.CutJPEG(64, 48), uint8(0))
	d := Decoder{MaxPixels: 4 << 20}
	defer d.Close()
	dst := gocv.NewMat()
	defer dst.Close()
	f.Fuzz(func(t *testing.T, data []byte, s uint8) {
		scale := 1 << (s % 4)
		if len(data) > 1<<16 {
			return
		}
		if err := d.Decode(data[:min(len(data), 0)], scale, &dst); err == nil {
			t.Fatal("empty data decoded")
		}
		if err := d.Decode(data, scale, &dst); err == nil && (dst.Empty() || dst.Type() != gocv.MatTypeCV8UC3 || dst.Cols()*dst.Rows() > 4<<20) {
			t.Fatalf("decoded to %v %dx%d", dst.Type(), dst.Cols(), dst.Rows())
		}
	})
}
