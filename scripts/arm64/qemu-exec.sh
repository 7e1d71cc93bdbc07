#!/usr/bin/env bash
# go test -exec wrapper (and runner for any arm64 program): runs an arm64 binary on this machine
# under qemu-user, with the arm64 sysroot as its library root, in a private mount namespace where
# /proc/cpuinfo describes an ARM Cortex-A72 (a Raspberry Pi 4): ONNX Runtime's arm64 library
# reads it at load and crashes on an x86 cpuinfo. Needs root (unshare -m) and qemu-user-static;
# no binfmt_misc registration is needed since qemu is called directly.
# Usage: qemu-exec.sh BINARY [ARGS...]   (SYSROOT_ARM64 overrides the sysroot)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sysroot=${SYSROOT_ARM64:-$here/../../.cache/sysroot-arm64}
exec unshare -m --propagation private -- bash -c '
  mount --bind "$1" /proc/cpuinfo
  shift
  exec qemu-aarch64-static -L "$0" "$@"' "$sysroot" "$here/cpuinfo" "$@"
