#!/usr/bin/env bash
# Installs Node.js MAJOR from the npm registry (package node-linux-<arch>) into DEST/.node, for a
# tool that needs a newer Node.js than the system's (Debian bookworm has 18), unless the system's
# node is at least MIN or DEST/.node/bin/node exists. Callers put DEST/.node/bin first on PATH.
# Usage: node-from-npm.sh MIN MAJOR DEST WHAT
set -euo pipefail
min=${1:?minimum major version} major=${2:?major version to install} dest=${3:?destination folder} what=${4:?what needs it}
if node -e "process.exit(Number(process.versions.node.split('.')[0]) >= $min ? 0 : 1)" || [ -x "$dest/.node/bin/node" ]; then
  exit 0
fi
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "deps: $what needs Node.js $min or later; install it" >&2; exit 1 ;;
esac
echo "deps: installing Node.js $major (npm node-linux-$arch) for $what" >&2
npm install --prefix "$dest/.node" --no-save --no-audit --no-fund --loglevel=error "node-linux-$arch@$major"
mkdir -p "$dest/.node/bin"
ln -sf "../node_modules/node-linux-$arch/bin/node" "$dest/.node/bin/node"
