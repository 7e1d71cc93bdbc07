#!/usr/bin/env bash
# Installs Azurite (the Azure Storage emulator, npm package azurite), which the file-upload tests
# start in memory, into DEST (git-ignored) when it is missing or another version.
# Azurite wants Node.js 22 (it runs on 20); Debian bookworm has 18: then Node.js 22 comes from the
# npm registry (node-linux-<arch>) into DEST/.node, which the tests run Azurite with.
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
  $SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq npm >/dev/null ||
    { echo "deps: npm is needed to fetch azurite@$version: install it (apt-get install npm) and run make deps again" >&2; exit 1; }
fi
"$(dirname "$0")/node-from-npm.sh" 20 22 "$dest" Azurite
echo "deps: installing Azurite $version (npm azurite@$version) into $dest" >&2
mkdir -p "$dest"
npm install --silent --no-audit --no-fund --omit=dev --prefix "$dest" "azurite@$version" >/dev/null
[ -x "$bin" ] || { echo "deps: npm installed azurite@$version but $bin is missing" >&2; exit 1; }
echo "$version" > "$dest/VERSION"
echo "deps: Azurite at $bin" >&2
