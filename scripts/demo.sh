#!/usr/bin/env bash
# The main job on a machine without an Azure account: starts the local IoT Hub/DPS emulator and
# `edgecam run` on configs/demo.yaml (two file cameras on the shared test photos, DPS with a group
# key and a DTDL model ID). The telemetry the emulator receives is printed as JSON lines.
# Stops on Ctrl-C, or after DEMO_SECONDS when that is set.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./bin/edgecam
state=${DEMO_STATE:-$PWD/state/demo}
mkdir -p "$state/emulator" "$state/edgecam"

# Azurite (the Azure Storage emulator, installed by make deps) receives the uploaded images, kept in
# $state/azurite across runs.
azurite=.deps/azurite/node_modules/.bin/azurite-blob
node=.deps/azurite/.node/bin/node
[ -x "$node" ] || node=
if [ -x "$azurite" ]; then
  mkdir -p "$state/azurite"
  $node "$azurite" --location "$state/azurite" --blobHost 127.0.0.1 --blobPort 28886 --skipApiVersionCheck --loose --silent \
    >"$state/azurite.log" 2>&1 &
  blobs=$!
fi
"$bin-emulator" --state-dir "$state/emulator" --hub-port 28883 --dps-port 28884 --service-port 28885 \
  --blob-url http://127.0.0.1:28886/devstoreaccount1 \
  >"$state/telemetry.jsonl" 2>"$state/emulator.log" &
emu=$!
# stop PID: SIGTERM, then SIGKILL when it has not exited within 10 s. Azurite 3.37 under Node.js 22
# (what make deps installs on bookworm) logs "successfully closed" on SIGTERM but never exits.
stop() {
  [ -n "${1:-}" ] || return 0
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  stop "${run:-}"
  stop "$emu"
  stop "${blobs:-}"
  stop "${tailer:-}"
}
trap cleanup EXIT INT TERM
for _ in $(seq 1 100); do
  [ -s "$state/emulator/ca.pem" ] && grep -q "DPS" "$state/emulator.log" 2>/dev/null && break
  kill -0 "$emu" 2>/dev/null || { cat "$state/emulator.log" >&2; exit 1; }
  sleep 0.1
done
echo "demo: emulator up (log: $state/emulator.log); telemetry it receives follows" >&2
echo "demo: commands and writable properties with curl: . $state/emulator/service.env (see README, Trying commands locally)" >&2
echo "demo: marked-up frames go to Azurite (container edgecam): . $state/emulator/files.env; curl -s \"\$FILES_URL&restype=container&comp=list\" (see README)" >&2
tail -n +1 -f "$state/telemetry.jsonl" &
tailer=$!

export EDGECAM_AZURE__CAFILE="$state/emulator/ca.pem"
export EDGECAM_STATE__DIR="$state/edgecam"
export EDGECAM_SHARED=${EDGECAM_SHARED:-../shared}
"$bin" run --config configs/demo.yaml &
run=$!
if [ -n "${DEMO_SECONDS:-}" ]; then
  sleep "$DEMO_SECONDS"
  kill -TERM "$run"
fi
wait "$run"
