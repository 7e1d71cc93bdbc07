package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/config"
	"github.com/edgecam/edgecam/internal/daemon"
	"github.com/edgecam/edgecam/internal/emulator"
	"github.com/edgecam/edgecam/internal/metrics"
	"github.com/edgecam/edgecam/internal/testfixture"
	"github.com/edgecam/edgecam/internal/testfixture/dettest"
	"github.com/edgecam/edgecam/internal/testfixture/emutest"
	"github.com/edgecam/edgecam/internal/testfixture/mats"
	"github.com/edgecam/edgecam/internal/yolo"
)

const (
	// groupKey is the DPS group enrollment key of these tests (base64; tests only).
	groupKey  = "ZGFlbW9uLXRlc3RzLWdyb3VwLWVucm9sbG1lbnQta2V5LTAxMjM0NTY3ODk="
	groupName = "daemon-tests"
	modelID   = "dtmi:com:example:edgecam;1"
	// waitFor bounds every wait: a loaded 2-core CI machine may take 0.5 s per inference, but
	// nothing here should hang.
	waitFor = 90 * time.Second
)

func modelPath(t testing.TB) string          { return testfixture.ModelPath(t) }
func photo(t testing.TB, name string) string { return testfixture.Photo(t, name) }

var shared struct {
	once sync.Once
	det  *yolo.Detector
	err  error
}

// detector is one real detector (ONNX Runtime + the YOLOv5n model) for the whole test binary:
// creating a session takes a while, and the daemon shares one across cameras anyway.
func detector(t testing.TB) *yolo.Detector {
	t.Helper()
	mp := modelPath(t)
	dettest.InitRuntime(t)
	shared.once.Do(func() { shared.det, shared.err = yolo.New(yolo.Options{ModelPath: mp}) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.det
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.det != nil {
		shared.det.Close()
	}
	os.Exit(code)
}

func waitCtx(t *testing.T) context.Context { return testfixture.Context(t, waitFor) }

// startEmulator starts the IoT Hub + DPS emulator over TLS on loopback ports with the tests'
// group enrollment.
func startEmulator(t *testing.T) *emulator.Emulator {
	return emutest.StartWithGroup(t, groupName, groupKey)
}

// openMats counts the gocv Mats not yet closed (-1 without -tags matprofile).
func openMats() int           { return mats.Open() }
func openMatsProfile() string { return mats.Profile() }

// baseConfig is a configuration with a 1 s period starting at once, threshold 0.5, every label
// of interest and minimum labels that include one with a space (to see the DTDL-safe key), the
// emulator's CA and a fresh state directory; the caller sets the identity and the cameras.
func baseConfig(t *testing.T, e *emulator.Emulator) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Model.Path = modelPath(t)
	cfg.Schedule = config.Schedule{Due: 0, Period: config.Duration(time.Second)}
	cfg.Detection = config.Detection{
		ScoreThreshold:   0.5,
		LabelsOfInterest: []string{},
		LabelsMinimum:    []string{"bicycle", "car", "person", "traffic light"},
	}
	cfg.Azure = config.Azure{CAFile: e.CAFile()}
	cfg.State.Dir = t.TempDir()
	return cfg
}

// dpsConfig is baseConfig with DPS (the tests' group key) and a DTDL model ID.
func dpsConfig(t *testing.T, e *emulator.Emulator) *config.Config {
	t.Helper()
	cfg := baseConfig(t, e)
	cfg.Azure.DPS = config.DPS{GlobalEndpoint: e.DPSHost(), IDScope: e.IDScope(), GroupEnrollmentKey: groupKey}
	cfg.Azure.ModelID = modelID
	return cfg
}

func fileCamera(id, path string) config.Camera {
	return config.Camera{ID: id, Type: config.TypeFile, Path: path}
}

// running is one daemon.Run in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// startDaemon validates cfg and runs the daemon with the shared detector until stop (or the
// end of the test).
func startDaemon(t *testing.T, cfg *config.Config, log *slog.Logger, m *metrics.Metrics) *running {
	t.Helper()
	return startDaemonWith(t, daemon.Options{Config: cfg, Logger: log, Metrics: m})
}

// startDaemonWith is startDaemon with more options; o.Detector nil is the shared detector.
func startDaemonWith(t *testing.T, o daemon.Options) *running {
	t.Helper()
	if err := o.Config.Validate(); err != nil {
		t.Fatalf("test configuration: %v", err)
	}
	if o.Detector == nil {
		o.Detector = detector(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- daemon.Run(ctx, o) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the daemon and waits for Run to return; the graceful stop is bounded by 8 s,
// so a generous bound here only guards against a hang.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case r.err = <-r.done:
		case <-time.After(30 * time.Second):
			r.err = errors.New("daemon.Run did not return within 30 s of its context ending")
			t.Error(r.err)
		}
	})
	return r.err
}

// stopOK is stop, failing the test when Run returned an error.
func (r *running) stopOK(t *testing.T) {
	t.Helper()
	if err := r.stop(t); err != nil {
		t.Errorf("Run: %v", err)
	}
}

// exited reports whether Run has returned (it should not while its context lives), and its error.
func (r *running) exited() (bool, error) {
	select {
	case err := <-r.done:
		r.done <- err
		return true, err
	default:
		return false, nil
	}
}

// logRecord is one slog record with its attributes (those added by Logger.With included).
type logRecord struct {
	Time  time.Time
	Level slog.Level
	Msg   string
	Attrs map[string]any
}

func (r logRecord) String() string {
	keys := make([]string, 0, len(r.Attrs))
	for k := range r.Attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %q", r.Time.Format("15:04:05.000"), r.Level, r.Msg)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%v", k, r.Attrs[k])
	}
	return b.String()
}

// logRecorder keeps every record the daemon logs, so tests can wait for ticks and warnings.
// On failure the test prints them.
type logRecorder struct {
	mu      sync.Mutex
	recs    []logRecord
	changed chan struct{} // closed and replaced on every record
}

func newLogRecorder(t *testing.T) (*logRecorder, *slog.Logger) {
	lr := &logRecorder{changed: make(chan struct{})}
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range lr.all() {
				t.Log(r)
			}
		}
	})
	return lr, slog.New(&recordHandler{lr: lr})
}

func (lr *logRecorder) add(r logRecord) {
	lr.mu.Lock()
	lr.recs = append(lr.recs, r)
	close(lr.changed)
	lr.changed = make(chan struct{})
	lr.mu.Unlock()
}

func (lr *logRecorder) all() []logRecord {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return slices.Clone(lr.recs)
}

// find returns the records for which match holds.
func (lr *logRecorder) find(match func(logRecord) bool) []logRecord {
	var out []logRecord
	for _, r := range lr.all() {
		if match(r) {
			out = append(out, r)
		}
	}
	return out
}

// wait blocks until at least n records match, and returns them.
func (lr *logRecorder) wait(ctx context.Context, n int, match func(logRecord) bool) ([]logRecord, error) {
	for {
		lr.mu.Lock()
		ch := lr.changed
		lr.mu.Unlock()
		if got := lr.find(match); len(got) >= n {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %d log records: %w", n, ctx.Err())
		case <-ch:
		}
	}
}

// ticks matches the daemon's per-tick info line of a camera with the given send outcome.
func ticks(camera string, send bool) func(logRecord) bool {
	return func(r logRecord) bool {
		s, ok := r.Attrs["send"].(bool)
		return r.Msg == "tick" && r.Attrs["camera"] == camera && ok && s == send
	}
}

// warnings matches warnings (and errors) about a camera.
func warnings(camera string) func(logRecord) bool {
	return func(r logRecord) bool { return r.Level >= slog.LevelWarn && r.Attrs["camera"] == camera }
}

type recordHandler struct {
	lr    *logRecorder
	attrs []slog.Attr
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{Time: r.Time, Level: r.Level, Msg: r.Message, Attrs: map[string]any{}}
	for _, a := range h.attrs {
		rec.Attrs[a.Key] = snapshot(a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = snapshot(a.Value)
		return true
	})
	h.lr.add(rec)
	return nil
}

// snapshot copies a value the logger's caller may change after logging (the daemon reuses its
// tally map from tick to tick).
func snapshot(v slog.Value) any {
	switch x := v.Resolve().Any().(type) {
	case map[string]int:
		return maps.Clone(x)
	default:
		return x
	}
}

func (h *recordHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &recordHandler{lr: h.lr, attrs: append(slices.Clip(h.attrs), as...)}
}

// WithGroup is not needed by the daemon's logging; attributes keep their plain keys.
func (h *recordHandler) WithGroup(string) slog.Handler { return h }

// snapshotServer is a loopback HTTP camera serving a photo behind Basic authentication.
// fail, when set, answers a request (numbered from 1) with that status instead of the photo.
func snapshotServer(t *testing.T, photoPath, user, pass string, fail func(n int) int) *httptest.Server {
	t.Helper()
	return testfixture.SnapshotServer(t, testfixture.ReadFile(t, photoPath), user, pass, fail)
}

// loadYAML writes yaml to dir/config.yaml and loads it without the environment.
// dpsYAML is the azure section of a YAML configuration that provisions through e's DPS with the
// test group key and model ID, and the state section keeping state in dir.
func dpsYAML(e *emulator.Emulator, dir string) string {
	return fmt.Sprintf(`azure:
  dps: {globalEndpoint: %q, idScope: %q, groupEnrollmentKey: %q}
  modelId: %q
  caFile: %q
state: {dir: %q}
`, e.DPSHost(), e.IDScope(), groupKey, modelID, e.CAFile(), dir)
}

func loadYAML(t *testing.T, dir, yaml string) (*config.Config, error) {
	t.Helper()
	file := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return config.Load(config.LoadOptions{File: file, Env: []string{}})
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
