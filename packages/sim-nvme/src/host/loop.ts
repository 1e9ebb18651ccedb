// Real loop devices, driven through losetup/blockdev (argv, timeouts).
import fs from "node:fs";
import path from "node:path";
import { run } from "../exec.js";

export interface LoopDevice {
  /** `/dev/loop7` */
  path: string;
  major: number;
  minor: number;
  /** Backing file the loop was attached to. */
  file: string;
}

const TIMEOUT_MS = 15_000;

function sysBlock(dev: string): string {
  return path.join("/sys/block", path.basename(dev));
}

export async function attachLoop(file: string): Promise<LoopDevice> {
  let lastErr: unknown;
  // `--find` can race with other processes grabbing the same free device: retry a few times.
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      const { stdout } = await run(
        ["losetup", "--find", "--show", "--direct-io=off", file],
        TIMEOUT_MS,
      );
      const dev = stdout.trim();
      const [major, minor] = fs
        .readFileSync(path.join(sysBlock(dev), "dev"), "utf8")
        .trim()
        .split(":")
        .map(Number);
      if (
        major === undefined ||
        minor === undefined ||
        Number.isNaN(major) ||
        Number.isNaN(minor)
      ) {
        throw new Error(`cannot read the device number of ${dev}`);
      }
      await setReadWrite(dev);
      return { path: dev, major, minor, file };
    } catch (e) {
      lastErr = e;
      await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
    }
  }
  throw lastErr instanceof Error ? lastErr : new Error(String(lastErr));
}

/** True while `dev` is still attached to `file` (a loop number can be reused for another file). */
export function loopAttachedTo(dev: string, file: string): boolean {
  try {
    const back = fs.readFileSync(path.join(sysBlock(dev), "loop", "backing_file"), "utf8").trim();
    return back === file || back === `${file} (deleted)`;
  } catch {
    return false;
  }
}

export async function setLoopCapacity(dev: string): Promise<void> {
  await run(["losetup", "--set-capacity", dev], TIMEOUT_MS);
}

/** Clears a read-only flag a previous user may have left on the loop device (BLKROSET persists). */
export async function setReadWrite(dev: string): Promise<void> {
  await run(["blockdev", "--setrw", dev], TIMEOUT_MS);
}

/** Detaches; a mounted loop device is only marked autoclear and goes when the last user goes. */
export async function detachLoop(dev: string): Promise<void> {
  await run(["losetup", "--detach", dev], TIMEOUT_MS);
}

export async function mknodBlock(nodePath: string, major: number, minor: number): Promise<void> {
  const tmp = path.join(path.dirname(nodePath), `.${path.basename(nodePath)}.tmp`);
  fs.rmSync(tmp, { force: true });
  await run(["mknod", "-m", "0660", tmp, "b", String(major), String(minor)], TIMEOUT_MS);
  fs.renameSync(tmp, nodePath); // appears atomically
}

/** Mount points (deepest first) whose source is major:minor, from /proc/self/mountinfo. */
export function mountsOf(major: number, minor: number): string[] {
  const out: string[] = [];
  for (const line of fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = line.split(" ");
    if (f[2] === `${String(major)}:${String(minor)}` && f[4])
      out.push(f[4].replace(/\\(\d{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out.sort((a, b) => b.length - a.length);
}

export async function unmountAll(major: number, minor: number): Promise<void> {
  for (const mp of mountsOf(major, minor)) {
    try {
      await run(["umount", mp], TIMEOUT_MS);
    } catch {
      await run(["umount", "--lazy", mp], TIMEOUT_MS).catch(() => undefined);
    }
  }
}
