package yolo

import (
	"math"
	"testing"
)

func TestLetterbox(t *testing.T) {
	for _, tc := range []struct {
		w, h                     int
		newW, newH               int
		top, bottom, left, right int
	}{
		{810, 1080, 480, 640, 0, 0, 80, 80},     // portrait (bus.jpg)
		{1280, 720, 640, 360, 140, 140, 0, 0},   // landscape (zidane.jpg)
		{773, 512, 640, 424, 108, 108, 0, 0},    // odd width
		{640, 424, 640, 424, 108, 108, 0, 0},    // no resize
		{500, 500, 640, 640, 0, 0, 0, 0},        // square, scaled up
		{100, 50, 640, 320, 160, 160, 0, 0},     // smaller than 640
		{641, 480, 640, 479, 80, 81, 0, 0},      // odd padding: 80.5 -> top 80, bottom 81
		{639, 640, 639, 640, 0, 0, 0, 1},        // odd padding on the side
		{3, 7, 274, 640, 0, 0, 183, 183},        // tiny portrait
		{5, 1280, 2, 640, 0, 0, 319, 319},       // round(2.5) = 2, Python's half to even
		{1280, 3, 640, 2, 319, 319, 0, 0},       // round(1.5) = 2
		{1, 1, 640, 640, 0, 0, 0, 0},            // one pixel
		{1920, 1080, 640, 360, 140, 140, 0, 0},  // full HD
		{4000, 3000, 640, 480, 80, 80, 0, 0},    // 12 MP camera
		{1352, 900, 640, 426, 107, 107, 0, 0},   // kite.jpg
		{2001, 999, 640, 320, 160, 160, 0, 0},   // 999*640/2001 = 319.52
		{999, 2001, 320, 640, 0, 0, 160, 160},   // transposed
		{20000, 10, 640, 1, 319, 320, 0, 0},     // degenerate strip: at least one row
		{3840, 2160, 640, 360, 140, 140, 0, 0},  // 4K
		{1024, 768, 640, 480, 80, 80, 0, 0},     // 4:3
		{768, 1024, 480, 640, 0, 0, 80, 80},     // 3:4
		{321, 321, 640, 640, 0, 0, 0, 0},        // odd square
		{1000, 333, 640, 213, 213, 214, 0, 0},   // 333*0.64 = 213.12; pad 213.5
		{333, 1000, 213, 640, 0, 0, 213, 214},   // the same, portrait
		{640, 641, 639, 640, 0, 0, 0, 1},        // r just below 1
		{6000, 4000, 640, 427, 106, 107, 0, 0},  // 4000*640/6000 = 426.67
		{4000, 6000, 427, 640, 0, 0, 106, 107},  // portrait
		{1080, 1920, 360, 640, 0, 0, 140, 140},  // phone portrait
		{1366, 768, 640, 360, 140, 140, 0, 0},   // 768*640/1366 = 359.8
		{2592, 1944, 640, 480, 80, 80, 0, 0},    // Raspberry Pi camera v1
		{3280, 2464, 640, 481, 79, 80, 0, 0},    // Pi camera v2: 2464*640/3280 = 480.78
		{4056, 3040, 640, 480, 80, 80, 0, 0},    // Pi HQ camera: 479.68 -> 480
		{162, 216, 480, 640, 0, 0, 80, 80},      // bus.jpg at 1/5
		{2, 2, 640, 640, 0, 0, 0, 0},            // tiny square
		{640, 640, 640, 640, 0, 0, 0, 0},        // exact
		{1280, 1280, 640, 640, 0, 0, 0, 0},      // exact 2x
		{1279, 721, 640, 361, 139, 140, 0, 0},   // 721*640/1279 = 360.78
		{721, 1279, 361, 640, 0, 0, 139, 140},   // portrait
		{800, 600, 640, 480, 80, 80, 0, 0},      // SVGA
		{352, 288, 640, 524, 58, 58, 0, 0},      // CIF, upscaled: 288*640/352 = 523.6
		{176, 144, 640, 524, 58, 58, 0, 0},      // QCIF
		{1600, 1200, 640, 480, 80, 80, 0, 0},    // UXGA
		{960, 720, 640, 480, 80, 80, 0, 0},      // 4:3 HD
		{1440, 1080, 640, 480, 80, 80, 0, 0},    // 4:3 full HD
		{1280, 960, 640, 480, 80, 80, 0, 0},     // SXGA-
		{1280, 1024, 640, 512, 64, 64, 0, 0},    // SXGA
		{1024, 1280, 512, 640, 0, 0, 64, 64},    // portrait SXGA
		{1000, 1, 640, 1, 319, 320, 0, 0},       // 0.64 -> round to 1
		{1, 1000, 1, 640, 0, 0, 319, 320},       // portrait
		{4096, 2160, 640, 338, 151, 151, 0, 0},  // DCI 4K: 337.5 -> 338 (half to even)
		{2160, 4096, 338, 640, 0, 0, 151, 151},  // portrait
		{7680, 4320, 640, 360, 140, 140, 0, 0},  // 8K
		{10000, 10000, 640, 640, 0, 0, 0, 0},    // 100 MP
		{773, 511, 640, 423, 108, 109, 0, 0},    // 511*640/773 = 423.08
		{511, 773, 423, 640, 0, 0, 108, 109},    // portrait
		{768, 576, 640, 480, 80, 80, 0, 0},      // dog.jpg
		{1001, 1000, 640, 639, 0, 1, 0, 0},      // 639.36
		{1000, 1001, 639, 640, 0, 0, 0, 1},      // portrait
		{100, 100, 640, 640, 0, 0, 0, 0},        // small square
		{99, 100, 634, 640, 0, 0, 3, 3},         // 633.6 -> 634
		{100, 99, 640, 634, 3, 3, 0, 0},         // landscape
		{97, 100, 621, 640, 0, 0, 9, 10},        // 620.8 -> 621, pad 9.5
		{100, 97, 640, 621, 9, 10, 0, 0},        // landscape
		{160, 120, 640, 480, 80, 80, 0, 0},      // QQVGA upscaled 4x
		{320, 240, 640, 480, 80, 80, 0, 0},      // QVGA
		{640, 480, 640, 480, 80, 80, 0, 0},      // VGA, no resize
		{480, 640, 480, 640, 0, 0, 80, 80},      // portrait VGA
		{1920, 1200, 640, 400, 120, 120, 0, 0},  // WUXGA
		{2560, 1440, 640, 360, 140, 140, 0, 0},  // QHD
		{3000, 4000, 480, 640, 0, 0, 80, 80},    // portrait 12 MP
		{500, 375, 640, 480, 80, 80, 0, 0},      // COCO-like
		{375, 500, 480, 640, 0, 0, 80, 80},      // COCO-like portrait
		{612, 612, 640, 640, 0, 0, 0, 0},        // COCO square
		{427, 640, 427, 640, 0, 0, 106, 107},    // COCO portrait, no resize
		{640, 427, 640, 427, 106, 107, 0, 0},    // COCO landscape, no resize
		{640, 426, 640, 426, 107, 107, 0, 0},    // even padding
		{640, 425, 640, 425, 107, 108, 0, 0},    // odd padding
		{425, 640, 425, 640, 0, 0, 107, 108},    // odd padding, portrait
		{1296, 972, 640, 480, 80, 80, 0, 0},     // Pi camera v1 binned
		{1640, 1232, 640, 481, 79, 80, 0, 0},    // Pi camera v2 binned: 480.78
		{2028, 1520, 640, 480, 80, 80, 0, 0},    // Pi HQ binned: 479.68
		{2028, 1080, 640, 341, 149, 150, 0, 0},  // Pi HQ 2028x1080: 340.83
		{1332, 990, 640, 476, 82, 82, 0, 0},     // Pi HQ 1332x990: 475.68
		{4608, 2592, 640, 360, 140, 140, 0, 0},  // Pi camera 3
		{2304, 1296, 640, 360, 140, 140, 0, 0},  // Pi camera 3 binned
		{1536, 864, 640, 360, 140, 140, 0, 0},   // Pi camera 3 HDR
		{720, 480, 640, 427, 106, 107, 0, 0},    // NTSC: 426.67
		{720, 576, 640, 512, 64, 64, 0, 0},      // PAL
		{704, 576, 640, 524, 58, 58, 0, 0},      // 4CIF: 523.6
		{1280, 800, 640, 400, 120, 120, 0, 0},   // WXGA
		{800, 1280, 400, 640, 0, 0, 120, 120},   // portrait WXGA
		{1680, 1050, 640, 400, 120, 120, 0, 0},  // WSXGA+
		{2048, 1536, 640, 480, 80, 80, 0, 0},    // QXGA
		{2592, 1458, 640, 360, 140, 140, 0, 0},  // 16:9 5 MP: 359.99 -> 360
		{3264, 2448, 640, 480, 80, 80, 0, 0},    // 8 MP phone
		{5472, 3648, 640, 427, 106, 107, 0, 0},  // 20 MP: 426.67
		{6016, 4016, 640, 427, 106, 107, 0, 0},  // 24 MP: 427.23 -> 427
		{12000, 8000, 640, 427, 106, 107, 0, 0}, // 96 MP
	} {
		lb := newLetterbox(tc.w, tc.h, 640, 640)
		got := [6]int{lb.NewW, lb.NewH, lb.Top, lb.Bottom, lb.Left, lb.Right}
		want := [6]int{tc.newW, tc.newH, tc.top, tc.bottom, tc.left, tc.right}
		if got != want {
			t.Errorf("%dx%d: new %dx%d pad t%d b%d l%d r%d, want new %dx%d pad t%d b%d l%d r%d",
				tc.w, tc.h, got[0], got[1], got[2], got[3], got[4], got[5],
				want[0], want[1], want[2], want[3], want[4], want[5])
		}
	}
}

// The window and its padding always fill the network input exactly.
func TestLetterboxFills(t *testing.T) {
	for w := 1; w < 2000; w += 7 {
		for h := 1; h < 2000; h += 11 {
			lb := newLetterbox(w, h, 640, 480)
			if lb.Left+lb.NewW+lb.Right != 640 || lb.Top+lb.NewH+lb.Bottom != 480 || lb.Left < 0 || lb.Top < 0 {
				t.Fatalf("%dx%d into 640x480: %+v", w, h, lb)
			}
		}
	}
}

func TestUnmap(t *testing.T) {
	lb := newLetterbox(810, 1080, 640, 640) // r = 0.5926, pad x 80
	got := lb.unmap([4]float32{80, 0, 560, 640}, 1, 1, 810, 1080)
	want := [4]float32{0, 0, 810, 1080}
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > 1e-3 {
			t.Errorf("unmap = %v, want %v", got, want)
		}
	}
	// Clipped to the image, and scaled by a reduced decode's factor.
	got = lb.unmap([4]float32{-10, -5, 700, 650}, 2, 2, 1620, 2160)
	if got != [4]float32{0, 0, 1620, 2160} {
		t.Errorf("clipped unmap = %v", got)
	}
	got = lb.unmap([4]float32{140, 320, 200, 330}, 2, 2, 1620, 2160)
	want = [4]float32{202.5, 1080, 405, 1113.75}
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > 1e-2 {
			t.Errorf("scaled unmap = %v, want %v", got, want)
		}
	}
}

func TestFillImage(t *testing.T) {
	// A 2x1 BGR image with a 4-byte row stride padding, into a 4x3 input at (1, 1).
	src := []byte{10, 20, 30, 40, 50, 60, 0, 0}
	dst := make([]float32, 3*4*3)
	fillPad(dst)
	fillImage(dst, 4, 3, src, 8, 2, 1, 1, 1)
	at := func(c, y, x int) float32 { return dst[c*12+y*4+x] }
	check := func(c, y, x int, want byte) {
		t.Helper()
		if got := at(c, y, x); got != float32(want)/255 {
			t.Errorf("plane %d (%d,%d) = %v, want %v/255", c, x, y, got, want)
		}
	}
	check(0, 1, 1, 30) // R of the first pixel
	check(1, 1, 1, 20)
	check(2, 1, 1, 10)
	check(0, 1, 2, 60)
	check(2, 1, 2, 40)
	check(0, 0, 0, 114) // padding
	check(1, 2, 3, 114)
	check(2, 1, 3, 114)
}

func TestReducedScale(t *testing.T) {
	for _, tc := range []struct{ w, h, want int }{
		{810, 1080, 1}, {1280, 720, 1}, {1352, 900, 1}, {640, 480, 1},
		{1920, 1080, 2}, {1620, 2160, 2}, {2592, 1944, 2}, {3840, 2160, 4}, {4000, 3000, 4}, {8000, 6000, 8},
	} {
		if got := reducedScale(tc.w, tc.h, 640, 640); got != tc.want {
			t.Errorf("reducedScale(%d, %d) = %d, want %d", tc.w, tc.h, got, tc.want)
		}
	}
}
