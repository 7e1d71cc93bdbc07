// Package version reports edgecam's version: set at link time with
// -ldflags "-X github.com/edgecam/edgecam/internal/version.Version=v1.2.3", else taken from the
// module build information.
package version

import "runtime/debug"

// Version is the application version.
var Version = ""

// String returns the version, "dev" when nothing better is known.
func String() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
