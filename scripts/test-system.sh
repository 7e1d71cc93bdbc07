#!/usr/bin/env bash
# make test-system: the edgecam .deb under real systemd on a fresh, minimal Debian bookworm.
#
#   1. a minimal bookworm root with systemd is built once with mmdebstrap and cached in
#      .cache/bookworm-systemd-base (git-ignored); each run copies it;
#   2. `apt-get install ./edgecam_*.deb` inside the copy pulls the runtime libraries from Debian
#      (downloaded packages are kept in .cache/apt-archives for the next run);
#   3. the copy boots under systemd-nspawn (host network, so it reaches `edgecam-emulator` on
#      127.0.0.1), and commands run inside with nsenter;
#   4. the checks, each printed PASS or FAIL: the package's files, user and modes; the service
#      is not enabled by the package; enable --now reaches active (running) through Type=notify;
#      telemetry arrives at the emulator; the journal is clean (no libgcrypt "insecure memory" warning: the binary loads no libgcrypt, tallies as
#      key=value, not Go map text); systemd-analyze security <= 2.5; a restart keeps the queue;
#      stop within 10 s; a SIGSTOPped daemon is killed by the watchdog and restarted; the key is
#      never in the journal or `systemctl show`; a reboot keeps the DPS cache and queued tallies.
# Must run as root. Usage: test-system.sh DEB
set -uo pipefail
deb=$(realpath "${1:?usage: test-system.sh path/to/edgecam_VERSION_ARCH.deb}")
[ -f "$deb" ] || { echo "test-system: no package $1 (make deb builds it)" >&2; exit 1; }
cd "$(dirname "$0")/.."
repo=$PWD
shared=${EDGECAM_SHARED:-../shared}
model=$(realpath "$shared/models/yolov5n.onnx")
photo=$(realpath "$shared/testdata/images/bus.jpg")
base=.cache/bookworm-systemd-base
archives=$repo/.cache/apt-archives
[ "$(id -u)" -eq 0 ] || { echo "test-system: must run as root (mmdebstrap, systemd-nspawn)" >&2; exit 1; }

passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() { # check "what" command...: PASS when the command succeeds
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
step() { echo "--- $* ($(date -u +%T))"; }

# ---- 1. the cached base root
if [ ! -f "$base/.complete" ]; then
  step "building the minimal bookworm root (mmdebstrap, once)"
  rm -rf "$base.tmp"
  mkdir -p .cache
  mmdebstrap --quiet --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$base.tmp" || exit 1
  touch "$base.tmp/.complete"
  rm -rf "$base"
  mv "$base.tmp" "$base"
fi

work=$(mktemp -d "$repo/.cache/test-system.XXXXXX")
ct=$work/root
emu_state=$work/emulator
mkdir -p "$emu_state" "$archives"
nspawn_pid=""
emu_pid=""
cleanup() {
  [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    in_ct systemctl poweroff >/dev/null 2>&1
    for _ in $(seq 1 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$nspawn_pid" 2>/dev/null
    wait "$nspawn_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step "copying the base root"
cp -a "$base" "$ct"

# ---- 2. install the package with apt, as a user would
step "apt-get install $(basename "$deb") in the container"
cp "$deb" "$ct/root/"
if ! systemd-nspawn -q -D "$ct" --register=no --keep-unit --pipe \
  --bind="$archives:/var/cache/apt/archives" \
  bash -c "apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -y -qq install /root/$(basename "$deb") >/dev/null" \
  2> >(grep -v 'Attempted to remove disk file system' >&2); then
  fail "apt-get install ./$(basename "$deb")"
  exit 1
fi
pass "apt-get install ./$(basename "$deb") pulls its dependencies"
rm -f "$ct/root/$(basename "$deb")"

st() { stat -c '%a %U:%G' "$1" 2>/dev/null; }
ct_uid=$(awk -F: '$1=="edgecam"{print $3}' "$ct/etc/passwd")
ct_gid=$(awk -F: '$1=="edgecam"{print $3}' "$ct/etc/group")
check "system user edgecam made from sysusers.d (uid $ct_uid)" test -n "$ct_uid"
check "edgecam is in group video" grep -qE '^video:[^:]*:[^:]*:(.*,)?edgecam(,|$)' "$ct/etc/group"
check "/etc/edgecam/config.yaml is 0640 root:edgecam" test "$(stat -c '%a %u:%g' "$ct/etc/edgecam/config.yaml")" = "640 0:$ct_gid"
check "/etc/edgecam/secrets.env is 0600 root:root" test "$(stat -c '%a %u:%g' "$ct/etc/edgecam/secrets.env")" = "600 0:0"
check "ONNX Runtime in /usr/lib/edgecam" test -f "$ct/usr/lib/edgecam/libonnxruntime.so.1"
check "unit in /usr/lib/systemd/system" test -f "$ct/usr/lib/systemd/system/edgecam.service"
check "no model in the package" test ! -e "$ct/usr/local/share/edgecam/yolov5n.onnx"

run_ct() { systemd-nspawn -q -D "$ct" --register=no --keep-unit --pipe "$@" 2> >(grep -v 'Attempted to remove disk file system' >&2); }
version=$(run_ct edgecam --version)
check "edgecam --version: $version" grep -q "^edgecam version [0-9]" <<<"$version"
out=$(run_ct sh -c 'cd /tmp && edgecam config check --config /etc/edgecam/config.yaml 2>&1')
check "config check of the fresh install says the model is missing and where it goes" \
  grep -q 'model.path: file "/usr/local/share/edgecam/yolov5n.onnx" not found: the model is not installed' <<<"$out"

# ---- the emulator on the host, and the container's configuration
key=$(head -c 32 /dev/urandom | base64)
start_emulator() { # [hub-port dps-port]
  local hub=${1:-0} dps=${2:-0}
  "$repo/bin/edgecam-emulator" --state-dir "$emu_state" --hub-port "$hub" --dps-port "$dps" \
    --group-key "$key" --log-format json >>"$work/telemetry.jsonl" 2>>"$work/emulator.log" &
  emu_pid=$!
  for _ in $(seq 1 100); do
    grep -q '"dps"' "$work/emulator.log" 2>/dev/null && [ -s "$emu_state/ca.pem" ] && return 0
    kill -0 "$emu_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "emulator did not start:" >&2
  cat "$work/emulator.log" >&2
  return 1
}
stop_emulator() { kill "$emu_pid" 2>/dev/null; wait "$emu_pid" 2>/dev/null; emu_pid=""; }
start_emulator || exit 1
dps_addr=$(grep -o '"dps":"[^"]*"' "$work/emulator.log" | tail -1 | cut -d'"' -f4)
hub_port=$(grep -o '"hubs":\["[^"]*"' "$work/emulator.log" | tail -1 | grep -o '[0-9]*"$' | tr -d '"')
dps_port=${dps_addr##*:}
echo "emulator: DPS $dps_addr, hub port $hub_port"

install -D -m 0644 "$model" "$ct/usr/local/share/edgecam/yolov5n.onnx"
install -D -m 0644 "$photo" "$ct/usr/local/share/edgecam/bus.jpg"
install -m 0644 "$emu_state/ca.pem" "$ct/etc/edgecam/emulator-ca.pem"
# A checkout-like folder with a planted (broken) library: the installed binary must not load it.
out=$(run_ct sh -c 'mkdir -p /tmp/w/lib/onnxruntime && echo planted > /tmp/w/lib/onnxruntime/libonnxruntime.so.1 &&
  touch /tmp/w/go.mod && cd /tmp/w && edgecam detect --model /usr/local/share/edgecam/yolov5n.onnx /usr/local/share/edgecam/bus.jpg 2>&1')
check "the installed binary finds ONNX Runtime in /usr/lib/edgecam, not in the working directory, and detects" \
  bash -c "grep -q bus <<<'$out' && ! grep -q /tmp/w <<<'$out'"
# Edited in place, as with sudoedit: owner and mode stay those of the package.
cat >"$ct/etc/edgecam/config.yaml" <<EOF
model: {path: /usr/local/share/edgecam/yolov5n.onnx}
schedule: {due: 1s, period: 2s}
detection: {scoreThreshold: 0.5, labelsOfInterest: [], labelsMinimum: [bicycle, car, person]}
azure:
  dps: {globalEndpoint: "$dps_addr", idScope: 0ne0000DEMO}
  modelId: "dtmi:com:example:edgecam;1"
  caFile: /etc/edgecam/emulator-ca.pem
state: {dir: /var/lib/edgecam}
cameras:
  - {id: bus-stop, type: file, path: /usr/local/share/edgecam/bus.jpg}
EOF
printf 'EDGECAM_AZURE__DPS__GROUPENROLLMENTKEY=%s\n' "$key" >"$ct/etc/edgecam/secrets.env"
check "config.yaml keeps 0640 root:edgecam after an in-place edit" test "$(stat -c '%a %u:%g' "$ct/etc/edgecam/config.yaml")" = "640 0:$ct_gid"

# ---- 3. boot
leader=""
in_ct() { nsenter -t "$leader" -m -u -i -n -p -- "$@"; }
find_leader() { # the container's PID 1, a child of systemd-nspawn
  leader=""
  for _ in $(seq 1 300); do
    for p in $(pgrep -P "$nspawn_pid"); do
      if [ "$(readlink "/proc/$p/root")" != / ] || grep -q systemd "/proc/$p/comm" 2>/dev/null; then
        leader=$p
      fi
      for c in $(pgrep -P "$p"); do grep -q systemd "/proc/$c/comm" 2>/dev/null && leader=$c; done
    done
    [ -n "$leader" ] && in_ct true 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
wait_booted() {
  find_leader || { echo "no container init found" >&2; return 1; }
  local s
  for _ in $(seq 1 600); do
    s=$(in_ct systemctl is-system-running 2>/dev/null)
    case "$s" in running | degraded) return 0 ;; esac
    sleep 0.1
  done
  echo "container state: $s" >&2
  return 1
}
boot() { # boots the container in the background
  systemd-nspawn -q -D "$ct" -b --register=no --keep-unit --console=read-only systemd.firstboot=off \
    >>"$work/console.log" 2>&1 </dev/null &
  nspawn_pid=$!
}
step "booting the container (systemd-nspawn -b)"
boot
if ! wait_booted; then
  fail "container boots"
  tail -50 "$work/console.log"
  exit 1
fi
pass "container boots under systemd $(in_ct systemctl --version | head -1 | cut -d' ' -f2)"

journal() { in_ct journalctl -q --no-pager -o cat -u edgecam "$@"; }
prop() { in_ct systemctl show -P "$1" edgecam; }
queued() { in_ct sh -c 'find /var/lib/edgecam/queue -type f 2>/dev/null | wc -l'; }
received() { grep -c '"deviceId":"bus-stop"' "$work/telemetry.jsonl" 2>/dev/null; }
wait_for() { # wait_for SECONDS command...: until the command succeeds
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.2
  done
}
diagnose() {
  in_ct systemctl status --no-pager edgecam | tail -20
  journal | tail -30
}

export -f in_ct prop queued received journal
export leader work

check "the package does not enable the service" test "$(in_ct systemctl is-enabled edgecam)" = disabled
check "nor start it" test "$(prop ActiveState)" = inactive

# ---- 4. the service
step "systemctl enable --now edgecam"
check "systemctl enable --now edgecam returns" in_ct systemctl enable --now edgecam
state="$(prop ActiveState) ($(prop SubState))"
if [ "$state" = "active (running)" ]; then pass "edgecam is active (running) through Type=notify"; else fail "edgecam state after enable --now: $state"; diagnose; fi
check "it runs as user edgecam" test "$(in_ct stat -c %U "/proc/$(prop MainPID)")" = edgecam
if wait_for 60 bash -c "grep -q '\"deviceId\":\"bus-stop\".*\"bus\":1' '$work/telemetry.jsonl'"; then
  pass "telemetry reaches the emulator: $(grep -o '"body":{[^}]*}' "$work/telemetry.jsonl" | head -1)"
else
  fail "telemetry reaches the emulator"
  diagnose
fi
check "tick lines log the tally as key=value (tally.bus=1), not Go map text" \
  bash -c "journal | grep -q 'msg=tick .*tally.bus=1' && ! journal | grep -q 'map\['"
check "no 'Warning: using insecure memory!' in the journal" bash -c "! journal | grep -q 'insecure memory'"
score=$(in_ct systemd-analyze security edgecam 2>/dev/null | grep -o 'Overall exposure level for edgecam.service: [0-9.]*' | grep -o '[0-9.]*$')
check "systemd-analyze security edgecam: ${score:-?} (at most 2.5)" awk -v s="${score:-99}" 'BEGIN{exit !(s <= 2.5)}'

# A restart while the hub is unreachable keeps the queued tallies.
step "restart with the hub down"
stop_emulator
wait_for 30 bash -c '[ "$(queued)" -ge 2 ]'
before=$(queued)
in_ct systemctl restart edgecam
after=$(queued)
check "a restart keeps the queue ($before tallies queued before, $after after)" test "$after" -ge "$before" -a "$before" -ge 2
check "active (running) after the restart" test "$(prop SubState)" = running
n0=$(received)
start_emulator "$hub_port" "$dps_port" || exit 1
if wait_for 60 bash -c '[ "$(received)" -ge '"$((n0 + before))"' ]'; then
  pass "the queued tallies are delivered once the hub is back ($(($(received) - n0)) received)"
else
  fail "queued tallies delivered (received $(($(received) - n0)) of at least $before)"
fi

step "systemctl stop"
t0=$(date +%s%N)
in_ct systemctl stop edgecam
ms=$((($(date +%s%N) - t0) / 1000000))
check "systemctl stop within 10 s (${ms} ms)" test "$ms" -lt 10000
check "stopped cleanly (result success)" test "$(prop Result)" = success

# A hung daemon: the watchdog (a drop-in with a short WatchdogSec) kills and restarts it.
step "watchdog: SIGSTOP the daemon"
in_ct mkdir -p /etc/systemd/system/edgecam.service.d
printf '[Service]\nWatchdogSec=4s\nRestartSec=1s\n' | in_ct sh -c 'cat > /etc/systemd/system/edgecam.service.d/watchdog.conf'
in_ct systemctl daemon-reload
in_ct systemctl start edgecam
pid=$(prop MainPID)
restarts=$(prop NRestarts)
in_ct sh -c "kill -STOP $pid"
if wait_for 30 bash -c '[ "$(prop NRestarts)" -gt '"$restarts"' ] && [ "$(prop SubState)" = running ] && [ "$(prop MainPID)" != '"$pid"' ]'; then
  pass "a SIGSTOPped daemon is killed by the watchdog and restarted (new pid $(prop MainPID))"
else
  fail "watchdog restart (state $(prop ActiveState)/$(prop SubState), restarts $(prop NRestarts))"
  diagnose
fi
check "the journal names the watchdog" bash -c "in_ct journalctl -q --no-pager -u edgecam | grep -qi 'watchdog timeout'"
in_ct rm -r /etc/systemd/system/edgecam.service.d
in_ct systemctl daemon-reload

# A reboot with tallies queued keeps them and the DPS assignment.
step "reboot with the hub down"
stop_emulator
wait_for 30 bash -c '[ "$(queued)" -ge 2 ]'
dps_cache=$(in_ct sh -c 'cat /var/lib/edgecam/dps/* 2>/dev/null | sha256sum')
check "the DPS assignment is cached" in_ct sh -c 'ls /var/lib/edgecam/dps/* >/dev/null 2>&1'
in_ct systemctl stop edgecam
before=$(queued)
in_ct systemctl reboot
# systemd-nspawn exits with 133 when the container reboots; systemd-nspawn@.service restarts it
# then (RestartForceExitStatus=133), and so does this test.
wait_for 60 bash -c "! kill -0 $nspawn_pid 2>/dev/null" || { fail "the container shuts down to reboot"; exit 1; }
wait "$nspawn_pid"
rc=$?
nspawn_pid=""
if [ "$rc" -eq 133 ] && boot && wait_booted; then
  pass "the container reboots"
else
  fail "the container reboots"
  exit 1
fi
after=$(queued)
check "the reboot keeps the queued tallies ($before before, $after after)" test "$after" -ge "$before" -a "$before" -ge 1
check "the reboot keeps the DPS cache" test "$(in_ct sh -c 'cat /var/lib/edgecam/dps/* 2>/dev/null | sha256sum')" = "$dps_cache"
check "enabled: the service starts at boot" wait_for 30 bash -c '[ "$(prop SubState)" = running ]'
# With the hub down, the first connection attempt of this boot goes to the cached hub: the daemon
# did not need DPS (a DPS attempt would fail first, with "DPS registration" in the warning).
if wait_for 30 bash -c "journal -b | grep -q 'cannot connect to IoT Hub'"; then
  check "after the reboot the daemon connects to the cached hub, without DPS" bash -c "! journal -b | grep -q 'DPS registration'"
else
  fail "after the reboot the daemon tries the hub (no connection warning in the journal)"
fi
n0=$(received)
start_emulator "$hub_port" "$dps_port" || exit 1
if wait_for 60 bash -c '[ "$(received)" -ge '"$((n0 + before))"' ]'; then
  pass "after the reboot the queued tallies are delivered ($(($(received) - n0)) received)"
else
  fail "queued tallies delivered after the reboot (received $(($(received) - n0)) of at least $before)"
fi

# The key never appears in the journal (all boots) or in the unit's properties.
check "the group key is not in the journal" bash -c "! in_ct journalctl -q --no-pager | grep -qF -- '$key'"
check "the group key is not in systemctl show" bash -c "! in_ct systemctl show edgecam | grep -qF -- '$key'"
check "the group key is not on a command line" bash -c "! in_ct sh -c 'cat /proc/[0-9]*/cmdline 2>/dev/null' | tr '\0' ' ' | grep -qF -- '$key'"

echo "test-system: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
