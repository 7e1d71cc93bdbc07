package yolo

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
)

// TestProfileOps prints where ONNX Runtime spends an inference of yolo11n and of its
// dynamically quantized export, per operator (ONNX Runtime's profiler, one thread, 10 runs after
// a warm-up): the figures behind docs/models.md's int8 section. It runs only when asked:
//
//	EDGECAM_PROFILE=1 go test -count=1 -v -run TestProfileOps ./internal/yolo/
func TestProfileOps(t *testing.T) {
	if os.Getenv("EDGECAM_PROFILE") == "" {
		t.Skip("set EDGECAM_PROFILE=1 to profile the models")
	}
	initRuntime(t)
	const runs = 10
	for _, name := range []string{"yolo11n", "yolo11n-int8"} {
		byOp, nodes := profile(t, filepath.Join(sharedDir(t), "models", name+".onnx"), runs)
		var total int64
		ops := make([]string, 0, len(byOp))
		for op, d := range byOp {
			total += d
			ops = append(ops, op)
		}
		sort.Slice(ops, func(i, j int) bool { return byOp[ops[i]] > byOp[ops[j]] })
		t.Logf("%s: operators' time per run %.1f ms", name, float64(total)/runs/1000)
		for _, op := range ops {
			t.Logf("  %-22s %6.1f ms %5.1f%%  %3d nodes", op, float64(byOp[op])/runs/1000, 100*float64(byOp[op])/float64(total), nodes[op]/runs)
		}
	}
}

// profile runs the model runs times after one warm-up with ONNX Runtime's profiler on and
// returns the microseconds spent per operator type and the nodes run per type.
func profile(t *testing.T, model string, runs int) (us, nodes map[string]int64) {
	in, err := ort.NewEmptyTensor[float32](ort.NewShape(1, 3, 640, 640))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	fillPad(in.GetData())
	out, err := ort.NewEmptyTensor[float32](ort.NewShape(1, 84, 8400))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Destroy()
	so, err := sessionOptions(RuntimeOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer so.Destroy()
	prefix := filepath.Join(t.TempDir(), "profile")
	if err := so.EnableProfiling(prefix); err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewAdvancedSession(model, []string{"images"}, []string{"output0"}, []ort.Value{in}, []ort.Value{out}, so)
	if err != nil {
		t.Fatal(err)
	}
	for range runs + 1 {
		if err := s.Run(); err != nil {
			t.Fatal(err)
		}
	}
	s.Destroy() // writes the profile
	files, _ := filepath.Glob(prefix + "*.json")
	if len(files) != 1 {
		t.Fatalf("profile files: %v", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var events []struct {
		Cat  string `json:"cat"`
		Name string `json:"name"`
		Dur  int64  `json:"dur"`
		Args struct {
			OpName string `json:"op_name"`
		} `json:"args"`
	}
	if err := json.Unmarshal(data, &events); err != nil {
		t.Fatalf("%s: %v", files[0], err)
	}
	us, nodes = map[string]int64{}, map[string]int64{}
	first := map[string]bool{} // node names seen: the warm-up run is each node's first event
	for _, e := range events {
		if e.Cat != "Node" || e.Args.OpName == "" || !strings.HasSuffix(e.Name, "_kernel_time") {
			continue
		}
		if !first[e.Name] {
			first[e.Name] = true
			continue
		}
		us[e.Args.OpName] += e.Dur
		nodes[e.Args.OpName]++
	}
	return us, nodes
}
