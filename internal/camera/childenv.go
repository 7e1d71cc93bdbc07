package camera

import (
	"os"
	"strings"
)

// childEnvNames are the variables a camera tool (rpicam-still) gets from edgecam's environment;
// childEnvPrefixes the families it gets whole. Everything else, above all the configuration's
// secrets (EDGECAM_AZURE__DPS__GROUPENROLLMENTKEY, EDGECAM_CAMERAS__0__PASSWORD, credentials
// systemd passes), stays in edgecam.
var (
	childEnvNames = []string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR",
		"XDG_RUNTIME_DIR", "LD_LIBRARY_PATH"}
	childEnvPrefixes = []string{"LC_", "LIBCAMERA_", "LIBPISP_"}
)

// childEnv returns the minimal environment for a child process, from environ (KEY=value).
func childEnv(environ []string) []string {
	out := []string{}
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		keep := false
		for _, n := range childEnvNames {
			keep = keep || name == n
		}
		for _, p := range childEnvPrefixes {
			keep = keep || strings.HasPrefix(name, p)
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// minimalEnv is childEnv of edgecam's own environment.
func minimalEnv() []string { return childEnv(os.Environ()) }
