#!/usr/bin/env bash
# Builds the edgecam binary linked only to the OpenCV modules it calls: core and imgproc.
#
# gocv's default cgo flags (`pkg-config opencv4`) link every module, and the binary then loads
# about 260 shared libraries at start (highgui pulls Qt5, imgcodecs GDAL, GDCM and OpenEXR,
# videoio GStreamer and imgcodecs), ~90 MB of resident memory before any work. edgecam decodes
# JPEGs with libjpeg-turbo (internal/imagecodec) and RTSP pictures with libavcodec (internal/videodec),
# so it needs only core and imgproc from OpenCV. gocv's `customenv` tag drops its pkg-config line;
# every C/C++ function gets its own section and the linker drops the ones nothing calls
# (-Wl,--gc-sections), with the references they made to the modules left out.
# scripts/check-linked.sh checks the result.
#
# Usage: scripts/build.sh OUT [go build flags...]; PKG builds another main package the same way
# (default ./cmd/edgecam; internal/videodec's TestLazyLoad builds its probe with it). Cross builds: the caller sets GOARCH, CC, CXX
# and PKG_CONFIG_SYSROOT_DIR/PKG_CONFIG_LIBDIR (see the Makefile's CROSS_ENV_arm64).
set -euo pipefail
out=${1:?usage: scripts/build.sh OUT [go build flags...]}
shift
cd "$(dirname "$0")/.."
sections="-ffunction-sections -fdata-sections"
CGO_CPPFLAGS="${CGO_CPPFLAGS:-} $(pkg-config --cflags opencv4)"
CGO_CFLAGS="${CGO_CFLAGS:--O2 -g} $sections"
CGO_CXXFLAGS="${CGO_CXXFLAGS:--O2 -g} $sections"
CGO_LDFLAGS="${CGO_LDFLAGS:--O2 -g} -Wl,--gc-sections $(pkg-config --libs-only-L opencv4) -lopencv_imgproc -lopencv_core"
export CGO_CPPFLAGS CGO_CFLAGS CGO_CXXFLAGS CGO_LDFLAGS
exec "${GO:-go}" build -tags customenv "$@" -o "$out" "${PKG:-./cmd/edgecam}"
