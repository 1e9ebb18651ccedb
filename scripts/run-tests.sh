#!/usr/bin/env bash
# The whole test run (README: `npm ci && npm test`). Tiers, in order:
#   1. build (turbo)             4. conformance: csi-sanity, mount and block   (added by the sanity issue)
#   2. unit   (no root)          5. cluster: local control plane               (added by the control-plane issue)
#   3. int    (root, real loop devices and mounts, inside `unshare -m`)
# Every tier writes a report under reports/; scripts/summarize.mjs adds them up and prints the
# closing line `N passed, N failed`. A tier that cannot run is a failure, never a silent skip.
set -uo pipefail
cd "$(dirname "$0")/.."
export NO_COLOR=1 TURBO_TELEMETRY_DISABLED=1 FORCE_COLOR=0
rm -rf reports && mkdir -p reports
failed_tiers=()

# Generated code must match the proto: regenerate and compare (when this is a git checkout).
npx turbo run generate || { echo "generate failed"; exit 1; }
if git rev-parse --git-dir >/dev/null 2>&1 && ! git diff --quiet -- packages/driver/src/gen; then
  git --no-pager diff --stat -- packages/driver/src/gen
  echo "generated code differs from packages/driver/proto: run npm run generate and commit"; exit 1
fi

npx turbo run build || { echo "build failed"; exit 1; }

vitest_tier() { # name, then the command prefix (e.g. unshare) if any
  local name=$1; shift
  "$@" npx vitest run --config vitest.projects.config.ts --project "$name" \
    --reporter=default --reporter=json --outputFile.json="reports/$name.json" || failed_tiers+=("$name")
}

vitest_tier unit

if [ "$(id -u)" = 0 ]; then
  # A private mount namespace: every mount the tests make dies with it, even on a crash. A
  # per-run TMPDIR lets the global teardown find exactly this run's loop devices (and leave
  # anyone else's alone); a leak it finds fails the tier.
  run_tmp=$(mktemp -d /tmp/rdsnvme-run-XXXXXX)
  TMPDIR=$run_tmp RDS_LEAK_REPORT=$PWD/reports/int-leaks.txt \
    vitest_tier int unshare --mount --propagation private --
  if [ -s reports/int-leaks.txt ]; then
    echo "the int tier leaked loop devices (detached now):"; cat reports/int-leaks.txt
    failed_tiers+=("int (leaked loop devices)")
  fi
  rm -rf "$run_tmp"
else
  echo "PRIVILEGED TIER NOT RUN: it needs root (real loop devices, mknod, mount). Run as root."
  failed_tiers+=("int (not root)")
fi

for tier in scripts/tiers/*.sh; do
  [ -e "$tier" ] || continue
  name=$(basename "$tier" .sh)
  echo "=== tier $name"
  bash "$tier" "reports/$name.xml" || failed_tiers+=("$name")
done

node scripts/summarize.mjs reports
summary_rc=$?
if [ ${#failed_tiers[@]} -gt 0 ]; then
  echo "failed tiers: ${failed_tiers[*]}" >&2
  exit 1
fi
exit $summary_rc
