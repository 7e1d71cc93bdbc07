#!/usr/bin/env bash
# Checks that an edgecam binary built by scripts/build.sh loads only the OpenCV modules it uses
# (core, imgproc) and none of the heavy trees the others pull in (Qt5 through highgui, GDAL and
# GDCM through imgcodecs, GStreamer through videoio, protobuf through dnn), and not FFmpeg, which
# internal/videodec opens with dlopen at the first RTSP decode. Prints the binary's NEEDED libraries. Usage: scripts/check-linked.sh BINARY (any architecture).
set -euo pipefail
bin=${1:?usage: scripts/check-linked.sh BINARY}
needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
echo "check-linked: $bin needs: $needed"
bad=$(tr ' ' '\n' <<<"$needed" | grep -E '^lib(opencv_|Qt|gdal|gdcm|gst|avcodec|avformat|avutil|swscale|gcrypt|ssh)' | grep -vE '^libopencv_(core|imgproc)\.so' || true)
if [ -n "$bad" ]; then
  echo "check-linked: $bin links $(echo $bad) (build it with scripts/build.sh; a gocv imgcodecs," >&2
  echo "  videoio, highgui or dnn call in edgecam's non-test code brings them back, and a cgo" >&2
  echo "  line linking FFmpeg in place of internal/videodec's dlopen)" >&2
  exit 1
fi
