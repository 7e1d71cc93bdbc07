#!/usr/bin/env bash
# Makes sure npm is on PATH, installing it from Debian (apt) when it is missing; WHAT says in
# the messages what it is needed for. Exits 1, saying what to do, when it cannot be installed.
# Usage: need-npm.sh WHAT
set -euo pipefail
what=${1:?what npm is needed for}
command -v npm >/dev/null && exit 0
echo "deps: installing npm (apt) to fetch $what" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq &&
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq npm >/dev/null ||
  { echo "deps: npm is needed to fetch $what: install it (apt-get install npm) and run make deps again" >&2; exit 1; }
