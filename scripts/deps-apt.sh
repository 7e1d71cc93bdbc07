#!/usr/bin/env bash
# Installs the Debian packages edgecam needs to build and test, when they are missing:
# OpenCV 4.6 headers (gocv), FFmpeg 5.1's libavcodec/libavutil/libswscale headers (the RTSP
# decoder, internal/videodec) and libjpeg-turbo's (internal/jpeg) (libopencv-dev pulls them in
# today, named for when it no longer does), pkg-config, and ffmpeg (RTSP test feed).
set -euo pipefail
need=()
for p in libopencv-dev libavcodec-dev libavutil-dev libswscale-dev libjpeg62-turbo-dev pkg-config ffmpeg; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && exit 0
echo "deps: installing ${need[*]} (apt)" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq "${need[@]}" >/dev/null
