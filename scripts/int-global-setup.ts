// Global setup of the privileged tier. Tests here attach real loop devices, which are machine-wide
// (a mount namespace does not contain them). Convention: every file a test backs a loop device
// with lives under a temp dir whose name starts with `rdsnvme-`. scripts/run-tests.sh points
// TMPDIR at a fresh `rdsnvme-run-*` dir for this tier, so "ours" means "backed by a file under
// this run's TMPDIR" and a concurrent run on the same machine is never touched.
// After the run, any loop device still attached to such a file is detached and reported in the
// file named by RDS_LEAK_REPORT: vitest only logs an error thrown from a global teardown and still
// exits 0, so run-tests.sh reads that file and fails the tier.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";

// The run's own TMPDIR when run-tests.sh set one; otherwise any `rdsnvme-` temp dir, minus the
// devices that already existed when the run started.
const runDir = process.env.TMPDIR?.includes("/rdsnvme-run-") ? `${tmpdir()}/` : undefined;
const MARK = "/rdsnvme-";

function ourLoopDevices(): { name: string; backFile: string }[] {
  const out = execFileSync("losetup", ["--list", "--json", "--output", "NAME,BACK-FILE"], {
    encoding: "utf8",
    timeout: 10_000,
  });
  if (!out.trim()) return [];
  const parsed = JSON.parse(out) as { loopdevices: { name: string; "back-file": string | null }[] };
  return parsed.loopdevices
    .map((d) => ({ name: d.name, backFile: d["back-file"] ?? "" }))
    .filter((d) => (runDir ? d.backFile.startsWith(runDir) : d.backFile.includes(MARK)));
}

let preexisting = new Set<string>();

export function setup(): void {
  if (process.getuid?.() !== 0) {
    throw new Error("the privileged tier (*.int.test.ts) needs root: real loop devices, mknod and mount");
  }
  preexisting = new Set(ourLoopDevices().map((d) => `${d.name} ${d.backFile}`));
}

export function teardown(): void {
  const leaked = ourLoopDevices().filter((d) => !preexisting.has(`${d.name} ${d.backFile}`));
  for (const dev of leaked) {
    try {
      execFileSync("losetup", ["--detach", dev.name], { timeout: 10_000 });
    } catch {
      // reported below either way
    }
  }
  if (leaked.length === 0) return;
  const text = leaked.map((d) => `${d.name} -> ${d.backFile}`).join("\n");
  if (process.env.RDS_LEAK_REPORT) writeFileSync(process.env.RDS_LEAK_REPORT, `${text}\n`);
  throw new Error(`tests leaked loop devices (now detached):\n${text}`);
}
