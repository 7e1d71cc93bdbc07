#!/usr/bin/env bash
# Installs what cross-building and emulating arm64 needs, when it is missing:
#   - Debian's cross toolchain (crossbuild-essential-arm64) and qemu-user-static (runs arm64
#     binaries on this machine), mmdebstrap;
#   - an arm64 sysroot holding Debian bookworm's arm64 OpenCV 4.6 development packages (what gocv
#     links against), FFmpeg 5.1's libavcodec/libavutil/libswscale ones (internal/videodec) and
#     libjpeg-turbo's (internal/imagecodec; of FFmpeg only the headers are used: videodec opens the
#     libraries with dlopen) and their libraries, in SYSROOT (default .cache/sysroot-arm64, git-ignored),
#     built once with `mmdebstrap --variant=extract` (~30 s, ~1.1 GB) and reused.
# Why a sysroot rather than `dpkg --add-architecture arm64 && apt-get install libopencv-dev:arm64`:
# on bookworm libopencv-dev is not Multi-Arch: same, and the arm64 one (with gdal, vtk, openmpi)
# cannot be co-installed with the amd64 one: apt removes the host's libopencv-dev to install it,
# which breaks the host build. The sysroot leaves the host's packages alone.
# Usage: deps-arm64.sh [SYSROOT]
set -euo pipefail
sysroot=${1:-.cache/sysroot-arm64}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_opts=(-o DPkg::Lock::Timeout=900)
need=()
for p in crossbuild-essential-arm64 qemu-user-static mmdebstrap pkg-config; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]} (apt)" >&2
  $SUDO apt-get "${apt_opts[@]}" update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The packages of the sysroot; a sysroot made with another list is made again.
pkgs=libopencv-dev,libjpeg62-turbo-dev,libavcodec-dev,libavutil-dev,libswscale-dev,libc6-dev,libstdc++-12-dev,libgcc-12-dev
[ "$(cat "$sysroot/.complete" 2>/dev/null)" = "$pkgs" ] && exit 0
echo "deps: building the arm64 sysroot $sysroot (mmdebstrap, bookworm, libopencv-dev:arm64)" >&2
tmp="$sysroot.tmp"
$SUDO rm -rf "$tmp"
mkdir -p "$(dirname "$sysroot")"
$SUDO mmdebstrap --quiet --variant=extract --architectures=arm64 \
  --include="$pkgs" bookworm "$tmp"
# extract runs no maintainer scripts, so the update-alternatives links of BLAS/LAPACK (needed to
# resolve OpenCV's dependencies at link time) are made here.
lib="$tmp/usr/lib/aarch64-linux-gnu"
$SUDO ln -sfn blas/libblas.so.3 "$lib/libblas.so.3"
$SUDO ln -sfn lapack/liblapack.so.3 "$lib/liblapack.so.3"
echo "$pkgs" | $SUDO tee "$tmp/.complete" >/dev/null
$SUDO rm -rf "$sysroot"
$SUDO mv "$tmp" "$sysroot"
