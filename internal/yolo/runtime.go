package yolo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// EnvRuntimeLibrary names the environment variable that points at the ONNX Runtime shared library.
const EnvRuntimeLibrary = "EDGECAM_ORT_LIB"

// runtimeLibNames are the file names of the ONNX Runtime shared library, preferred first.
var runtimeLibNames = []string{"libonnxruntime.so.1", "libonnxruntime.so"}

// projectLibDir is where `make deps` puts the library, relative to the project root.
const projectLibDir = "lib/onnxruntime"

// InstalledLibDir is the private folder of the ONNX Runtime library of an installed (packaged)
// edgecam, set at link time by the package build:
//
//	-ldflags "-X github.com/edgecam/edgecam/internal/yolo.InstalledLibDir=/usr/lib/edgecam"
//
// When it is set the binary is an installed one: after --ort-lib and $EDGECAM_ORT_LIB it looks
// only in this folder and the system library folders, never in the working directory or a
// source checkout (a library planted there must not be loaded by a service). When it is empty
// (a binary built in a checkout by `make build`, `go run`, `go test`) the development search
// applies: the executable's folder and the project's lib/onnxruntime.
var InstalledLibDir = ""

// FindRuntimeLibrary returns the path of the ONNX Runtime shared library. It looks, in order, at
// explicit (the --ort-lib flag), $EDGECAM_ORT_LIB, then for an installed binary (InstalledLibDir
// set) InstalledLibDir, else the executable's folder and the project's lib/onnxruntime folder
// (beside the executable's bin/ folder, under the working directory, and in the nearest folder up
// from it that holds go.mod), and last the system library folders. An
// explicit path or $EDGECAM_ORT_LIB that does not exist is an error rather than a reason to look
// elsewhere. The error lists every place searched and says how to fix it.
func FindRuntimeLibrary(explicit string) (string, error) {
	if explicit != "" {
		if err := checkLibFile(explicit); err != nil {
			return "", fmt.Errorf("ONNX Runtime library %s (from --ort-lib): %w", explicit, err)
		}
		return explicit, nil
	}
	if env := os.Getenv(EnvRuntimeLibrary); env != "" {
		if err := checkLibFile(env); err != nil {
			return "", fmt.Errorf("ONNX Runtime library %s (from $%s): %w", env, EnvRuntimeLibrary, err)
		}
		return env, nil
	}
	dirs := runtimeSearchDirs(InstalledLibDir)
	var tried []string
	for _, dir := range dirs {
		for _, name := range runtimeLibNames {
			p := filepath.Join(dir, name)
			tried = append(tried, p)
			if checkLibFile(p) == nil {
				return p, nil
			}
		}
	}
	if InstalledLibDir != "" {
		return "", fmt.Errorf("ONNX Runtime library not found (looked in %s); reinstall the edgecam package, "+
			"or pass --ort-lib PATH or set $%s to libonnxruntime.so.1", strings.Join(dirs, ", "), EnvRuntimeLibrary)
	}
	return "", fmt.Errorf("ONNX Runtime library not found (looked in %s); run `make deps` in the edgecam folder, "+
		"or pass --ort-lib PATH or set $%s to libonnxruntime.so.1", strings.Join(dirs, ", "), EnvRuntimeLibrary)
}

// runtimeSearchDirs lists the folders FindRuntimeLibrary looks in after the flag and environment:
// for an installed binary (installedDir set) that folder and the system ones only; for a
// development binary also the executable's folder and the project's lib/onnxruntime.
func runtimeSearchDirs(installedDir string) []string {
	if installedDir != "" {
		return dedupe(append([]string{installedDir}, systemLibDirs()...))
	}
	var dirs []string
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		exeDir := filepath.Dir(exe)
		dirs = append(dirs, exeDir, filepath.Join(exeDir, "..", projectLibDir))
	}
	if wd, err := os.Getwd(); err == nil {
		dirs = append(dirs, filepath.Join(wd, projectLibDir))
		for dir := wd; ; {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				dirs = append(dirs, filepath.Join(dir, projectLibDir))
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return dedupe(append(dirs, systemLibDirs()...))
}

// systemLibDirs are the folders where a system-wide ONNX Runtime library may be installed.
func systemLibDirs() []string {
	dirs := []string{"/usr/local/lib", "/usr/lib"}
	if t := multiarchTriplet(); t != "" {
		dirs = append(dirs, filepath.Join("/usr/lib", t))
	}
	return dirs
}

func multiarchTriplet() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64-linux-gnu"
	case "arm64":
		return "aarch64-linux-gnu"
	case "arm":
		return "arm-linux-gnueabihf"
	}
	return ""
}

func dedupe(paths []string) []string {
	seen := make(map[string]bool, len(paths))
	out := paths[:0:0]
	for _, p := range paths {
		p = filepath.Clean(p)
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

func checkLibFile(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errors.New("no such file")
	case err != nil:
		return err
	case fi.IsDir():
		return errors.New("is a directory, want the libonnxruntime.so.1 file")
	}
	return nil
}

var runtimeState struct {
	sync.Mutex
	path string // library loaded, "" until InitRuntime succeeds
}

// InitRuntime loads the ONNX Runtime shared library at libPath (see FindRuntimeLibrary) and
// creates the process-wide runtime environment. It is safe to call more than once and from
// several goroutines: after the first success later calls do nothing (the library stays loaded
// for the life of the process). A missing or unloadable library is a one-line error.
func InitRuntime(libPath string) error {
	runtimeState.Lock()
	defer runtimeState.Unlock()
	if runtimeState.path != "" {
		return nil
	}
	if libPath == "" {
		return errors.New("ONNX Runtime library path is empty; run `make deps` or pass --ort-lib PATH")
	}
	if err := checkLibFile(libPath); err != nil {
		return fmt.Errorf("ONNX Runtime library %s: %w; run `make deps` or pass --ort-lib PATH", libPath, err)
	}
	ort.SetSharedLibraryPath(libPath)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		inner := err // the dlopen message, without the wrappers' repetition
		for errors.Unwrap(inner) != nil {
			inner = errors.Unwrap(inner)
		}
		return fmt.Errorf("loading ONNX Runtime library %s: %v; run `make deps` or pass --ort-lib PATH to libonnxruntime.so.1 (ONNX Runtime 1.30)",
			libPath, inner)
	}
	runtimeState.path = libPath
	return nil
}

// runtimeReady reports whether InitRuntime has succeeded.
func runtimeReady() bool {
	runtimeState.Lock()
	defer runtimeState.Unlock()
	return runtimeState.path != ""
}
