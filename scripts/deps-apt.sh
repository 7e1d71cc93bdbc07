#!/usr/bin/env bash
# Installs the Debian packages edgecam needs to build and test, when they are missing:
# OpenCV 4.6 headers (gocv), libjpeg-turbo's and FFmpeg's headers (internal/imagecodec decodes JPEGs,
# internal/videodec RTSP pictures), pkg-config, ffmpeg (RTSP test feed) and wsdd (a WS-Discovery
# responder the ONVIF discovery tests must not mistake for a camera).
set -euo pipefail
need=()
for p in libopencv-dev libjpeg62-turbo-dev libavcodec-dev libavutil-dev libswscale-dev pkg-config ffmpeg wsdd; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && exit 0
echo "deps: installing ${need[*]} (apt)" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq "${need[@]}" >/dev/null
