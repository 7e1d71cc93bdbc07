#!/usr/bin/env bash
# Installs the npm package onvif (MIT) into DEST (git-ignored) when it is missing or another
# version. Only its test/serverMockup/ folder is used: SOAP replies captured from real cameras,
# which the internal/onvif tests parse. Version 0.8.1 is the last that ships them.
# Usage: fetch-onvif.sh VERSION DEST_DIR
set -euo pipefail
version=${1:?version}
dest=${2:?destination folder}
mock="$dest/node_modules/onvif/test/serverMockup/GetProfiles.xml"
if [ -f "$mock" ] && [ "$(cat "$dest/VERSION" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "deps: installing npm (apt) to fetch onvif@$version" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq npm >/dev/null ||
    { echo "deps: npm is needed to fetch onvif@$version: install it (apt-get install npm) and run make deps again" >&2; exit 1; }
fi
echo "deps: installing the ONVIF camera replies (npm onvif@$version) into $dest" >&2
mkdir -p "$dest"
# --ignore-scripts: only the package's files are wanted, nothing of it runs.
npm install --silent --no-audit --no-fund --omit=dev --ignore-scripts --prefix "$dest" "onvif@$version" >/dev/null
[ -f "$mock" ] || { echo "deps: npm installed onvif@$version but $mock is missing" >&2; exit 1; }
echo "$version" > "$dest/VERSION"
