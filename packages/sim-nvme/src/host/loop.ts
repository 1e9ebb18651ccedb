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
  /**
   * The device's disk sequence number for THIS attachment (the kernel bumps it on every attach):
   * tells our attachment from a later one of the same number, even to the same file.
   */
  diskseq?: number;
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
      return { path: dev, major, minor, file, diskseq: diskseqOf(dev) };
    } catch (e) {
      lastErr = e;
      await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
    }
  }
  throw lastErr instanceof Error ? lastErr : new Error(String(lastErr));
}

function diskseqOf(dev: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(path.join(sysBlock(dev), "diskseq"), "utf8").trim());
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
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

/**
 * True while `l` is still the attachment we made: same backing file and, when we know it, the
 * same diskseq. A loop device detached behind our back frees its number; whoever attaches it next
 * (another process, or we ourselves for the same file) must never be detached on our behalf.
 */
export function stillOurs(l: LoopDevice): boolean {
  if (!loopAttachedTo(l.path, l.file)) return false;
  return l.diskseq === undefined || diskseqOf(l.path) === l.diskseq;
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
