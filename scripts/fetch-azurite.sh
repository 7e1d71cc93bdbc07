#!/usr/bin/env bash
# Installs Azurite (the Azure Storage emulator, npm package azurite), which the file-upload tests
# start in memory, into DEST (git-ignored) when it is missing or another version.
# Usage: fetch-azurite.sh VERSION DEST_DIR
set -euo pipefail
version=${1:?version}
dest=${2:?destination folder}
bin="$dest/node_modules/.bin/azurite-blob"
if [ -x "$bin" ] && [ "$(cat "$dest/VERSION" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "deps: installing npm (apt) to fetch azurite@$version" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null ||
    { echo "deps: npm is needed to fetch azurite@$version: install it (apt-get install npm) and run make deps again" >&2; exit 1; }
fi
echo "deps: installing Azurite $version (npm azurite@$version) into $dest" >&2
mkdir -p "$dest"
npm install --silent --no-audit --no-fund --omit=dev --prefix "$dest" "azurite@$version" >/dev/null
[ -x "$bin" ] || { echo "deps: npm installed azurite@$version but $bin is missing" >&2; exit 1; }
echo "$version" > "$dest/VERSION"
echo "deps: Azurite at $bin" >&2
