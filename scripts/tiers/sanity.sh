#!/usr/bin/env bash
# Tier "sanity": csi-sanity conformance, access type mount and then block, against the real
# driver on sim-nvme with real loop devices (scripts/sanity.sh). Usage: sanity.sh reports/sanity.xml
#
# csi-sanity writes one JUnit report per run, next to $1: reports/sanity-mount.xml and
# reports/sanity-block.xml (Ginkgo's format: `tests` counts every spec, runtime-skipped specs are
# `skipped`, the pending XIt is `disabled`; scripts/summarize.mjs counts both as skipped). $1
# itself is written only when the runner failed in a way those reports do not show (no report,
# a crash, leaked mounts, connections or loop devices): one failed test naming the reason. This
# tier never passes by not running. The build already happened (scripts/run-tests.sh).
# shellcheck disable=SC2016 # node -e programs are single-quoted
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
xml=$1
prefix=${xml%.xml}
rm -f "$xml" "$prefix-mount.xml" "$prefix-block.xml"

fail_xml() {
  node -e '
    const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
    const [file, msg] = process.argv.slice(1);
    require("node:fs").writeFileSync(file, `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites><testsuite name="sanity tier" tests="1" failures="1" errors="0" skipped="0"><testcase classname="sanity" name="csi-sanity runner"><failure message="${esc(msg)}"/></testcase></testsuite></testsuites>\n`);
  ' "$xml" "$1"
}

if [ "$(id -u)" != 0 ]; then
  echo "SANITY TIER NOT RUN: it needs root (loop devices, mknod, mount)" >&2
  fail_xml "not run: needs root"
  exit 1
fi

bash scripts/sanity.sh --no-build --access both --junit-prefix "$prefix"
rc=$?

# Did both runs report, and do the reports show the failure the exit code announces?
missing=()
for a in mount block; do [ -s "$prefix-$a.xml" ] || missing+=("$a"); done
failures=$(node -e '
  let n = 0;
  for (const f of process.argv.slice(1)) {
    try {
      const x = require("node:fs").readFileSync(f, "utf8");
      for (const m of x.matchAll(/<testsuite\b([^>]*)>/g)) {
        for (const k of ["failures", "errors"]) n += Number(new RegExp(`\\b${k}="(\\d+)"`).exec(m[1])?.[1] ?? 0);
      }
    } catch {}
  }
  console.log(n);
' "$prefix-mount.xml" "$prefix-block.xml")
if [ ${#missing[@]} -gt 0 ]; then
  fail_xml "no JUnit report from csi-sanity for: ${missing[*]} (runner exit $rc; logs in $prefix-logs)"
  [ "$rc" -ne 0 ] || rc=1
elif [ "$rc" -ne 0 ] && [ "$failures" = 0 ]; then
  fail_xml "runner exit $rc although no spec failed: a crash or a leak (mount, NVMe connection, loop device, process); logs in $prefix-logs"
fi
exit $rc
