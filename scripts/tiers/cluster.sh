#!/usr/bin/env bash
# Tier "cluster": tests against a real Kubernetes control plane (etcd + kube-apiserver +
# kube-controller-manager, built from pinned upstream Go modules, see e2e/README.md) running as
# plain processes on 127.0.0.1. Usage: cluster.sh reports/cluster.xml
#
# Writes vitest's JSON report to the .json twin of $1. If the binaries cannot be built, the
# control plane cannot start or no test ran, it writes a JUnit XML at $1 with a failed test and
# exits non-zero: this tier never passes by not running.
set -uo pipefail
cd "$(dirname "$0")/../.."
xml=$1
json=${xml%.xml}.json
logs=${xml%.xml}-logs
rm -rf "$xml" "$json" "$logs"
started=$(date +%s)

fail() {
  local msg=$1
  echo "CLUSTER TIER FAILED: $msg" >&2
  node -e '
    const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
    const [file, msg] = process.argv.slice(1);
    require("node:fs").writeFileSync(file, `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites><testsuite name="cluster tier" tests="1" failures="1" errors="0" skipped="0"><testcase classname="cluster" name="cluster tier runs"><failure message="${esc(msg)}"/></testcase></testsuite></testsuites>\n`);
  ' "$xml" "$msg"
  exit 1
}

# Safety net: every component and sidecar records its process group here; whatever is still alive
# when this script exits (the harness was killed before it could stop them) is killed.
export RDS_LOCAL_CLUSTER_PID_FILE
RDS_LOCAL_CLUSTER_PID_FILE=$(mktemp -t rds-local-cluster-pids.XXXXXX)
cleanup() {
  while read -r pid; do
    kill -0 -- "-$pid" 2>/dev/null && { echo "killing leftover process group $pid" >&2; kill -KILL -- "-$pid" 2>/dev/null; }
  done < "$RDS_LOCAL_CLUSTER_PID_FILE"
  rm -f "$RDS_LOCAL_CLUSTER_PID_FILE"
}
trap cleanup EXIT

npx tsc -p e2e/local-cluster/tsconfig.build.json || fail "the local control plane harness does not compile"

# As root, the tests run in a private mount namespace (like the int tier): the stale-mount test
# stages and publishes real mounts, and every mount dies with the namespace even on a crash.
# Without root that test fails (it says why); the others still run.
ns=()
[ "$(id -u)" = 0 ] && ns=(unshare --mount --propagation private --)

# `run` starts the control plane (building the binaries on first use), runs vitest with
# RDS_TEST_KUBECONFIG set, and stops the control plane, also when vitest fails or is interrupted.
node e2e/local-cluster/dist/cli.js run --log-dir "$logs" --failure-report "$xml" -- \
  "${ns[@]}" npx vitest run --config vitest.projects.config.ts --project cluster \
  --reporter=default --reporter=json --outputFile.json="$json"
rc=$?

if [ -e "$json" ]; then
  total=$(node -e 'console.log(JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8")).numTotalTests ?? 0)' "$json")
  [ "$total" -gt 0 ] 2>/dev/null || fail "no cluster test ran"
elif [ ! -e "$xml" ]; then
  fail "vitest wrote no report (exit code $rc)"
fi
echo "cluster tier: exit $rc in $(( $(date +%s) - started ))s (component logs: ${logs})"
# Keep the component logs only when something failed.
[ "$rc" -eq 0 ] && rm -rf "$logs"
exit $rc
