package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// runCLI runs `edgecam args...` in-process and returns its stdout, stderr and error.
func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := NewRootCmd(&out, &errOut)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errOut.String(), err
}

// runCmd runs `edgecam args...` in-process and returns stdout, stderr and the exit status, with
// an error that is not an exitError written to stderr as main writes it.
func runCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	out, errOut, err := runCLI(t, args...)
	code := 0
	if err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			code = ee.code
		} else {
			code = 1
			errOut += "edgecam: " + err.Error() + "\n"
		}
	}
	return out, errOut, code
}

// configFile writes yaml to dir/config.yaml (dir "" is a new t.TempDir()) and returns its path.
func configFile(t *testing.T, dir, yaml string) string {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// shippedConfigEnv runs the test in the repository with the model and the photos of
// configs/demo.yaml taken from the shared folder through the environment, as `make run` does.
func shippedConfigEnv(t *testing.T) {
	t.Chdir(projectRoot(t))
	t.Setenv("EDGECAM_MODEL__PATH", testModel(t))
	t.Setenv("EDGECAM_CAMERAS__BUS-STOP__PATH", testPhoto(t, "bus.jpg"))
	t.Setenv("EDGECAM_CAMERAS__1__PATH", testPhoto(t, "zidane.jpg"))
}
