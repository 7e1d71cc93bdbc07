#!/usr/bin/env bash
# make test-arm64: edgecam for arm64 (Raspberry Pi OS 64-bit), tested on this machine under
# qemu-user (scripts/arm64/qemu-exec.sh: qemu-aarch64-static with the arm64 sysroot, and an ARM
# /proc/cpuinfo in a private mount namespace):
#   1. every package's tests, cross-compiled for arm64 against Debian's arm64 OpenCV 4.6 and run
#      emulated with the arm64 ONNX Runtime library. EDGECAM_TEST_EMULATED=1 (set only here)
#      skips the tests that run a model on many frames (20 s to 90 s a frame emulated) or execute
#      a built binary; the shared models run once each on bus.jpg (TestBusUnderEmulation; yolo11n
#      only with EDGECAM_TEST_EMULATED_MODELS=all, docs/models.md), and the yolo tests'
#      hand-made tiny ONNX models exercise ONNX Runtime itself;
#   2. the arm64 .deb: its architecture, its binary's ELF machine, and that binary answering
#      --version and `config check` on the packaged configuration.
# Prints PASS/FAIL lines and the test counts. Usage: test-arm64.sh DEB (run by make test-arm64,
# which provides the cross-compilation environment).
set -uo pipefail
deb=$(realpath "${1:?usage: test-arm64.sh path/to/edgecam_VERSION_arm64.deb}")
[ -f "$deb" ] || { echo "test-arm64: no package $1 (make deb builds it)" >&2; exit 1; }
cd "$(dirname "$0")/.."
repo=$PWD
run=$repo/scripts/arm64/qemu-exec.sh
failed=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---- 1. the tests, emulated
export EDGECAM_TEST_EMULATED=1
export EDGECAM_ORT_LIB=$repo/lib/onnxruntime-arm64/libonnxruntime.so.1
echo "--- go test (GOARCH=arm64) under qemu-aarch64-static ($(date -u +%T))"
start=$SECONDS
go test -count=1 -timeout 30m -v -exec "$run" ./... >"$work/test.log" 2>&1
rc=$?
grep -E '^(ok|FAIL|---)[[:space:]]|^panic:' "$work/test.log" | grep -v -- '--- PASS' | grep -v -- '--- SKIP'
npass=$(grep -c -- '--- PASS' "$work/test.log")
nskip=$(grep -c -- '--- SKIP' "$work/test.log")
nfail=$(grep -c -- '--- FAIL' "$work/test.log")
echo "arm64 tests: $npass passed, $nskip skipped, $nfail failed in $((SECONDS - start)) s"
if [ "$rc" -eq 0 ]; then
  pass "the arm64 test binaries pass under qemu"
else
  fail "the arm64 test binaries under qemu (exit $rc)"
  grep -B5 -A30 -- '--- FAIL' "$work/test.log" | head -150
fi
echo "the models on bus.jpg under emulation:"
grep -o '[^ ]* on bus.jpg: session.*' "$work/test.log"
echo "skipped under emulation:"
grep -o 'under CPU emulation.*' "$work/test.log" | sort | uniq -c

# ---- 2. the arm64 package
echo "--- $(basename "$deb")"
if [ "$(dpkg-deb -f "$deb" Architecture)" = arm64 ]; then pass "Architecture: arm64"; else fail "Architecture: $(dpkg-deb -f "$deb" Architecture)"; fi
dpkg-deb -x "$deb" "$work/pkg"
bin=$work/pkg/usr/bin/edgecam
if file -L "$bin" | grep -q 'ARM aarch64'; then pass "usr/bin/edgecam is an aarch64 ELF"; else fail "usr/bin/edgecam: $(file -L "$bin")"; fi
if file -L "$work/pkg/usr/lib/edgecam/libonnxruntime.so.1" | grep -q 'ARM aarch64'; then
  pass "usr/lib/edgecam/libonnxruntime.so.1 is the aarch64 ONNX Runtime"
else
  fail "usr/lib/edgecam/libonnxruntime.so.1: $(file -L "$work/pkg/usr/lib/edgecam/libonnxruntime.so.1")"
fi
want=$(dpkg-deb -f "$deb" Version)
got=$("$run" "$bin" --version 2>&1)
if [ "$got" = "edgecam version $want" ]; then pass "edgecam --version under qemu: $got"; else fail "edgecam --version: '$got', want 'edgecam version $want'"; fi
out=$("$run" "$bin" config check --config "$work/pkg/etc/edgecam/config.yaml" 2>&1)
if grep -q 'model.path: file "/usr/local/share/edgecam/yolov5n.onnx" not found: the model is not installed' <<<"$out"; then
  pass "edgecam config check under qemu reports the missing model"
else
  fail "edgecam config check under qemu: $out"
fi
sed -e "s#/usr/local/share/edgecam/yolov5n.onnx#$repo/models/yolov5n.onnx#" "$work/pkg/etc/edgecam/config.yaml" >"$work/config.yaml"
if EDGECAM_AZURE__DPS__GROUPENROLLMENTKEY=$(printf 'arm64-test-key' | base64) "$run" "$bin" config check --config "$work/config.yaml" >"$work/check.out" 2>&1; then
  pass "edgecam config check under qemu accepts the packaged configuration with a model and a key"
else
  fail "edgecam config check with a model and a key: $(cat "$work/check.out")"
fi
echo "test-arm64: $failed failed"
[ "$failed" -eq 0 ]
