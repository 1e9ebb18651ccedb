#!/usr/bin/env bash
# Conformance: csi-sanity (kubernetes-csi/csi-test, pinned) against the REAL driver process
# (--mode all: Identity + Controller + Node on one unix socket) on sim-nvme: the simulated RDS
# (RouterOS over SSH, file-backed disks) and the host agent (kernel-shaped sysfs, dev nodes over
# real loop devices, the `nvme` stand-in). Nothing is mocked: the driver connects, formats and
# mounts for real.
#
# usage: scripts/sanity.sh [--access mount|block|both] [--junit-prefix PATH] [--no-build]
#                          [--focus REGEX] [--keep-logs]
#   --access        which csi-sanity runs (default both: mount, then block)
#   --junit-prefix  JUnit reports go to PATH-mount.xml / PATH-block.xml (default reports/sanity);
#                   the logs of a failed run are kept in PATH-logs/
#   --no-build      use the existing dist/ (default: build sim-nvme and the driver with its
#                   dependencies through turbo first, which is cached)
#   --focus         only specs matching REGEX (--ginkgo.focus; for debugging one spec)
#   --keep-logs     keep PATH-logs/ also when everything passed
# Needs root (loop devices, mknod, mount), util-linux, e2fsprogs, Go >= 1.23 if csi-sanity is
# not installed yet. Exit status: 0 only if every spec of every run passed and nothing leaked.
#
# Layout: this script creates one temp dir (rdsnvme-sanity-*: the loop-leak convention), then
# re-runs itself inside ONE private mount namespace (`unshare --mount --propagation private`)
# where it starts sim-nvme and the driver and runs csi-sanity. Every mount made in there dies
# with the namespace. Whatever the inner part leaves (processes, loop devices) the outer part
# cleans up afterwards and counts as a failure.
# shellcheck disable=SC2016,SC2317 # node -e programs are single-quoted; trap handlers are reached
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

CSI_SANITY_VERSION=v5.4.0
CSI_SANITY_MODULE=github.com/kubernetes-csi/csi-test/v5
# Sizes: loop devices back real (sparse) files; 1 GiB and 2 GiB are whole multiples of the
# driver's allocation unit (1 MiB), so CreateVolume/ControllerExpandVolume return them exactly.
TEST_VOLUME_SIZE=1073741824
TEST_VOLUME_EXPAND_SIZE=2147483648
SUITE_TIMEOUT=30m
NODE_ID=sanity-node

access=both
prefix=reports/sanity
build=1
focus=
keep_logs=0
inner_root=
while [ $# -gt 0 ]; do
  case $1 in
    --access) access=$2; shift 2 ;;
    --junit-prefix) prefix=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --focus) focus=$2; shift 2 ;;
    --keep-logs) keep_logs=1; shift ;;
    --inner) inner_root=$2; shift 2 ;; # internal: we are inside the namespace
    -h|--help) sed -n '2,/^# shellcheck/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "sanity: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $access in
  mount) runs=(mount) ;;
  block) runs=(block) ;;
  both) runs=(mount block) ;;
  *) echo "sanity: --access must be mount, block or both" >&2; exit 2 ;;
esac

node_bin=$(command -v node)
sim_cli=$repo/packages/sim-nvme/dist/cli.js
driver_main=$repo/packages/driver/dist/main.js

log() { printf 'sanity: %s\n' "$*" >&2; }

# ----------------------------------------------------------------------------- inner part
# Runs inside the private mount namespace. $inner_root is the temp dir made by the outer part.
inner() {
  # Globals, not locals: the EXIT trap uses them after inner() has returned.
  root=$inner_root logs=$inner_root/logs sim_state=$inner_root/sim
  mkdir -p "$logs"
  driver_pid='' sanity_pid=''
  local failed=0

  stop_driver() {
    [ -n "$driver_pid" ] || return 0
    if kill -0 "$driver_pid" 2>/dev/null; then
      kill -TERM -- "-$driver_pid" 2>/dev/null || true
      for _ in $(seq 1 150); do kill -0 "$driver_pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL -- "-$driver_pid" 2>/dev/null || true
    fi
    wait "$driver_pid" 2>/dev/null || true
    driver_pid=
  }
  inner_cleanup() {
    local rc=$?
    set +e # clean up as much as possible, whatever fails
    trap - EXIT INT TERM PIPE
    [ -z "$sanity_pid" ] || { kill -TERM "$sanity_pid" 2>/dev/null; wait "$sanity_pid" 2>/dev/null; }
    stop_driver
    "$node_bin" "$sim_cli" down --state-dir "$sim_state" >>"$logs/sim-down.log" 2>&1 || log "sim-nvme down failed (see sim-down.log)"
    exit "$rc"
  }
  # Long steps run in the background + `wait`, so that a signal is handled at once.
  trap inner_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 141' PIPE

  # 1. sim-nvme: target (SSH + export port, both ephemeral) and host agent, sysfs/dev under its state dir.
  "$node_bin" "$sim_cli" up --state-dir "$sim_state" --ssh-port 0 --export-port 0 --json >"$root/sim.json" 2>"$logs/sim-up.log" || {
    log "sim-nvme up failed:"; cat "$logs/sim-up.log" >&2; return 1
  }
  # What the driver needs from the sim, as shell assignments (paths and numbers only).
  "$node_bin" -e '
    const s = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    const t = s.target, h = s.host;
    const v = { ssh_host: t.ssh.host, ssh_port: t.ssh.port, ssh_user: t.ssh.user, ssh_key: t.ssh.privateKeyPath,
      ssh_host_key: t.ssh.hostPublicKeyPath, export_port: t.exportPort, nvme_cli: h.nvmeCliPath,
      sysfs_root: h.sysfsRoot, dev_root: h.devRoot };
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined || !/^[A-Za-z0-9_.:\/-]+$/.test(String(x))) throw new Error(`sim.json: bad ${k}: ${x}`);
      console.log(`${k}=${x}`);
    }' "$root/sim.json" >"$root/sim.env" || { log "cannot read $root/sim.json"; return 1; }
  local ssh_host ssh_port ssh_user ssh_key ssh_host_key export_port nvme_cli sysfs_root dev_root
  # shellcheck source=/dev/null
  . "$root/sim.env"
  log "sim-nvme up: ssh $ssh_host:$ssh_port, export port $export_port, nvme stand-in $nvme_cli"

  # 2. the driver, in its own process group so that stopping it stops everything it started.
  # The sim's state dir holds hostnqn/hostid like /etc/nvme does on a real host; Events go to a
  # file (no cluster here).
  local sock=$root/csi.sock
  setsid "$node_bin" "$driver_main" \
    --mode all --endpoint "unix://$sock" --node-id "$NODE_ID" --log-level info \
    --rds-address "$ssh_host" --rds-port "$ssh_port" --rds-user "$ssh_user" \
    --rds-private-key "$ssh_key" --rds-host-key "$ssh_host_key" \
    --nvme-address 127.0.0.1 --nvme-port "$export_port" \
    --nvme-cli "$nvme_cli" --sysfs-root "$sysfs_root" --dev-root "$dev_root" \
    --nvme-config-dir "$sim_state" --state-dir "$root/node-state" \
    --kubeconfig none --events-file "$logs/events.jsonl" \
    --shutdown-grace 10000 \
    >"$logs/driver.log" 2>&1 &
  driver_pid=$!
  echo "$driver_pid" >"$root/driver.pid"
  for _ in $(seq 1 300); do
    [ -S "$sock" ] && break
    kill -0 "$driver_pid" 2>/dev/null || { log "the driver exited at start:"; tail -n 30 "$logs/driver.log" >&2; return 1; }
    sleep 0.1
  done
  [ -S "$sock" ] || { log "the driver did not create $sock within 30 s"; tail -n 30 "$logs/driver.log" >&2; return 1; }
  log "driver up (pid $driver_pid) on unix://$sock"

  # 3. csi-sanity, once per access type. Fresh staging and mount parents per run; csi-sanity
  # creates and removes the dirs themselves around every spec.
  local a rc
  for a in "${runs[@]}"; do
    local dirs=$root/$a
    mkdir -p "$dirs"
    local args=(
      --csi.endpoint "unix://$sock"
      --csi.testvolumeaccesstype "$a"
      --csi.testvolumesize "$TEST_VOLUME_SIZE"
      --csi.testvolumeexpandsize "$TEST_VOLUME_EXPAND_SIZE"
      --csi.mountdir "$dirs/mount"
      --csi.stagingdir "$dirs/staging"
      --ginkgo.junit-report "$root/junit-$a.xml"
      --ginkgo.timeout "$SUITE_TIMEOUT"
      --ginkgo.no-color
    )
    [ -n "$focus" ] && args+=(--ginkgo.focus "$focus")
    log "csi-sanity $CSI_SANITY_VERSION, access type $a"
    rc=0
    timeout --kill-after=30s 35m "$csi_sanity" "${args[@]}" > >(tee "$logs/csi-sanity-$a.log") 2>&1 &
    sanity_pid=$!
    wait "$sanity_pid" || rc=$?
    sanity_pid=
    [ "$rc" -eq 0 ] || { log "csi-sanity ($a) failed (exit $rc)"; failed=1; }
    kill -0 "$driver_pid" 2>/dev/null || { log "the driver died during the $a run"; failed=1; break; }

    # What the suite's cleanup should have undone: mounts under the run's dirs, NVMe connections.
    if grep -F " $dirs/" /proc/self/mountinfo >"$logs/leftover-mounts-$a.txt"; then
      log "mounts left under $dirs after the $a run:"; cat "$logs/leftover-mounts-$a.txt" >&2; failed=1
    fi
  done

  # NVMe connections and RDS disks nobody cleaned up: the suite deletes everything it creates,
  # and the driver must have undone every stage.
  "$node_bin" "$sim_cli" status --state-dir "$sim_state" --json >"$logs/sim-status.json" 2>&1 || true
  if "$node_bin" -e '
      const s = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
      if (!s.host || !s.target) { console.error("sanity: sim-nvme status failed"); process.exit(1); }
      const subs = s.host.subsystems ?? [], disks = s.target.disks ?? [];
      if (subs.length) console.error(`sanity: NVMe subsystems still connected: ${subs.map((x) => x.nqn).join(", ")}`);
      if (disks.length) console.error(`sanity: disks left on the simulated RDS: ${disks.map((d) => d.slot ?? JSON.stringify(d)).join(", ")}`);
      process.exit(subs.length || disks.length ? 1 : 0);
    ' "$logs/sim-status.json"; then :; else failed=1; fi

  # No fault is injected here, so every stale-mount report is a false alarm (a warning for now).
  local stale
  stale=$(grep -c '"reason":"StaleMountDetected"' "$logs/driver.log" || true)
  [ "${stale:-0}" = 0 ] || log "WARNING: the driver reported $stale stale mount(s) although no fault was injected (see driver.log; --keep-logs keeps it)"

  stop_driver
  return "$failed"
}

if [ -n "$inner_root" ]; then
  csi_sanity=$CSI_SANITY_BIN
  rc=0
  inner || rc=$?
  exit "$rc"
fi

# ----------------------------------------------------------------------------- outer part
[ "$(id -u)" = 0 ] || { echo "sanity: needs root (loop devices, mknod, mount)" >&2; exit 1; }
for tool in unshare losetup setsid timeout mkfs.ext4 blkid; do
  command -v "$tool" >/dev/null || { echo "sanity: $tool is missing (util-linux, e2fsprogs)" >&2; exit 1; }
done

# csi-sanity at the pinned version, installed into a versioned cache dir outside the repo.
# `go version -m` tells which module version a binary was built from (checked when Go is there).
cache=${XDG_CACHE_HOME:-$HOME/.cache}/rds-nvme-csi/csi-sanity-$CSI_SANITY_VERSION
export CSI_SANITY_BIN=$cache/csi-sanity
sanity_ok() {
  [ -x "$CSI_SANITY_BIN" ] || return 1
  command -v go >/dev/null || return 0
  go version -m "$CSI_SANITY_BIN" 2>/dev/null | grep -q "mod[[:space:]]*${CSI_SANITY_MODULE}[[:space:]]*${CSI_SANITY_VERSION}[[:space:]]"
}
if ! sanity_ok; then
  command -v go >/dev/null || { echo "sanity: Go >= 1.23 is needed to install csi-sanity $CSI_SANITY_VERSION" >&2; exit 1; }
  log "installing csi-sanity $CSI_SANITY_VERSION into $cache"
  mkdir -p "$cache"
  GOBIN=$cache go install "$CSI_SANITY_MODULE/cmd/csi-sanity@$CSI_SANITY_VERSION"
  sanity_ok || { echo "sanity: $CSI_SANITY_BIN is not csi-sanity $CSI_SANITY_VERSION after go install" >&2; exit 1; }
fi

if [ "$build" = 1 ]; then
  TURBO_TELEMETRY_DISABLED=1 npx turbo run build --filter=@rds-nvme-csi/driver... --filter=@rds-nvme-csi/sim-nvme
fi
for f in "$sim_cli" "$driver_main"; do
  [ -f "$f" ] || { echo "sanity: $f is missing: build first (npm run build)" >&2; exit 1; }
done

mkdir -p "$(dirname "$prefix")"
logs_out=$prefix-logs
rm -rf "$logs_out"
for a in "${runs[@]}"; do rm -f "$prefix-$a.xml"; done
root=$(mktemp -d "${TMPDIR:-/tmp}/rdsnvme-sanity-XXXXXX")
started=$(date +%s)

outer_cleanup() {
  local rc=$?
  set +e # clean up as much as possible, whatever fails
  trap - EXIT INT TERM PIPE
  # The inner part first finishes its own cleanup (it got the same signal, or we forward it).
  if [ -n "$inner_pid" ] && kill -0 "$inner_pid" 2>/dev/null; then
    kill -TERM "$inner_pid" 2>/dev/null
    wait "$inner_pid" 2>/dev/null
  fi
  # csi-sanity and the like, orphaned if the inner part was killed.
  [ -z "$inner_pid" ] || kill -KILL -- "-$inner_pid" 2>/dev/null
  local leaked=0
  # A driver the inner part could not stop (it was killed itself).
  local pid
  pid=$(cat "$root/driver.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q "$driver_main" "/proc/$pid/cmdline" 2>/dev/null; then
    log "driver $pid still running: killing its process group"; kill -KILL -- "-$pid" 2>/dev/null || true; leaked=1
  fi
  # sim-nvme down is idempotent: it stops live sim processes and detaches what its journal lists.
  if [ -d "$root/sim" ]; then
    "$node_bin" "$sim_cli" down --state-dir "$root/sim" --json >"$root/sim-down-outer.json" 2>&1 || true
    if grep -q '"hostStopped": true\|"targetStopped": true' "$root/sim-down-outer.json" 2>/dev/null; then
      log "sim-nvme was still running after the inner part: stopped it"; leaked=1
    fi
  fi
  # Any loop device still backed by a file of this run is a leak.
  local dev
  while read -r dev; do
    [ -n "$dev" ] || continue
    log "loop device leaked: $dev — detaching"; losetup -d "$dev" || true; leaked=1
  done < <(losetup -a 2>/dev/null | grep -F "$root/" | cut -d: -f1)
  for a in "${runs[@]}"; do
    [ -f "$root/junit-$a.xml" ] || { log "$a: no JUnit report"; continue; }
    cp "$root/junit-$a.xml" "$prefix-$a.xml"
    # Ginkgo's counts: `tests` is every spec, `disabled` the pending ones, `skipped` the rest not run.
    "$node_bin" -e '
      const x = require("node:fs").readFileSync(process.argv[1], "utf8");
      const a = /<testsuite\b([^>]*)>/.exec(x)?.[1] ?? "";
      const n = (k) => Number(new RegExp(`\\b${k}="(\\d+)"`).exec(a)?.[1] ?? 0);
      const failed = n("failures") + n("errors"), skipped = n("skipped") + n("disabled");
      console.error(`sanity: ${process.argv[2]}: ${n("tests") - failed - skipped} passed, ${failed} failed, ${skipped} skipped (${n("disabled")} of them pending)`);
    ' "$prefix-$a.xml" "$a"
  done
  [ "$leaked" = 0 ] || rc=1
  if [ "$rc" -ne 0 ] || [ "$keep_logs" = 1 ]; then
    mkdir -p "$logs_out"
    cp -r "$root/logs/." "$logs_out/" 2>/dev/null
    log "logs kept in $logs_out"
  fi
  rm -rf "$root"
  log "done in $(( $(date +%s) - started ))s, exit $rc"
  exit "$rc"
}
inner_pid=
trap outer_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 141' PIPE

inner_args=(--inner "$root" --access "$access" --junit-prefix "$prefix")
[ -n "$focus" ] && inner_args+=(--focus "$focus")
# Its own process group, so that whatever it leaves running (it was killed) can be stopped.
setsid unshare --mount --propagation private -- bash "$0" "${inner_args[@]}" &
inner_pid=$!
wait "$inner_pid"
