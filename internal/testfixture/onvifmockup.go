package testfixture

import (
	"os"
	"path/filepath"
	"testing"
)

// ONVIFMockupDir is test/serverMockup of the npm package onvif@0.8.1 (MIT): SOAP replies captured
// from real cameras, which `make deps` installs (scripts/fetch-onvif.sh) into .deps/onvif. It is
// found through $EDGECAM_ONVIF (the package folder, which the Makefile exports), else in
// .deps/onvif of the repository. Under make (EDGECAM_ONVIF set) a missing folder fails the test;
// in a plain `go test` it skips.
func ONVIFMockupDir(t testing.TB) string {
	t.Helper()
	pkg := os.Getenv("EDGECAM_ONVIF")
	required := pkg != ""
	if pkg == "" {
		pkg = filepath.Join(RepoRoot(t), ".deps", "onvif", "node_modules", "onvif")
	}
	dir := filepath.Join(pkg, "test", "serverMockup")
	if _, err := os.Stat(filepath.Join(dir, "GetProfiles.xml")); err != nil {
		if required {
			t.Fatalf("ONVIF camera replies: %v (run `make deps`, which installs npm onvif@0.8.1 into .deps/onvif)", err)
		}
		t.Skipf("ONVIF camera replies not installed (%v): run `make deps`; `make test` requires them", err)
	}
	return dir
}
