// Privileged: real loop devices, mkfs, mount, bind, resize. Runs inside `unshare --mount
// --propagation private`, so no mount escapes; loop devices are detached in afterEach.
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  CommandFailedError,
  DeviceResolver,
  FormatRefusedError,
  MountBusyError,
  Mounter,
} from "./index.js";
import { type LoopDevice, LoopWorld } from "./test-support/loop-world.js";

const NQN = "nqn.2000-02.com.mikrotik:pvc-int-mounter";
const CAP_SYS_RESOURCE = 24;

function hasCapability(bit: number): boolean {
  const line = readFileSync("/proc/self/status", "utf8")
    .split("\n")
    .find((l) => l.startsWith("CapEff:"));
  return ((BigInt(`0x${line?.split(/\s+/)[1] ?? "0"}`) >> BigInt(bit)) & 1n) === 1n;
}

let world: LoopWorld;
let mounter: Mounter;
const children: ReturnType<typeof spawn>[] = [];

beforeEach(async () => {
  world = await new LoopWorld().init();
  mounter = new Mounter();
});

afterEach(async () => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
  await world.cleanup();
});

/** A namespace nvme0n1 of NQN backed by a loop device, visible through the fake sysfs + dev root. */
async function connectedVolume(
  sizeMiB: number,
): Promise<{ loop: LoopDevice; devPath: string; head: string }> {
  const loop = await world.attach(world.backingFile("vol.img", sizeMiB));
  world.sysfs.addSubsystem("nvme-subsys0", NQN);
  world.sysfs.addController("nvme0", { nqn: NQN, subsystem: "nvme-subsys0" });
  const head = world.sysfs.addHead("nvme-subsys0", "nvme0n1", {
    dev: loop,
    sizeBytes: world.realSize(loop),
    nsid: 1,
  });
  world.sysfs.addPath("nvme0", "nvme0c0n1");
  const devPath = await world.mknod("nvme0n1", loop);
  return { loop, devPath, head };
}

describe("Mounter on real loop devices", () => {
  it("resolves, formats ext4, mounts, binds (rw and ro), reports stats and mount points", async () => {
    const { devPath, loop } = await connectedVolume(64);
    const resolver = new DeviceResolver({ sysfsRoot: world.sysfs.root, devRoot: world.devRoot });
    const dev = await resolver.resolve(NQN);
    expect(dev).toMatchObject({
      devPath,
      major: loop.major,
      minor: loop.minor,
      sizeBytes: 64 * 2 ** 20,
    });

    await mounter.format(dev!.devPath, "ext4");
    expect((await mounter.probe(dev!.devPath))?.type).toBe("ext4");

    const staging = path.join(world.mnt, "staging");
    await mounter.mount(dev!.devPath, staging, "ext4", ["noatime"]);
    const table = await mounter.mountTable();
    const entry = table.byMountPoint(staging)!;
    expect(entry).toMatchObject({ major: loop.major, minor: loop.minor, fsType: "ext4" });
    expect(entry.mountOptions).toContain("noatime");
    expect(await mounter.isMountPoint(staging)).toBe(true);

    const rw = path.join(world.mnt, "pods", "a b", "mount");
    const ro = path.join(world.mnt, "pods", "ro", "mount");
    await mounter.bindMount(staging, rw);
    await mounter.bindMount(staging, ro, { readonly: true });
    writeFileSync(path.join(rw, "hello.txt"), "through the bind");
    expect(readFileSync(path.join(staging, "hello.txt"), "utf8")).toBe("through the bind");
    expect(() => writeFileSync(path.join(ro, "nope.txt"), "x")).toThrow(/EROFS|read-only/);
    const t2 = await mounter.mountTable();
    expect(
      t2
        .bindMountsOf(t2.byMountPoint(staging)!)
        .map((e) => e.mountPoint)
        .sort(),
    ).toEqual([rw, ro].sort());
    expect(t2.byMountPoint(ro)!.mountOptions).toContain("ro");

    const s = await mounter.statfs(rw);
    expect(s.totalBytes).toBeGreaterThan(40 * 2 ** 20);
    expect(s.totalBytes).toBeLessThanOrEqual(64 * 2 ** 20);
    expect(s.totalInodes).toBeGreaterThan(0);
    expect(s.usedInodes).toBeGreaterThanOrEqual(12);
    expect(await mounter.blockDeviceSize(devPath)).toBe(64 * 2 ** 20);

    for (const p of [rw, ro, staging]) expect(await mounter.unmount(p)).toEqual({ how: "normal" });
    expect(await mounter.unmount(staging)).toEqual({ how: "not_mounted" });
    expect(await mounter.isMountPoint(staging)).toBe(false);
  });

  it("format refuses a device that already has a filesystem, and keeps its data", async () => {
    const { devPath } = await connectedVolume(32);
    await mounter.format(devPath, "ext4");
    const staging = path.join(world.mnt, "s");
    await mounter.mount(devPath, staging, "ext4");
    writeFileSync(path.join(staging, "data"), "precious");
    await mounter.unmount(staging);

    const e = (await mounter.format(devPath, "xfs").catch((x: unknown) => x)) as FormatRefusedError;
    expect(e).toBeInstanceOf(FormatRefusedError);
    expect(e.existingType).toBe("ext4");
    await mounter.mount(devPath, staging, "ext4");
    expect(readFileSync(path.join(staging, "data"), "utf8")).toBe("precious");
  });

  for (const fsType of ["ext4", "xfs"] as const) {
    it(`resizes ${fsType} after the backing file grows (losetup --set-capacity)`, async () => {
      const { devPath, loop, head } = await connectedVolume(320);
      await mounter.format(devPath, fsType);
      const staging = path.join(world.mnt, "staging");
      await mounter.mount(devPath, staging, fsType);
      const before = await mounter.statfs(staging);

      await world.grow(loop, 640);
      world.sysfs.writeAttr(head, "size", String(world.realSize(loop) / 512)); // what the kernel would show
      expect(await mounter.blockDeviceSize(devPath)).toBe(640 * 2 ** 20);
      const resolver = new DeviceResolver({ sysfsRoot: world.sysfs.root, devRoot: world.devRoot });
      expect((await resolver.resolve(NQN))?.sizeBytes).toBe(640 * 2 ** 20);

      if (fsType === "ext4" && !hasCapability(CAP_SYS_RESOURCE)) {
        // ext4 online resize (EXT4_IOC_RESIZE_FS) needs CAP_SYS_RESOURCE in the initial user
        // namespace; containers often drop it. Then the failure must surface, typed, with the
        // tool's reason — and the filesystem must be untouched.
        const e = (await mounter
          .resize(devPath, staging, fsType)
          .catch((x: unknown) => x)) as CommandFailedError;
        expect(e).toBeInstanceOf(CommandFailedError);
        expect(e.message).toMatch(/Permission denied to resize/);
        expect((await mounter.statfs(staging)).totalBytes).toBe(before.totalBytes);
        return;
      }
      await mounter.resize(devPath, staging, fsType);
      const after = await mounter.statfs(staging);
      expect(after.totalBytes).toBeGreaterThan(before.totalBytes + 250 * 2 ** 20);
    });
  }

  it("applies bind mount options (nosuid,nodev) through the remount; ro wins over an rw option", async () => {
    const { devPath } = await connectedVolume(32);
    await mounter.format(devPath, "ext4");
    const staging = path.join(world.mnt, "opts-staging");
    await mounter.mount(devPath, staging, "ext4");
    const flagged = path.join(world.mnt, "pods", "flagged", "mount");
    const roFlagged = path.join(world.mnt, "pods", "ro-flagged", "mount");
    await mounter.bindMount(staging, flagged, { mountOptions: ["nosuid", "nodev"] });
    await mounter.bindMount(staging, roFlagged, { readonly: true, mountOptions: ["rw", "noexec"] });

    const table = await mounter.mountTable();
    const optsOf = (p: string) => table.byMountPoint(p)!.mountOptions;
    // the staging mount itself is untouched: options are per mount point
    expect(optsOf(staging)).not.toContain("nosuid");
    expect(optsOf(staging)).not.toContain("nodev");
    expect(optsOf(flagged)).toEqual(expect.arrayContaining(["rw", "nosuid", "nodev"]));
    expect(optsOf(roFlagged)).toEqual(expect.arrayContaining(["ro", "noexec"]));
    expect(optsOf(roFlagged)).not.toContain("rw");
    writeFileSync(path.join(flagged, "f.txt"), "writable");
    expect(() => writeFileSync(path.join(roFlagged, "g.txt"), "x")).toThrow(/EROFS|read-only/);

    for (const p of [flagged, roFlagged, staging])
      expect(await mounter.unmount(p)).toEqual({ how: "normal" });
  });

  it("binds a block device node onto a file (raw block volume)", async () => {
    const { devPath, loop } = await connectedVolume(16);
    const target = path.join(world.mnt, "pods", "blk", "dev");
    await mounter.bindMount(devPath, target);
    const fd = openSync(target, "r+");
    writeFileSync(fd, Buffer.from("raw block bytes"));
    closeSync(fd);
    expect(readFileSync(loop.path).subarray(0, 15).toString()).toBe("raw block bytes");
    expect(await mounter.isMountPoint(target)).toBe(true);
    expect(await mounter.unmount(target)).toEqual({ how: "normal" });
  });

  it("unmount of a busy mount gives MountBusyError naming the holder, and leaves it mounted", async () => {
    const { devPath } = await connectedVolume(32);
    await mounter.format(devPath, "ext4");
    const staging = path.join(world.mnt, "busy");
    await mounter.mount(devPath, staging, "ext4");
    const child = spawn("sleep", ["60"], { cwd: staging, stdio: "ignore" });
    children.push(child);
    await new Promise((r) => child.once("spawn", r));

    const e = (await mounter.unmount(staging).catch((x: unknown) => x)) as MountBusyError;
    expect(e).toBeInstanceOf(MountBusyError);
    expect(e.holders).toContainEqual(
      expect.objectContaining({ kind: "process", pid: child.pid, command: "sleep" }),
    );
    expect(e.message).toContain(`pid ${child.pid}`);
    expect(await mounter.isMountPoint(staging)).toBe(true);

    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expect(await mounter.unmount(staging)).toEqual({ how: "normal" });
  });

  it("escalates to a lazy unmount when only our own mounts hold it", async () => {
    const { devPath } = await connectedVolume(32);
    await mounter.format(devPath, "ext4");
    const staging = path.join(world.mnt, "staging");
    await mounter.mount(devPath, staging, "ext4");
    const inner = path.join(staging, "inner");
    await mounter.mount("/none", inner, "tmpfs"); // a submount: normal umount says EBUSY

    const e = (await mounter.unmount(staging).catch((x: unknown) => x)) as MountBusyError;
    expect(e).toBeInstanceOf(MountBusyError);
    expect(e.holders).toEqual([{ kind: "mount", path: inner }]);

    expect(await mounter.unmount(staging, { ownMounts: [inner] })).toEqual({ how: "lazy" });
    expect(await mounter.isMountPoint(staging)).toBe(false);
  });
});
