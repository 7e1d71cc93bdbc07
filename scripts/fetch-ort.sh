#!/usr/bin/env bash
# Extracts the ONNX Runtime shared library for an architecture from the npm package
# onnxruntime-node (which ships prebuilt libraries for linux x64 and arm64) into DEST.
# Usage: fetch-ort.sh VERSION DEST_DIR [ARCH]
#   ARCH: amd64 (x64) or arm64; default this machine's. The npm tarball (~113 MB) is kept in
#   .cache/ (git-ignored) so that a second architecture does not download it again.
set -euo pipefail
version=${1:?version}
dest=${2:?destination folder}
want=${3:-$(uname -m)}
case "$want" in
  x86_64|amd64|x64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) echo "deps: no prebuilt ONNX Runtime for $want in onnxruntime-node; build ONNX Runtime $version yourself and pass --ort-lib" >&2; exit 1 ;;
esac
if [ -f "$dest/libonnxruntime.so.1" ] && [ "$(cat "$dest/VERSION" 2>/dev/null)" = "$version-$arch" ]; then
  exit 0
fi
cache=$(cd "$(dirname "$0")/.." && pwd)/.cache
tgz="$cache/onnxruntime-node-$version.tgz"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ ! -s "$tgz" ]; then
  "$(dirname "$0")/need-npm.sh" "onnxruntime-node@$version"
  echo "deps: fetching ONNX Runtime $version from npm onnxruntime-node@$version" >&2
  (cd "$tmp" && npm pack --silent "onnxruntime-node@$version" >/dev/null)
  mkdir -p "$cache"
  mv "$(ls "$tmp"/onnxruntime-node-*.tgz)" "$tgz.part" && mv "$tgz.part" "$tgz"
fi
member="package/bin/napi-v6/linux/$arch/libonnxruntime.so.1"
tar -xzf "$tgz" -C "$tmp" "$member"
mkdir -p "$dest"
install -m 0644 "$tmp/$member" "$dest/libonnxruntime.so.1"
echo "$version-$arch" > "$dest/VERSION"
echo "deps: ONNX Runtime library ($arch) at $dest/libonnxruntime.so.1" >&2
