#!/usr/bin/env bash
# Installs the npm package NAME@VERSION and its runtime dependencies into DEST/node_modules
# (DEST is git-ignored), unless DEST/VERSION says VERSION and DEST/CHECK, a file the package
# must provide, is there. WHAT names it in the messages; further arguments go to npm install
# (--ignore-scripts when only the package's files are wanted and nothing of it may run).
# Usage: npm-package.sh NAME VERSION DEST CHECK WHAT [NPM_ARGS...]
set -euo pipefail
name=${1:?package} version=${2:?version} dest=${3:?destination folder} check=${4:?file to check} what=${5:?what it is}
shift 5
if [ -e "$dest/$check" ] && [ "$(cat "$dest/VERSION" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
"$(dirname "$0")/need-npm.sh" "$name@$version"
echo "deps: installing $what (npm $name@$version) into $dest" >&2
mkdir -p "$dest"
npm install --silent --no-audit --no-fund --omit=dev "$@" --prefix "$dest" "$name@$version" >/dev/null
[ -e "$dest/$check" ] || { echo "deps: npm installed $name@$version but $dest/$check is missing" >&2; exit 1; }
echo "$version" > "$dest/VERSION"
