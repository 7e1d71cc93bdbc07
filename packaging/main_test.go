package main

import (
	"os/exec"
	"strings"
	"testing"
)

func TestSplitSoname(t *testing.T) {
	for so, want := range map[string][2]string{
		"libopencv_core.so.406": {"libopencv_core", "406"},
		"libc.so.6":             {"libc", "6"},
		"libstdc++.so.6":        {"libstdc++", "6"},
		"libfoo-1.2.so":         {"libfoo", "1.2"},
	} {
		if n, v := splitSoname(so); n != want[0] || v != want[1] {
			t.Errorf("splitSoname(%q) = %q, %q; want %q, %q", so, n, v, want[0], want[1])
		}
	}
}

// The host's C library maps to libc6 with the version its shlibs file declares, as
// dpkg-shlibdeps would write it; the bundled ONNX Runtime is no dependency.
func TestDebDependsOnTheHost(t *testing.T) {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		t.Skip("not a Debian system")
	}
	deps, err := debDepends([]string{"libc.so.6", "libm.so.6", "libonnxruntime.so.1", "ld-linux-aarch64.so.1", "ld-linux-x86-64.so.2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(deps) != 1 || !strings.HasPrefix(deps[0], "libc6 (>= ") {
		t.Fatalf("deps = %q, want one libc6 (>= ...)", deps)
	}
	if _, err := debDepends([]string{"libno-such-library.so.9"}); err == nil || !strings.Contains(err.Error(), "libno-such-library.so.9") {
		t.Fatalf("unknown library: %v", err)
	}
}

// The FFmpeg libraries internal/videodec opens with dlopen map to their packages, as linked
// ones would: libavcodec.so.59 -> libavcodec59 (>= ...).
func TestDebDependsDlopened(t *testing.T) {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		t.Skip("not a Debian system")
	}
	deps, err := debDepends(dlopened)
	if err != nil {
		t.Fatal(err)
	}
	if len(deps) != 3 {
		t.Fatalf("deps = %q, want libavcodec59, libavutil57 and libswscale6", deps)
	}
	for i, pkg := range []string{"libavcodec59 (>= ", "libavutil57 (>= ", "libswscale6 (>= "} {
		if !strings.HasPrefix(deps[i], pkg) {
			t.Errorf("deps = %q, want %s...)", deps, pkg)
		}
	}
}
