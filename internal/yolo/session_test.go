package yolo

import (
	"runtime"
	"testing"
)

func TestPhysicalCores(t *testing.T) {
	if n := PhysicalCores(); n < 1 || n > runtime.NumCPU() {
		t.Fatalf("PhysicalCores() = %d with %d CPUs", n, runtime.NumCPU())
	}
	if got := (RuntimeOptions{}).effectiveThreads(); got != PhysicalCores() {
		t.Fatalf("default threads %d, want %d", got, PhysicalCores())
	}
	if got := (RuntimeOptions{Threads: 3}).effectiveThreads(); got != 3 {
		t.Fatalf("threads 3 gave %d", got)
	}
}

// The session options ONNX Runtime receives: spinning off unless asked for.
func TestSessionOptionsSpinning(t *testing.T) {
	initRuntime(t)
	for _, spin := range []bool{false, true} {
		so, err := sessionOptions(RuntimeOptions{Spinning: spin})
		if err != nil {
			t.Fatal(err)
		}
		want := map[bool]string{false: "0", true: "1"}[spin]
		for _, key := range []string{"session.intra_op.allow_spinning", "session.inter_op.allow_spinning"} {
			if v, err := so.GetSessionConfigEntry(key); err != nil || v != want {
				t.Errorf("spinning %t: %s = %q, %v; want %q", spin, key, v, err, want)
			}
		}
		so.Destroy()
	}
}

// Every combination of the options makes a working detector with the same detections.
func TestRuntimeOptionsDetectSame(t *testing.T) {
	initRuntime(t)
	data := readImage(t, "bus.jpg")
	var want []Detection
	for _, rt := range []RuntimeOptions{{}, {Threads: 1, Spinning: true, NoArena: true, MemPattern: true}} {
		d, err := New(Options{ModelPath: modelPath(t), Runtime: rt})
		if err != nil {
			t.Fatalf("%v: %v", rt, err)
		}
		var res Result
		if err := d.DetectEncoded(data, &res); err != nil {
			t.Fatal(err)
		}
		d.Close()
		if want == nil {
			want = res.Detections
			continue
		}
		if len(res.Detections) != len(want) || res.Detections[0].Label != want[0].Label ||
			abs32(res.Detections[0].Score-want[0].Score) > 1e-3 {
			t.Fatalf("%v: %v, want %v", rt, res.Detections, want)
		}
	}
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}
