// Global setup of the privileged tier. Tests here attach real loop devices, which are machine-wide
// (a mount namespace does not contain them). Convention: every file a test backs a loop device
// with lives under a temp dir whose name starts with `rdsnvme-`. After the run, any loop device
// still attached to such a file is detached — and the run fails, because a leak is a bug.
import { execFileSync } from "node:child_process";

const MARK = "/rdsnvme-";

function ourLoopDevices(): { name: string; backFile: string }[] {
  const out = execFileSync("losetup", ["--list", "--json", "--output", "NAME,BACK-FILE"], {
    encoding: "utf8",
    timeout: 10_000,
  });
  if (!out.trim()) return [];
  const parsed = JSON.parse(out) as { loopdevices: { name: string; "back-file": string | null }[] };
  return parsed.loopdevices
    .filter((d) => (d["back-file"] ?? "").includes(MARK))
    .map((d) => ({ name: d.name, backFile: d["back-file"] ?? "" }));
}

// Loop devices that existed before this run belong to someone else (another run on the same
// machine); teardown leaves them alone.
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
  if (leaked.length > 0) {
    throw new Error(
      `tests leaked loop devices (now detached): ${leaked.map((d) => `${d.name} -> ${d.backFile}`).join(", ")}`,
    );
  }
}
