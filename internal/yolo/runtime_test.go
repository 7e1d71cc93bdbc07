package yolo

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFindRuntimeLibrary(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "lib", "onnxruntime", "libonnxruntime.so.1")
	if err := os.MkdirAll(filepath.Dir(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fake, []byte("not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nope.so")

	t.Setenv(EnvRuntimeLibrary, "")
	if got, err := FindRuntimeLibrary(fake); err != nil || got != fake {
		t.Errorf("explicit: %q, %v", got, err)
	}
	_, err := FindRuntimeLibrary(missing)
	if err == nil || err.Error() != "ONNX Runtime library "+missing+" (from --ort-lib): no such file" {
		t.Errorf("explicit missing: %v", err)
	}
	_, err = FindRuntimeLibrary(dir)
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("explicit directory: %v", err)
	}

	t.Setenv(EnvRuntimeLibrary, missing)
	_, err = FindRuntimeLibrary("")
	if err == nil || err.Error() != "ONNX Runtime library "+missing+" (from $EDGECAM_ORT_LIB): no such file" {
		t.Errorf("env missing: %v", err)
	}
	if got, err := FindRuntimeLibrary(fake); err != nil || got != fake {
		t.Errorf("the flag beats the environment: %q, %v", got, err)
	}
	t.Setenv(EnvRuntimeLibrary, fake)
	if got, err := FindRuntimeLibrary(""); err != nil || got != fake {
		t.Errorf("env: %q, %v", got, err)
	}

	// Without flag or environment: lib/onnxruntime under the working directory.
	t.Setenv(EnvRuntimeLibrary, "")
	t.Chdir(dir)
	if got, err := FindRuntimeLibrary(""); err != nil || got != fake {
		t.Errorf("working directory: %q, %v", got, err)
	}
	// ... and in the nearest folder up with go.mod.
	sub := filepath.Join(dir, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	if got, err := FindRuntimeLibrary(""); err != nil || got != fake {
		t.Errorf("go.mod folder: %q, %v", got, err)
	}
}

func TestRuntimeSearchDirs(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	dirs := runtimeSearchDirs("")
	want := []string{filepath.Dir(exe), filepath.Join(filepath.Dir(exe), "..", "lib", "onnxruntime"), "/usr/local/lib", "/usr/lib"}
	if tr := multiarchTriplet(); tr != "" {
		want = append(want, "/usr/lib/"+tr)
	}
	for _, w := range want {
		if !slices.Contains(dirs, filepath.Clean(w)) {
			t.Errorf("search dirs %q lack %q", dirs, w)
		}
	}
}

// An installed binary (InstalledLibDir set by the package build) finds the library in its private
// folder and never in the working directory or a checkout, even one that holds a library.
func TestFindRuntimeLibraryInstalled(t *testing.T) {
	checkout := t.TempDir()
	planted := filepath.Join(checkout, "lib", "onnxruntime", "libonnxruntime.so.1")
	if err := os.MkdirAll(filepath.Dir(planted), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(planted, []byte("planted"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(checkout, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	private := filepath.Join(t.TempDir(), "usr", "lib", "edgecam")
	if err := os.MkdirAll(private, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvRuntimeLibrary, "")
	t.Chdir(checkout)
	old := InstalledLibDir
	t.Cleanup(func() { InstalledLibDir = old })
	InstalledLibDir = private

	for _, d := range runtimeSearchDirs(private) {
		if strings.HasPrefix(d, checkout) {
			t.Errorf("installed search looks in the checkout: %s", d)
		}
	}
	got, err := FindRuntimeLibrary("")
	if err == nil && strings.HasPrefix(got, checkout) {
		t.Fatalf("installed binary loaded the library from the working directory: %s", got)
	}
	if err != nil && (!strings.Contains(err.Error(), private) || !strings.Contains(err.Error(), "reinstall the edgecam package")) {
		t.Errorf("error should name the private folder and the fix: %v", err)
	}
	lib := filepath.Join(private, "libonnxruntime.so.1")
	if err := os.WriteFile(lib, []byte("packaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := FindRuntimeLibrary(""); err != nil || got != lib {
		t.Errorf("installed: %q, %v; want %s", got, err, lib)
	}
	// The flag and the environment still win: they are the user's explicit choice.
	t.Setenv(EnvRuntimeLibrary, planted)
	if got, err := FindRuntimeLibrary(""); err != nil || got != planted {
		t.Errorf("env: %q, %v", got, err)
	}
}

func TestInitRuntimeErrors(t *testing.T) {
	initRuntime(t)
	// Once loaded, later calls succeed whatever they are given: the library stays loaded.
	if err := InitRuntime(filepath.Join(t.TempDir(), "missing.so")); err != nil {
		t.Errorf("second InitRuntime: %v", err)
	}
}
