import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { DeviceResolver, DeviceWaitTimeoutError, InvalidArgumentError } from "./index.js";
import { SysfsFixture } from "./sysfs-fixture.js";
import { hostBlockDevices, linkDevNode, tempDir } from "./test-support/host-devices.js";

const NQN_A = "nqn.2000-02.com.mikrotik:pvc-a";
const NQN_B = "nqn.2000-02.com.mikrotik:pvc-b";
const [D0, D1] = hostBlockDevices(2) as [
  ReturnType<typeof hostBlockDevices>[0],
  ReturnType<typeof hostBlockDevices>[0],
];

function multipathFixture() {
  const root = tempDir();
  const fx = new SysfsFixture(path.join(root, "sys"));
  const devRoot = path.join(root, "dev");
  mkdirSync(devRoot);
  fx.addSubsystem("nvme-subsys0", NQN_A);
  fx.addController("nvme0", { nqn: NQN_A, subsystem: "nvme-subsys0" });
  fx.addController("nvme1", {
    nqn: NQN_A,
    subsystem: "nvme-subsys0",
    state: "connecting",
    address: "traddr=10.0.1.5,trsvcid=4420",
  });
  const head = fx.addHead("nvme-subsys0", "nvme0n1", {
    dev: D0,
    sizeBytes: 4 * 2 ** 30,
    nsid: 1,
    uuid: "u-a",
  });
  fx.addPath("nvme0", "nvme0c0n1");
  fx.addPath("nvme1", "nvme0c1n1");
  linkDevNode(devRoot, "nvme0n1", D0);
  return {
    fx,
    devRoot,
    head,
    resolver: new DeviceResolver({ sysfsRoot: fx.root, devRoot, pollIntervalMs: 50 }),
  };
}

describe("DeviceResolver.resolve", () => {
  it("resolves an NQN to the multipath head with its controllers", async () => {
    const { resolver, devRoot } = multipathFixture();
    const d = await resolver.resolve(NQN_A);
    expect(d).toMatchObject({
      name: "nvme0n1",
      devPath: path.join(devRoot, "nvme0n1"),
      major: D0.major,
      minor: D0.minor,
      sizeBytes: 4 * 2 ** 30,
      subsysnqn: NQN_A,
      kind: "head",
      uuid: "u-a",
    });
    expect(d!.controllers.map((c) => `${c.name}:${c.state}`).sort()).toEqual([
      "nvme0:live",
      "nvme1:connecting",
    ]);
    expect(d!.controllers.find((c) => c.name === "nvme1")!.address).toEqual({
      traddr: "10.0.1.5",
      trsvcid: "4420",
    });
  });

  it("resolves a plain namespace under its controller only", async () => {
    const root = tempDir();
    const fx = new SysfsFixture(path.join(root, "sys"));
    const devRoot = path.join(root, "dev");
    mkdirSync(devRoot);
    fx.addController("nvme3", { nqn: NQN_B });
    fx.addPlain("nvme3", "nvme3n1", { dev: D1, sizeBytes: 512 * 10 });
    linkDevNode(devRoot, "nvme3n1", D1);
    const d = await new DeviceResolver({ sysfsRoot: fx.root, devRoot }).resolve(NQN_B);
    expect(d).toMatchObject({
      name: "nvme3n1",
      kind: "plain",
      sizeBytes: 5120,
      major: D1.major,
      minor: D1.minor,
    });
    expect(d!.controllers.map((c) => c.name)).toEqual(["nvme3"]);
  });

  it("returns undefined when not connected, orphaned, or the /dev node is missing or wrong", async () => {
    const { resolver, devRoot, fx } = multipathFixture();
    expect(await resolver.resolve(NQN_B)).toBeUndefined();
    fx.addSubsystem("nvme-subsys5", NQN_B); // orphan
    expect(await resolver.resolve(NQN_B)).toBeUndefined();

    rmSync(path.join(devRoot, "nvme0n1"));
    expect(await resolver.resolve(NQN_A)).toBeUndefined();
    linkDevNode(devRoot, "nvme0n1", D1); // a block device, but another number
    expect(await resolver.resolve(NQN_A)).toBeUndefined();
    rmSync(path.join(devRoot, "nvme0n1"));
    writeFileSync(path.join(devRoot, "nvme0n1"), "not a device");
    expect(await resolver.resolve(NQN_A)).toBeUndefined();
  });

  it("refuses an empty NQN", async () => {
    const { resolver } = multipathFixture();
    await expect(resolver.resolve("")).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe("DeviceResolver cache", () => {
  it("answers hits by re-validating, and sees size and state changes in place", async () => {
    const { resolver, fx, head } = multipathFixture();
    await resolver.resolve(NQN_A);
    expect(resolver.stats).toMatchObject({ hits: 0, misses: 1 });
    fx.writeAttr(head, "size", String((8 * 2 ** 30) / 512));
    fx.setState("nvme1", "live");
    const d = await resolver.resolve(NQN_A);
    expect(resolver.stats).toMatchObject({ hits: 1, misses: 1 });
    expect(d!.sizeBytes).toBe(8 * 2 ** 30);
    expect(d!.controllers.every((c) => c.state === "live")).toBe(true);
  });

  it("never returns the old number when the same name now has another dev", async () => {
    const { resolver, fx, head, devRoot } = multipathFixture();
    const before = await resolver.resolve(NQN_A);
    expect(before).toMatchObject({ major: D0.major, minor: D0.minor });
    // same directory name, new device number (sysfs first, /dev node still the old one)
    fx.writeAttr(head, "dev", `${D1.major}:${D1.minor}`);
    expect(await resolver.resolve(NQN_A)).toBeUndefined();
    expect(resolver.stats.invalidations).toBe(1);
    // udev catches up: the node now carries the new number too
    linkDevNode(devRoot, "nvme0n1", D1);
    const after = await resolver.resolve(NQN_A);
    expect(after).toMatchObject({ major: D1.major, minor: D1.minor });
  });

  it("drops a hit whose directory now belongs to another subsystem", async () => {
    const { resolver, fx } = multipathFixture();
    await resolver.resolve(NQN_A);
    fx.writeAttr(fx.subsystemDir("nvme-subsys0"), "subsysnqn", NQN_B);
    for (const c of ["nvme0", "nvme1"]) fx.writeAttr(fx.controllerDir(c), "subsysnqn", NQN_B);
    expect(await resolver.resolve(NQN_A)).toBeUndefined();
    expect(await resolver.resolve(NQN_B)).toMatchObject({ name: "nvme0n1" });
  });

  it("follows a renumbered device to its new name", async () => {
    const { resolver, fx, head, devRoot } = multipathFixture();
    await resolver.resolve(NQN_A);
    fx.removeDisk(head, "nvme0n1", D0);
    rmSync(path.join(devRoot, "nvme0n1"));
    fx.addHead("nvme-subsys0", "nvme0n2", { dev: D1, sizeBytes: 2 ** 30 });
    linkDevNode(devRoot, "nvme0n2", D1);
    expect(await resolver.resolve(NQN_A)).toMatchObject({
      name: "nvme0n2",
      major: D1.major,
      minor: D1.minor,
    });
  });
});

describe("DeviceResolver.waitFor", () => {
  it("returns as soon as the device appears", async () => {
    const root = tempDir();
    const fx = new SysfsFixture(path.join(root, "sys"));
    const devRoot = path.join(root, "dev");
    mkdirSync(devRoot);
    const resolver = new DeviceResolver({ sysfsRoot: fx.root, devRoot, pollIntervalMs: 1000 });
    const waiting = resolver.waitFor(NQN_A, { timeoutMs: 20_000 });
    setTimeout(() => {
      fx.addSubsystem("nvme-subsys0", NQN_A);
      fx.addController("nvme0", { nqn: NQN_A, subsystem: "nvme-subsys0" });
      fx.addHead("nvme-subsys0", "nvme0n1", { dev: D0 });
      linkDevNode(devRoot, "nvme0n1", D0);
    }, 150);
    expect(await waiting).toMatchObject({ name: "nvme0n1", major: D0.major });
  });

  it("keeps waiting through a half-written attribute, and names it if it never settles", async () => {
    const { resolver, fx, head } = multipathFixture();
    fx.writeAttr(head, "dev", "259:"); // caught mid-write
    const e = (await resolver
      .waitFor(NQN_A, { timeoutMs: 300 })
      .catch((x: unknown) => x)) as DeviceWaitTimeoutError;
    expect(e).toBeInstanceOf(DeviceWaitTimeoutError);
    expect(e.lastError).toMatch(/unexpected content/);
    const waiting = resolver.waitFor(NQN_A, { timeoutMs: 20_000 });
    setTimeout(() => fx.writeAttr(head, "dev", `${D0.major}:${D0.minor}`), 100);
    expect(await waiting).toMatchObject({ major: D0.major, minor: D0.minor });
  });

  it("rejects with DeviceWaitTimeoutError", async () => {
    const { resolver } = multipathFixture();
    await expect(resolver.waitFor(NQN_B, { timeoutMs: 200 })).rejects.toBeInstanceOf(
      DeviceWaitTimeoutError,
    );
  });

  it("rejects with AbortError when aborted", async () => {
    const { resolver } = multipathFixture();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const e = (await resolver
      .waitFor(NQN_B, { timeoutMs: 20_000, signal: ac.signal })
      .catch((x: unknown) => x)) as Error;
    expect(e.name).toBe("AbortError");
  });

  it("works with polling alone when the roots cannot be watched", async () => {
    const root = tempDir();
    const fx = new SysfsFixture(path.join(root, "sys"));
    const devRoot = path.join(root, "dev-later"); // missing at first: fs.watch fails on it
    const resolver = new DeviceResolver({ sysfsRoot: fx.root, devRoot, pollIntervalMs: 50 });
    rmSync(path.join(fx.root, "class", "block"), { recursive: true });
    const waiting = resolver.waitFor(NQN_A, { timeoutMs: 20_000 });
    setTimeout(() => {
      mkdirSync(devRoot);
      fx.addSubsystem("nvme-subsys0", NQN_A);
      mkdirSync(path.join(fx.root, "class", "block"));
      fx.addHead("nvme-subsys0", "nvme0n1", { dev: D0 });
      linkDevNode(devRoot, "nvme0n1", D0);
    }, 100);
    expect(await waiting).toMatchObject({ name: "nvme0n1" });
  });
});
