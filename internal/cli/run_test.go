package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/emulator"
	"github.com/edgecam/edgecam/internal/queue"
	"github.com/edgecam/edgecam/internal/testfixture"
	"github.com/edgecam/edgecam/internal/testfixture/emutest"
)

const (
	runGroupKey = "cnVuLXRlc3RzLWdyb3VwLWVucm9sbG1lbnQta2V5LTAxMjM0NTY3ODk=" // tests only
	runModelID  = "dtmi:com:example:edgecam;1"
)

// runConfig writes a configuration for `edgecam run` with one file camera, bus-stop, and
// returns its path; extra follows the camera.
func runConfig(t *testing.T, model string, extra string) string {
	t.Helper()
	return configFile(t, "", runConfigYAML(model, fmt.Sprintf(`  - id: bus-stop
    type: file
    path: %q
%s`, testPhoto(t, "bus.jpg"), extra)))
}

// runConfigYAML is a configuration for `edgecam run` whose cameras section is cameras. The
// azure section has the ID scope and group key; the endpoint, CA and state directory come from
// the environment, as systemd credentials or the demo script would set them.
func runConfigYAML(model, cameras string) string {
	return fmt.Sprintf(`model:
  path: %q
schedule:
  due: 0s
  period: 1s
detection:
  scoreThreshold: 0.5
  labelsOfInterest: []
  labelsMinimum: [bicycle, car, person]
azure:
  dps:
    idScope: %s
    groupEnrollmentKey: %q
  modelId: %q
cameras:
%s`, model, emulator.DefaultIDScope, runGroupKey, runModelID, cameras)
}

// Configuration problems stop `edgecam run` before anything starts, with an error that names the
// key and says how to fix it.
func TestRunConfigErrors(t *testing.T) {
	state := t.TempDir()
	t.Setenv("EDGECAM_STATE__DIR", state)
	model := testModel(t)
	garbage := filepath.Join(t.TempDir(), "garbage.onnx")
	if err := os.WriteFile(garbage, []byte("not an ONNX model"), 0o644); err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(projectRoot(t), "lib", "onnxruntime", "libonnxruntime.so.1")
	for _, tc := range []struct {
		name     string
		args     []string
		want     []string
		needsORT bool
	}{{
		name: "threshold and unknown label",
		args: []string{"--config", runConfig(t, model, "    detection: {scoreThreshold: 1.5, labelsOfInterest: [persn]}\n")},
		want: []string{"cameras[0].detection.scoreThreshold", "1.5", "cameras[0].detection.labelsOfInterest", `"persn"`, `"person"`},
	}, {
		name: "missing model file",
		args: []string{"--config", runConfig(t, filepath.Join(state, "missing.onnx"), "")},
		want: []string{"model.path", "missing.onnx", "make deps-model"},
	}, {
		name: "missing model from the flag",
		args: []string{"--config", runConfig(t, model, ""), "--model", filepath.Join(state, "nope.onnx")},
		want: []string{"model.path", "nope.onnx"},
	}, {
		name:     "model file that is no model",
		args:     []string{"--config", runConfig(t, garbage, ""), "--ort-lib", lib},
		want:     []string{"garbage.onnx", "not a valid ONNX model"},
		needsORT: true,
	}, {
		name: "zero period",
		args: []string{"--config", runConfig(t, model, "    schedule: {period: 0s}\n")},
		want: []string{"cameras[0].schedule.period"},
	}, {
		name: "missing config file",
		args: []string{"--config", filepath.Join(state, "absent.yaml")},
		want: []string{"absent.yaml"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(lib); err != nil && tc.needsORT {
				t.Skipf("no ONNX Runtime library in the project (run `make deps`): %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out, errOut bytes.Buffer
			root := NewRootCmd(&out, &errOut)
			root.SetArgs(append([]string{"run"}, tc.args...))
			err := root.ExecuteContext(ctx)
			if err == nil {
				t.Fatalf("edgecam run %v succeeded; stdout %q, stderr %q", tc.args, out.String(), errOut.String())
			}
			t.Logf("error: %v", err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			if entries, _ := os.ReadDir(state); len(entries) != 0 {
				t.Errorf("state directory written to before the configuration was accepted: %v", entries)
			}
		})
	}
}

// edgecamProcess is the built binary running `edgecam run` with JSON logs on stderr.
type edgecamProcess struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and its stderr is read
	err  error         // Wait's result, set before done closes

	mu      sync.Mutex
	lines   []string // stderr, for failure messages
	sent    int      // "tick" lines with send=true
	changed chan struct{}
}

func startEdgecam(t *testing.T, exe string, env []string, args ...string) *edgecamProcess {
	t.Helper()
	cmd := exec.Command(exe, append([]string{"run", "--log-format", "json"}, args...)...)
	cmd.Env = env
	return startEdgecamCmd(t, cmd)
}

// startEdgecamCmd starts cmd, an `edgecam run --log-format json` (possibly wrapped, as in
// `ip netns exec NS edgecam run ...`), and follows its log.
func startEdgecamCmd(t *testing.T, cmd *exec.Cmd) *edgecamProcess {
	t.Helper()
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &edgecamProcess{cmd: cmd, done: make(chan struct{}), changed: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			p.line(sc.Text())
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("edgecam stderr:\n%s", p.stderr())
		}
	})
	return p
}

func (p *edgecamProcess) line(s string) {
	var rec struct {
		Msg  string `json:"msg"`
		Send *bool  `json:"send"`
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, s)
	if json.Unmarshal([]byte(s), &rec) == nil && rec.Msg == "tick" && rec.Send != nil && *rec.Send {
		p.sent++
	}
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *edgecamProcess) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

func (p *edgecamProcess) sentTicks() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent
}

// waitSent waits until n ticks were sent (queued for delivery), or the process exits.
func (p *edgecamProcess) waitSent(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(90 * time.Second)
	for {
		p.mu.Lock()
		sent, ch := p.sent, p.changed
		p.mu.Unlock()
		if sent >= n {
			return
		}
		select {
		case <-ch:
		case <-p.done:
			t.Fatalf("edgecam exited (%v) after %d of %d ticks", p.err, sent, n)
		case <-timeout:
			t.Fatalf("%d of %d ticks after 90 s", sent, n)
		}
	}
}

// terminate sends SIGTERM and expects a clean exit (status 0) within systemd's 10 s budget.
func (p *edgecamProcess) terminate(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("edgecam still running 10 s after SIGTERM")
	}
	if p.err != nil {
		t.Fatalf("edgecam after SIGTERM: %v (want exit status 0)", p.err)
	}
}

// The built binary under SIGTERM, as systemd stops it: with the hub unreachable the tallies queue
// up; SIGTERM ends edgecam with status 0 within 10 s, the queue stays on disk under
// state.dir/queue/<camera>, and the next start delivers it with the original capture times.
func TestRunBinarySIGTERMKeepsQueue(t *testing.T) {
	exe, lib := buildEdgecam(t)

	e := startRunEmulator(t)
	e.StopListeners() // the hub and DPS are unreachable from the start

	state := filepath.Join(t.TempDir(), "state")
	env := binaryEnv(e, state)
	cfg := runConfig(t, testModel(t), "")
	args := []string{"--config", cfg, "--ort-lib", lib}

	first := startEdgecam(t, exe, env, args...)
	const queued = 3
	first.waitSent(t, queued)
	stoppedAt := time.Now()
	first.terminate(t)
	sent := first.sentTicks() // a tick in flight at SIGTERM finishes and is queued too

	q, err := queue.Open(filepath.Join(state, "queue", "bus-stop"), 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	kept := q.Len()
	q.Close()
	if kept != sent {
		t.Fatalf("after SIGTERM while offline: %d tallies on disk, want the %d ticks sent", kept, sent)
	}

	if err := e.StartListeners(); err != nil {
		t.Fatal(err)
	}
	second := startEdgecam(t, exe, env, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	msgs, err := e.WaitTelemetry(ctx, kept, emulator.FromDevice("bus-stop"))
	if err != nil {
		t.Fatalf("second run delivering the %d queued tallies: %v", kept, err)
	}
	second.terminate(t)

	const body = `{"bicycle":0,"bus":1,"car":0,"person":3}`
	var last time.Time
	for i, m := range msgs[:kept] {
		ct, err := time.Parse(time.RFC3339Nano, m.Properties["iothub-creation-time-utc"])
		if err != nil {
			t.Fatalf("message %d: iothub-creation-time-utc: %v", i, err)
		}
		if string(m.Body) != body || m.ModelID != runModelID {
			t.Errorf("message %d: body %s, model ID %q; want %s, %q", i, m.Body, m.ModelID, body, runModelID)
		}
		if !ct.After(last) || ct.After(stoppedAt) {
			t.Errorf("queued tally %d has creation time %v: want increasing and before the first run's SIGTERM (%v)",
				i, ct, stoppedAt)
		}
		last = ct
	}
}

var built struct {
	once sync.Once
	dir  string
	err  error
}

// buildEdgecam builds cmd/edgecam once per test run and returns it with the project's ONNX
// Runtime library. It skips in -short mode and without the library (`make deps` fetches it).
func buildEdgecam(t *testing.T) (exe, lib string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	testfixture.SkipIfEmulated(t, "runs a built binary, which qemu-user cannot exec without binfmt_misc")
	root := projectRoot(t)
	lib = filepath.Join(root, "lib", "onnxruntime", "libonnxruntime.so.1")
	if _, err := os.Stat(lib); err != nil {
		t.Skipf("no ONNX Runtime library in the project (run `make deps`): %v", err)
	}
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "edgecam-test-bin-")
		if built.err != nil {
			return
		}
		build := exec.Command("go", "build", "-o", filepath.Join(built.dir, "edgecam"), "./cmd/edgecam")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return filepath.Join(built.dir, "edgecam"), lib
}

func TestMain(m *testing.M) {
	if os.Getenv(rssWrapperExec) != "" {
		os.Exit(rssWrapper()) // this process only runs a command and measures it (hostile_test.go)
	}
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// startRunEmulator starts the emulator with the tests' group enrollment, closed at the end of the test.
func startRunEmulator(t *testing.T) *emulator.Emulator {
	t.Helper()
	e := emutest.Start(t, emulator.Config{
		DPS: emulator.DPSConfig{Groups: []emulator.Group{{Name: "run-tests", Key: runGroupKey}}},
	})
	return e
}

// binaryEnv is the whole environment of a built edgecam run against e with state in state,
// plus extra variables.
func binaryEnv(e *emulator.Emulator, state string, extra ...string) []string {
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"EDGECAM_AZURE__CAFILE=" + e.CAFile(),
		"EDGECAM_AZURE__DPS__GLOBALENDPOINT=" + e.DPSHost(),
		"EDGECAM_STATE__DIR=" + state,
	}, extra...)
}
