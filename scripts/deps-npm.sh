#!/usr/bin/env bash
# Installs the official Azure IoT Node.js SDKs that the conformance tests (test/conformance) run
# against the emulator, at the versions pinned in test/conformance/package-lock.json, into
# test/conformance/node_modules (git-ignored). Installs Node.js and npm from Debian when missing.
# Does nothing when the installed packages already match the lock file.
set -euo pipefail
dir="$(cd "$(dirname "$0")/../test/conformance" && pwd)"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "deps: installing nodejs npm (apt)" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq nodejs npm >/dev/null
fi
# Some of azure-iothub's dependencies need Node.js 20; Debian bookworm has 18. Then take Node.js
# 20 from the npm registry (node-linux-<arch>) into test/conformance/.node, which the tests use.
"$(dirname "$0")/node-from-npm.sh" 20 20 "$dir" "the conformance tests"
[ ! -x "$dir/.node/bin/node" ] || export PATH="$dir/.node/bin:$PATH"
stamp="$dir/node_modules/.package-lock.json"
if [ -f "$stamp" ] && [ "$stamp" -nt "$dir/package-lock.json" ]; then
  exit 0
fi
echo "deps: installing the Azure IoT Node.js SDKs for the conformance tests (npm ci)" >&2
cd "$dir"
npm ci --no-audit --no-fund --loglevel=error
