// A small world for the privileged tests: real loop devices over files in a `rdsnvme-` temp
// dir, a kernel-shaped fake sysfs tree and a dev root whose nodes are mknod'ed with the LOOP
// devices' major:minor (the same trick sim-nvme uses). cleanup() unmounts everything under the
// world's dir, detaches every loop device it attached and removes the dir — also after a
// failed test.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { type DeviceNumber, blockDeviceNumber } from "../devnum.js";
import { runCommand } from "../exec.js";
import { isInside, parseMountinfo } from "../mountinfo.js";
import { SysfsFixture } from "../sysfs-fixture.js";

export interface LoopDevice extends DeviceNumber {
  path: string;
  backingFile: string;
}

export class LoopWorld {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), "rdsnvme-"));
  readonly sysfs = new SysfsFixture(path.join(this.dir, "sys"));
  readonly devRoot = path.join(this.dir, "dev");
  readonly mnt = path.join(this.dir, "mnt");
  private readonly loops: LoopDevice[] = [];

  async init(): Promise<this> {
    await mkdir(this.devRoot, { recursive: true });
    await mkdir(this.mnt, { recursive: true });
    return this;
  }

  /** A sparse backing file of `sizeMiB`. */
  backingFile(name: string, sizeMiB: number): string {
    const f = path.join(this.dir, name);
    closeSync(openSync(f, "w"));
    truncateSync(f, sizeMiB * 1024 * 1024);
    return f;
  }

  async attach(backingFile: string): Promise<LoopDevice> {
    const r = await runCommand(["losetup", "--find", "--show", backingFile], { timeoutMs: 30_000 });
    const p = r.stdout.trim();
    const dev = await blockDeviceNumber(p);
    if (!dev) throw new Error(`losetup gave ${p}, which is not a block device`);
    const loop = { path: p, backingFile, ...dev };
    this.loops.push(loop);
    return loop;
  }

  /**
   * Detach one of our loop devices now (a device that vanishes: not mounted, it is gone at once).
   * It is forgotten, so cleanup never touches the number again — another process may own it next.
   */
  async detach(loop: LoopDevice): Promise<void> {
    await runCommand(["losetup", "--detach", loop.path], { timeoutMs: 30_000 });
    const i = this.loops.indexOf(loop);
    if (i !== -1) this.loops.splice(i, 1);
  }

  /** Grow the backing file and tell the loop device (what a target-side resize looks like). */
  async grow(loop: LoopDevice, sizeMiB: number): Promise<void> {
    truncateSync(loop.backingFile, sizeMiB * 1024 * 1024);
    await runCommand(["losetup", "--set-capacity", loop.path], { timeoutMs: 30_000 });
  }

  /** The loop device's real size in bytes, from the real sysfs. */
  realSize(loop: DeviceNumber): number {
    return (
      Number(readFileSync(`/sys/dev/block/${loop.major}:${loop.minor}/size`, "latin1").trim()) * 512
    );
  }

  /** `<devRoot>/<name>` as a block node carrying `dev`'s number. */
  async mknod(name: string, dev: DeviceNumber): Promise<string> {
    const p = path.join(this.devRoot, name);
    await rm(p, { force: true });
    await runCommand(["mknod", p, "b", String(dev.major), String(dev.minor)], {
      timeoutMs: 10_000,
    });
    return p;
  }

  async cleanup(): Promise<void> {
    // unmount everything under our dir, innermost / latest first; lazy so a leftover holder
    // cannot keep the test run from cleaning up
    for (let round = 0; round < 5; round++) {
      const ours = parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8"))
        .filter((e) => isInside(e.mountPoint, this.dir))
        .reverse();
      if (ours.length === 0) break;
      for (const e of ours) {
        await runCommand(["umount", "-l", e.mountPoint], { timeoutMs: 30_000 }).catch(
          () => undefined,
        );
      }
    }
    for (const l of this.loops.splice(0).reverse()) {
      // Only while it is still backed by our file: a number we released may be someone else's.
      if (!backedBy(l)) continue;
      await runCommand(["losetup", "--detach", l.path], { timeoutMs: 30_000 }).catch(
        () => undefined,
      );
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function backedBy(l: LoopDevice): boolean {
  try {
    const back = readFileSync(
      `/sys/dev/block/${l.major}:${l.minor}/loop/backing_file`,
      "utf8",
    ).trim();
    return back === l.backingFile || back === `${l.backingFile} (deleted)`;
  } catch {
    return false; // detached (no loop/ directory) or gone
  }
}
