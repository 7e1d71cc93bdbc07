package box

import (
	"math"
	"testing"
)

func TestIoU(t *testing.T) {
	for _, c := range []struct {
		a, b       [4]float64
		inter, iou float64
	}{
		{[4]float64{0, 0, 10, 10}, [4]float64{0, 0, 10, 10}, 100, 1},
		{[4]float64{0, 0, 10, 10}, [4]float64{5, 0, 15, 10}, 50, 50.0 / 150},
		{[4]float64{0, 0, 10, 10}, [4]float64{2, 2, 4, 4}, 4, 0.04},  // one inside the other
		{[4]float64{0, 0, 10, 10}, [4]float64{10, 0, 20, 10}, 0, 0},  // touching edges
		{[4]float64{0, 0, 10, 10}, [4]float64{20, 20, 30, 30}, 0, 0}, // apart
		{[4]float64{0, 0, 0, 10}, [4]float64{0, 0, 0, 10}, 0, 0},     // no area
		{[4]float64{10, 10, 0, 0}, [4]float64{0, 0, 10, 10}, 0, 0},   // corners the wrong way round
	} {
		if got := Intersection(c.a, c.b); math.Abs(got-c.inter) > 1e-12 {
			t.Errorf("Intersection(%v, %v) = %v, want %v", c.a, c.b, got, c.inter)
		}
		if got := IoU(c.a, c.b); math.Abs(got-c.iou) > 1e-12 {
			t.Errorf("IoU(%v, %v) = %v, want %v", c.a, c.b, got, c.iou)
		}
		if got, want := IoU(c.b, c.a), IoU(c.a, c.b); got != want {
			t.Errorf("IoU is not symmetric: %v, %v", got, want)
		}
		// float32 boxes give the same figures.
		a32 := [4]float32{float32(c.a[0]), float32(c.a[1]), float32(c.a[2]), float32(c.a[3])}
		b32 := [4]float32{float32(c.b[0]), float32(c.b[1]), float32(c.b[2]), float32(c.b[3])}
		if got := IoU(a32, b32); math.Abs(float64(got)-c.iou) > 1e-6 {
			t.Errorf("IoU(float32 %v, %v) = %v, want %v", a32, b32, got, c.iou)
		}
	}
	if got := Area([4]float32{1, 2, 4, 6}); got != 12 {
		t.Errorf("Area = %v, want 12", got)
	}
}

func BenchmarkIoU32(b *testing.B) {
	x, y := [4]float32{10, 10, 50, 80}, [4]float32{20, 15, 60, 90}
	var s float32
	for b.Loop() {
		s += IoU(x, y)
	}
	_ = s
}
