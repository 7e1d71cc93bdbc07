#!/usr/bin/env bash
# Installs Azurite (the Azure Storage emulator, npm package azurite), which the file-upload tests
# start in memory, into DEST (git-ignored) when it is missing or another version.
# Azurite wants Node.js 22 (it runs on 20); Debian bookworm has 18: then Node.js 22 comes from the
# npm registry (node-linux-<arch>) into DEST/.node, which the tests run Azurite with.
# Usage: fetch-azurite.sh VERSION DEST_DIR
set -euo pipefail
version=${1:?version}
dest=${2:?destination folder}
here=$(dirname "$0")
bin=node_modules/.bin/azurite-blob
if [ -x "$dest/$bin" ] && [ "$(cat "$dest/VERSION" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
"$here/need-npm.sh" "azurite@$version"
"$here/node-from-npm.sh" 20 22 "$dest" Azurite
"$here/npm-package.sh" azurite "$version" "$dest" "$bin" "Azurite $version"
echo "deps: Azurite at $dest/$bin" >&2
