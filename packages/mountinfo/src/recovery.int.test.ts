// Privileged: the signature path. A volume's NQN is re-pointed to a SECOND loop device on the
// same backing file (what a renumbering reconnect looks like: same data, new major:minor, new
// name). The stale checker must see it by device number, and the recoverer must move the
// staging mount and every publish target onto the new device so the same data is served.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DeviceNotFoundError,
  DeviceResolver,
  MountBusyError,
  Mounter,
  Recoverer,
  RecoveryFailedError,
  StaleChecker,
} from "./index.js";
import { type LoopDevice, LoopWorld } from "./test-support/loop-world.js";

const NQN = "nqn.2000-02.com.mikrotik:pvc-int-recovery";

let world: LoopWorld;
let mounter: Mounter;
let resolver: DeviceResolver;
let checker: StaleChecker;
const children: ReturnType<typeof spawn>[] = [];

beforeEach(async () => {
  world = await new LoopWorld().init();
  mounter = new Mounter();
  resolver = new DeviceResolver({ sysfsRoot: world.sysfs.root, devRoot: world.devRoot });
  checker = new StaleChecker({ sysfsRoot: world.sysfs.root });
});

afterEach(async () => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
  await world.cleanup();
});

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Connected as nvme0 / head nvme0n1 on loop A. */
async function connect(): Promise<{ a: LoopDevice; head: string; backing: string }> {
  const backing = world.backingFile("vol.img", 64);
  const a = await world.attach(backing);
  world.sysfs.addSubsystem("nvme-subsys0", NQN);
  world.sysfs.addController("nvme0", { nqn: NQN, subsystem: "nvme-subsys0" });
  const head = world.sysfs.addHead("nvme-subsys0", "nvme0n1", {
    dev: a,
    sizeBytes: world.realSize(a),
  });
  world.sysfs.addPath("nvme0", "nvme0c0n1");
  await world.mknod("nvme0n1", a);
  return { a, head, backing };
}

/**
 * ctrl_loss_tmo expired while the old head was pinned: nvme0 and nvme0n1 vanish, a reconnect
 * gives controller nvme1 and head nvme0n2 — here loop B on the same backing file.
 */
async function renumber(head: string, a: LoopDevice, backing: string): Promise<LoopDevice> {
  const b = await world.attach(backing);
  world.sysfs.removeController("nvme0", "nvme-subsys0");
  world.sysfs.removeDisk(head, "nvme0n1", a);
  rmSync(path.join(world.devRoot, "nvme0n1"));
  world.sysfs.addController("nvme1", { nqn: NQN, subsystem: "nvme-subsys0" });
  world.sysfs.addHead("nvme-subsys0", "nvme0n2", { dev: b, sizeBytes: world.realSize(b) });
  world.sysfs.addPath("nvme1", "nvme0c1n2");
  await world.mknod("nvme0n2", b);
  return b;
}

/**
 * The device the NQN points to vanishes again before it was used: loop B is detached while
 * nothing has it open, so it is gone at once, while sysfs and the dev node still claim it (what a
 * flapping controller looks like — and what a stray `losetup --detach` did to sim-nvme's device
 * in a smoke run). Then a reconnect brings nvme0n3 on loop C.
 */
async function renumberAgain(b: LoopDevice, backing: string): Promise<LoopDevice> {
  const c = await world.attach(backing);
  world.sysfs.removeController("nvme1", "nvme-subsys0");
  world.sysfs.removeDisk(
    path.join(world.sysfs.subsystemDir("nvme-subsys0"), "nvme0n2"),
    "nvme0n2",
    b,
  );
  rmSync(path.join(world.devRoot, "nvme0n2"));
  world.sysfs.addController("nvme2", { nqn: NQN, subsystem: "nvme-subsys0" });
  world.sysfs.addHead("nvme-subsys0", "nvme0n3", { dev: c, sizeBytes: world.realSize(c) });
  world.sysfs.addPath("nvme2", "nvme0c2n3");
  await world.mknod("nvme0n3", c);
  return c;
}

describe("stale detection and recovery on real loop devices", () => {
  it("filesystem volume: detects the renumbering and re-binds every publish target to the same data", async () => {
    const { a, head, backing } = await connect();
    const dev = (await resolver.resolve(NQN))!;
    await mounter.format(dev.devPath, "ext4");
    const staging = path.join(world.mnt, "globalmount");
    await mounter.mount(dev.devPath, staging, "ext4", ["noatime"]);
    const podRw = path.join(world.mnt, "pods", "rw", "mount");
    const podRo = path.join(world.mnt, "pods", "ro", "mount");
    await mounter.bindMount(staging, podRw, { mountOptions: ["nosuid", "nodev"] });
    await mounter.bindMount(staging, podRo, { readonly: true });

    const payload = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251));
    writeFileSync(path.join(podRw, "data.bin"), payload);
    const before = sha256(readFileSync(path.join(podRo, "data.bin")));
    expect(before).toBe(sha256(payload));
    expect(await checker.check(staging, NQN)).toMatchObject({ stale: false, reason: "ok" });

    const b = await renumber(head, a, backing);
    const verdict = await checker.check(staging, NQN);
    expect(verdict).toMatchObject({
      stale: true,
      reason: "device_mismatch",
      mountedDev: { major: a.major, minor: a.minor },
      currentDev: { major: b.major, minor: b.minor },
      currentName: "nvme0n2",
    });

    const recoverer = new Recoverer({ mounter, resolver, initialBackoffMs: 50 });
    const result = await recoverer.recoverFilesystem({ stagingPath: staging, nqn: NQN });
    expect(result.attempts).toBe(1);
    expect(result.remountedStaging).toBe(true);
    expect(result.previousDevice).toEqual({ major: a.major, minor: a.minor });
    expect(result.device).toMatchObject({ name: "nvme0n2", major: b.major, minor: b.minor });
    expect(result.rebound.map((t) => [t.target, t.readonly]).sort()).toEqual(
      [
        [podRo, true],
        [podRw, false],
      ].sort(),
    );

    const table = await mounter.mountTable();
    for (const p of [staging, podRw, podRo]) {
      expect(table.byMountPoint(p)).toMatchObject({ major: b.major, minor: b.minor });
    }
    expect(table.byDevice(a.major, a.minor)).toEqual([]);
    expect(table.byMountPoint(staging)!.mountOptions).toContain("noatime");
    // the flags the publish applied to one target survive the re-bind, and stay on that target
    expect(table.byMountPoint(podRw)!.mountOptions).toEqual(expect.arrayContaining(["nosuid", "nodev"]));
    expect(table.byMountPoint(podRo)!.mountOptions).not.toContain("nosuid");
    expect(sha256(readFileSync(path.join(podRw, "data.bin")))).toBe(before);
    expect(sha256(readFileSync(path.join(podRo, "data.bin")))).toBe(before);
    expect(() => writeFileSync(path.join(podRo, "x"), "x")).toThrow(/EROFS|read-only/);
    writeFileSync(path.join(podRw, "after.txt"), "written after recovery");
    expect(readFileSync(path.join(staging, "after.txt"), "utf8")).toBe("written after recovery");
    expect(await checker.check(staging, NQN)).toMatchObject({ stale: false, reason: "ok" });
  });

  it("a current device that is gone again leaves every stale mount in place; a later one is used", async () => {
    const { a, head, backing } = await connect();
    const dev = (await resolver.resolve(NQN))!;
    await mounter.format(dev.devPath, "ext4");
    const staging = path.join(world.mnt, "globalmount");
    await mounter.mount(dev.devPath, staging, "ext4");
    const podRw = path.join(world.mnt, "pods", "rw", "mount");
    const podRo = path.join(world.mnt, "pods", "ro", "mount");
    await mounter.bindMount(staging, podRw);
    await mounter.bindMount(staging, podRo, { readonly: true });
    writeFileSync(path.join(podRw, "probe.txt"), "written before");

    const b = await renumber(head, a, backing);
    await world.detach(b); // sysfs and /dev still say nvme0n2 is b: mounting it fails
    const recoverer = new Recoverer({ mounter, resolver, maxAttempts: 2, initialBackoffMs: 1 });
    const e = (await recoverer
      .recoverFilesystem({ stagingPath: staging, nqn: NQN })
      .catch((x: unknown) => x)) as RecoveryFailedError;
    expect(e).toBeInstanceOf(RecoveryFailedError);
    // Still the old filesystem everywhere: stale, but the pods' paths are not empty directories
    // on the node's disk.
    let table = await mounter.mountTable();
    for (const p of [staging, podRw, podRo]) {
      expect(table.byMountPoint(p)).toMatchObject({ major: a.major, minor: a.minor });
    }
    expect(readFileSync(path.join(podRo, "probe.txt"), "utf8")).toBe("written before");

    // and it says why: the device was checked before anything was unmounted
    expect(e.attempts).toBe(2);
    expect(e.cause).toBeInstanceOf(DeviceNotFoundError);
    expect(e.message).toContain("nvme0n2");

    // The next device works: the same recoverer (a later monitor attempt) moves everything.
    const c = await renumberAgain(b, backing);
    const result = await recoverer.recoverFilesystem({ stagingPath: staging, nqn: NQN });
    expect(result.device).toMatchObject({ name: "nvme0n3", major: c.major, minor: c.minor });
    expect(result.previousDevice).toEqual({ major: a.major, minor: a.minor });
    table = await mounter.mountTable();
    for (const p of [staging, podRw, podRo]) {
      expect(table.byMountPoint(p)).toMatchObject({ major: c.major, minor: c.minor });
    }
    expect(table.byDevice(a.major, a.minor)).toEqual([]);
    expect(readFileSync(path.join(podRo, "probe.txt"), "utf8")).toBe("written before");
    expect(() => writeFileSync(path.join(podRo, "x"), "x")).toThrow(/EROFS|read-only/);
  });

  it("recovers a bind of a subdirectory to the same subdirectory", async () => {
    const { a, head, backing } = await connect();
    const dev = (await resolver.resolve(NQN))!;
    await mounter.format(dev.devPath, "ext4");
    const staging = path.join(world.mnt, "globalmount");
    await mounter.mount(dev.devPath, staging, "ext4");
    const sub = path.join(staging, "sub");
    mkdirSync(sub);
    writeFileSync(path.join(sub, "inner.txt"), "inside sub");
    const target = path.join(world.mnt, "pods", "sub", "mount");
    await mounter.bindMount(sub, target);

    await renumber(head, a, backing);
    const result = await new Recoverer({ mounter, resolver }).recoverFilesystem({
      stagingPath: staging,
      nqn: NQN,
    });
    expect(result.rebound).toMatchObject([{ target, readonly: false, subPath: "sub" }]);
    expect(readFileSync(path.join(target, "inner.txt"), "utf8")).toBe("inside sub");
  });

  it("peels a stack of stale mounts at the staging path", async () => {
    const { a, head, backing } = await connect();
    const dev = (await resolver.resolve(NQN))!;
    await mounter.format(dev.devPath, "ext4");
    const staging = path.join(world.mnt, "globalmount");
    await mounter.mount(dev.devPath, staging, "ext4");
    await mounter.bindMount(staging, staging); // a second mount of the old device on top
    expect((await mounter.mountTable()).allAt(staging)).toHaveLength(2);

    const b = await renumber(head, a, backing);
    const result = await new Recoverer({ mounter, resolver }).recoverFilesystem({
      stagingPath: staging,
      nqn: NQN,
    });
    expect(result.remountedStaging).toBe(true);
    const table = await mounter.mountTable();
    expect(table.allAt(staging).map((e) => `${e.major}:${e.minor}`)).toEqual([
      `${b.major}:${b.minor}`,
    ]);
    expect(table.byDevice(a.major, a.minor)).toEqual([]);
  });

  it("block volume: re-binds the new device node onto each target file", async () => {
    const { a, head, backing } = await connect();
    const dev = (await resolver.resolve(NQN))!;
    const target = path.join(world.mnt, "pods", "blk", "volumeDevices", "dev");
    await mounter.bindMount(dev.devPath, target);
    const fd = openSync(target, "r+");
    writeFileSync(fd, Buffer.from("block payload"));
    closeSync(fd);

    const b = await renumber(head, a, backing);
    expect((await checker.check(target, NQN, true)).reason).toBe("device_mismatch");
    const result = await new Recoverer({ mounter, resolver }).recoverBlock({
      nqn: NQN,
      oldDevice: a,
      discoverUnder: path.join(world.mnt, "pods"),
    });
    expect(result.rebound).toMatchObject([{ target, readonly: false, subPath: "" }]);
    expect(await checker.check(target, NQN, true)).toMatchObject({
      reason: "ok",
      mountedDev: { major: b.major, minor: b.minor },
    });
    const buf = Buffer.alloc(13);
    const rfd = openSync(target, "r");
    readSync(rfd, buf, 0, 13, 0);
    closeSync(rfd);
    expect(buf.toString()).toBe("block payload");
  });

  it("block volume: a current device that is gone again leaves the target on the old device", async () => {
    const { a, head, backing } = await connect();
    const dev = (await resolver.resolve(NQN))!;
    const target = path.join(world.mnt, "pods", "blk", "volumeDevices", "dev");
    await mounter.bindMount(dev.devPath, target);

    const b = await renumber(head, a, backing);
    await world.detach(b); // sysfs and /dev still say nvme0n2 is b, but it reads nothing
    const e = (await new Recoverer({ mounter, resolver, maxAttempts: 1 })
      .recoverBlock({ nqn: NQN, oldDevice: a, targets: [target] })
      .catch((x: unknown) => x)) as RecoveryFailedError;
    expect(e).toBeInstanceOf(RecoveryFailedError);
    expect(e.cause).toBeInstanceOf(DeviceNotFoundError);
    // the pod's device file still reaches the (stale) old device, not a dead node
    expect(await checker.check(target, NQN, true)).toMatchObject({
      mountedDev: { major: a.major, minor: a.minor },
    });
  });

  it("refuses when a process holds the stale filesystem, naming it, before tearing anything down", async () => {
    const { a, head, backing } = await connect();
    const dev = (await resolver.resolve(NQN))!;
    await mounter.format(dev.devPath, "ext4");
    const staging = path.join(world.mnt, "globalmount");
    await mounter.mount(dev.devPath, staging, "ext4");
    const idle = path.join(world.mnt, "pods", "idle", "mount");
    const busy = path.join(world.mnt, "pods", "busy", "mount");
    await mounter.bindMount(staging, idle);
    await mounter.bindMount(staging, busy);
    const child = spawn("sleep", ["60"], { cwd: busy, stdio: "ignore" });
    children.push(child);
    await new Promise((r) => child.once("spawn", r));

    await renumber(head, a, backing);
    const e = (await new Recoverer({ mounter, resolver, maxAttempts: 3, initialBackoffMs: 10 })
      .recoverFilesystem({ stagingPath: staging, nqn: NQN })
      .catch((x: unknown) => x)) as RecoveryFailedError;
    expect(e).toBeInstanceOf(RecoveryFailedError);
    expect(e.attempts).toBe(1); // in use: no point retrying
    expect(e.cause).toBeInstanceOf(MountBusyError);
    expect((e.cause as MountBusyError).holders).toContainEqual(
      expect.objectContaining({ kind: "process", pid: child.pid, command: "sleep" }),
    );
    // nothing was torn down, whichever target happens to come first
    const table = await mounter.mountTable();
    for (const p of [staging, idle, busy]) {
      expect(table.byMountPoint(p)).toMatchObject({ major: a.major, minor: a.minor });
    }
  });
});
