package config

import (
	"log/slog"
	"os"
	"strings"
)

// The environment variables that carry secrets, in the configuration's one naming scheme
// (EnvPrefix, then the key path with "__" between levels). Commands that take a secret without
// a configuration file read the same names, so a secrets.env serves the daemon and the CLI.
const (
	EnvGroupEnrollmentKey = EnvPrefix + "AZURE__DPS__GROUPENROLLMENTKEY"
	EnvDPSDeviceKey       = EnvPrefix + "AZURE__DPS__DEVICEKEY"
	EnvIDScope            = EnvPrefix + "AZURE__DPS__IDSCOPE"
	EnvGlobalEndpoint     = EnvPrefix + "AZURE__DPS__GLOBALENDPOINT"
	EnvModelID            = EnvPrefix + "AZURE__MODELID"
	EnvCAFile             = EnvPrefix + "AZURE__CAFILE"
)

// CameraEnv is the variable that sets key of the camera id: EDGECAM_CAMERAS__BUS_STOP__PASSWORD
// for ("bus-stop", "password").
func CameraEnv(id, key string) string {
	return EnvPrefix + "CAMERAS__" + strings.ToUpper(envSafe(id)) + "__" + strings.ToUpper(key)
}

// LookupEnv returns the value of the variable name or, when it is unset, of its deprecated
// older name (logging a warning that names the new one). The older names (EDGECAM_DPS_GROUP_KEY,
// EDGECAM_CAMERA_PASSWORD, ...) work for one more release.
func LookupEnv(name, deprecated string) (string, bool) {
	if v, ok := os.LookupEnv(name); ok {
		return v, true
	}
	if deprecated == "" {
		return "", false
	}
	v, ok := os.LookupEnv(deprecated)
	if ok {
		slog.Warn("deprecated environment variable: rename it; the old name stops working in the next release", "old", deprecated, "new", name)
	}
	return v, ok
}
