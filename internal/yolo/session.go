package yolo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	ort "github.com/yalue/onnxruntime_go"
)

// RuntimeOptions tune the ONNX Runtime session for a daemon that runs one inference every few
// seconds. The zero value is edgecam's default, chosen by measurement (README, Performance):
// one intra-op thread per physical core, threads that sleep instead of spinning between
// operators, ONNX Runtime's CPU memory arena without memory-pattern planning.
// (An optimized-model cache, SetOptimizedModelFilePath, was measured and left out: creating the
// yolov5n session takes 26-70 ms here either way, and the saved model ran slower.)
type RuntimeOptions struct {
	// Threads is the intra-op thread count; 0 = PhysicalCores().
	Threads int
	// Spinning lets idle intra-op threads busy-wait for the next operator (ONNX Runtime's own
	// default): a few per cent faster per inference, but every thread burns CPU until the run ends.
	Spinning bool
	// NoArena turns off ONNX Runtime's CPU memory arena, the pool that intermediate tensors come
	// from (it grows to the peak of one run and is kept). Without it each run's tensors come from
	// malloc: measured, glibc then kept +1.8 MB per run, or, with its mmap threshold pinned
	// (internal/memtune), the tensors were mapped and page-faulted again on every run, 105 ms
	// instead of 59 ms of CPU per inference.
	NoArena bool
	// MemPattern pre-plans one block for all intermediate tensors from the first run. Measured:
	// the same CPU per inference, 18 MB more resident memory.
	MemPattern bool
}

// String describes the effective options, for logs.
func (o RuntimeOptions) String() string {
	return fmt.Sprintf("threads=%d spinning=%t arena=%t memPattern=%t",
		o.effectiveThreads(), o.Spinning, !o.NoArena, o.MemPattern)
}

func (o RuntimeOptions) effectiveThreads() int {
	if o.Threads > 0 {
		return o.Threads
	}
	return PhysicalCores()
}

// PhysicalCores counts the physical cores this process may run on: logical CPUs that are
// hyper-threads of the same core count once. Without the sysfs topology it is runtime.NumCPU().
func PhysicalCores() int {
	n := runtime.NumCPU()
	cpus, err := filepath.Glob("/sys/devices/system/cpu/cpu[0-9]*/topology/core_id")
	if err != nil || len(cpus) == 0 {
		return n
	}
	cores := map[string]bool{}
	for _, p := range cpus {
		core, err1 := os.ReadFile(p)
		pkg, err2 := os.ReadFile(filepath.Join(filepath.Dir(p), "physical_package_id"))
		if err1 != nil || err2 != nil {
			return n
		}
		cores[strings.TrimSpace(string(pkg))+"/"+strings.TrimSpace(string(core))] = true
	}
	// The affinity mask (taskset, cgroup cpusets) can allow fewer CPUs than the machine has.
	return max(1, min(n, len(cores)))
}

// newSession creates the session with rt applied.
func newSession(model []byte, inName, outName string, input, output ort.Value, rt RuntimeOptions) (*ort.AdvancedSession, error) {
	so, err := sessionOptions(rt)
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	s, err := ort.NewAdvancedSessionWithONNXData(model, []string{inName}, []string{outName},
		[]ort.Value{input}, []ort.Value{output}, so)
	if err != nil {
		return nil, fmt.Errorf("ONNX Runtime cannot load it: %w", err)
	}
	return s, nil
}

// sessionOptions builds ONNX Runtime's options from rt.
func sessionOptions(rt RuntimeOptions) (*ort.SessionOptions, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("session options: %w", err)
	}
	spin := "0"
	if rt.Spinning {
		spin = "1"
	}
	err = errors.Join(
		wrap("intra-op threads", so.SetIntraOpNumThreads(rt.effectiveThreads())),
		wrap("inter-op threads", so.SetInterOpNumThreads(1)),
		wrap("spinning", so.AddSessionConfigEntry("session.intra_op.allow_spinning", spin)),
		wrap("spinning", so.AddSessionConfigEntry("session.inter_op.allow_spinning", spin)),
		wrap("CPU arena", so.SetCpuMemArena(!rt.NoArena)),
		wrap("memory pattern", so.SetMemPattern(rt.MemPattern)),
	)
	if err != nil {
		so.Destroy()
		return nil, fmt.Errorf("session options: %w", err)
	}
	return so, nil
}

func wrap(what string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
