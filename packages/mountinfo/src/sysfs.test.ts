import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { SysfsFormatError, readNvmeSysfs } from "./index.js";
import { SysfsFixture } from "./sysfs-fixture.js";
import { tempDir } from "./test-support/host-devices.js";

const NQN_A = "nqn.2000-02.com.mikrotik:pvc-a";
const NQN_B = "nqn.2000-02.com.mikrotik:pvc-b";

describe("readNvmeSysfs", () => {
  it("single path without a head: plain nvme<C>n<H> under the controller", () => {
    const fx = new SysfsFixture(tempDir());
    fx.addSubsystem("nvme-subsys0", NQN_A);
    fx.addController("nvme0", { nqn: NQN_A, subsystem: "nvme-subsys0", cntlid: 7 });
    fx.addPlain("nvme0", "nvme0n1", {
      dev: { major: 259, minor: 0 },
      sizeBytes: 2 ** 30,
      nsid: 1,
      uuid: "u-1",
      wwid: "uuid.u-1",
    });
    const m = readNvmeSysfs(fx.root);
    expect(m.controllers).toHaveLength(1);
    expect(m.controllers[0]).toMatchObject({
      name: "nvme0",
      subsysnqn: NQN_A,
      state: "live",
      transport: "tcp",
      cntlid: 7,
      address: { traddr: "127.0.0.1", trsvcid: "4420", src_addr: "127.0.0.1" },
    });
    expect(m.namespacesFor(NQN_A)).toEqual([
      expect.objectContaining({
        name: "nvme0n1",
        kind: "plain",
        major: 259,
        minor: 0,
        sizeBytes: 2 ** 30,
        nsid: 1,
        uuid: "u-1",
        wwid: "uuid.u-1",
      }),
    ]);
    expect(m.subsystems[0]).toMatchObject({
      name: "nvme-subsys0",
      iopolicy: "numa",
      controllerNames: ["nvme0"],
      namespaces: [],
    });
  });

  it("native multipath with two paths: the head is the device, hidden paths never are", () => {
    const fx = new SysfsFixture(tempDir());
    fx.addSubsystem("nvme-subsys0", NQN_A, "round-robin");
    fx.addController("nvme0", { nqn: NQN_A, subsystem: "nvme-subsys0", cntlid: 1 });
    fx.addController("nvme1", {
      nqn: NQN_A,
      subsystem: "nvme-subsys0",
      cntlid: 2,
      address: "traddr=10.0.1.5,trsvcid=4420",
      state: "connecting",
    });
    fx.addHead("nvme-subsys0", "nvme0n1", {
      dev: { major: 259, minor: 4 },
      sizeBytes: 2 * 2 ** 30,
      nsid: 1,
    });
    fx.addPath("nvme0", "nvme0c0n1");
    fx.addPath("nvme1", "nvme0c1n1");
    const m = readNvmeSysfs(fx.root);
    const ns = m.namespacesFor(NQN_A);
    expect(ns.map((n) => [n.name, n.kind, `${n.major}:${n.minor}`])).toEqual([
      ["nvme0n1", "head", "259:4"],
    ]);
    expect(m.controllers.flatMap((c) => c.paths.map((p) => p.name)).sort()).toEqual([
      "nvme0c0n1",
      "nvme0c1n1",
    ]);
    expect(
      m
        .controllersFor(NQN_A)
        .map((c) => c.state)
        .sort(),
    ).toEqual(["connecting", "live"]);
    expect(m.subsystems[0].iopolicy).toBe("round-robin");
    expect(m.subsystems[0].controllerNames.sort()).toEqual(["nvme0", "nvme1"]);
    expect(m.namespaceByDevice(259, 4)?.name).toBe("nvme0n1");
  });

  it("an orphaned subsystem is listed but has no namespace", () => {
    const fx = new SysfsFixture(tempDir());
    fx.addSubsystem("nvme-subsys3", NQN_B);
    const m = readNvmeSysfs(fx.root);
    expect(m.subsystemsFor(NQN_B)).toHaveLength(1);
    expect(m.namespacesFor(NQN_B)).toEqual([]);
    expect(m.isOrphaned(NQN_B)).toBe(true);
    expect(m.isOrphaned(NQN_A)).toBe(false); // not listed at all
  });

  it("reports connecting, resetting and deleting controllers as they are", () => {
    const fx = new SysfsFixture(tempDir());
    fx.addSubsystem("nvme-subsys0", NQN_A);
    for (const [i, state] of [
      "connecting",
      "resetting",
      "deleting",
      "deleting (no IO)",
    ].entries()) {
      fx.addController(`nvme${i}`, { nqn: NQN_A, subsystem: "nvme-subsys0", state });
    }
    fx.addHead("nvme-subsys0", "nvme0n1", { dev: { major: 259, minor: 0 } });
    const m = readNvmeSysfs(fx.root);
    expect(
      m
        .controllersFor(NQN_A)
        .map((c) => c.state)
        .sort(),
    ).toEqual(["connecting", "deleting", "deleting (no IO)", "resetting"]);
    // src_addr only while live
    expect(m.controllersFor(NQN_A).every((c) => c.address.src_addr === undefined)).toBe(true);
  });

  it("a renumbered controller: names move, identity follows subsysnqn and the device number", () => {
    const fx = new SysfsFixture(tempDir());
    // before: nvme0 / head nvme0n1 = 259:0
    fx.addSubsystem("nvme-subsys0", NQN_A);
    fx.addController("nvme0", { nqn: NQN_A, subsystem: "nvme-subsys0" });
    const head = fx.addHead("nvme-subsys0", "nvme0n1", { dev: { major: 259, minor: 0 } });
    fx.addPath("nvme0", "nvme0c0n1");
    // after ctrl_loss_tmo: nvme0 deleted, old head unlinked (pinned by a mount, invisible);
    // reconnect gives controller nvme2 and the next head instance nvme0n2 with a new number.
    fx.removeController("nvme0", "nvme-subsys0");
    fx.removeDisk(head, "nvme0n1", { major: 259, minor: 0 });
    fx.addController("nvme2", { nqn: NQN_A, subsystem: "nvme-subsys0" });
    fx.addHead("nvme-subsys0", "nvme0n2", { dev: { major: 259, minor: 7 } });
    fx.addPath("nvme2", "nvme0c2n2");
    // meanwhile an unrelated subsystem got the old name pattern
    fx.addSubsystem("nvme-subsys1", NQN_B);
    fx.addController("nvme1", { nqn: NQN_B, subsystem: "nvme-subsys1" });
    fx.addHead("nvme-subsys1", "nvme1n1", { dev: { major: 259, minor: 0 } });
    const m = readNvmeSysfs(fx.root);
    expect(m.namespacesFor(NQN_A).map((n) => `${n.name}=${n.major}:${n.minor}`)).toEqual([
      "nvme0n2=259:7",
    ]);
    expect(m.namespaceByDevice(259, 0)?.subsysnqn).toBe(NQN_B);
    expect(m.controllersFor(NQN_A).map((c) => c.name)).toEqual(["nvme2"]);
  });

  it("trims newlines, trailing padding and NUL padding from attributes", () => {
    const fx = new SysfsFixture(tempDir());
    const sub = fx.addSubsystem("nvme-subsys0", NQN_A);
    writeFileSync(path.join(sub, "subsysnqn"), `${NQN_A}    \n`);
    const ctl = fx.addController("nvme0", { nqn: NQN_A, subsystem: "nvme-subsys0" });
    writeFileSync(path.join(ctl, "subsysnqn"), `${NQN_A}\n${"\0".repeat(100)}`);
    fx.addHead("nvme-subsys0", "nvme0n1", { dev: { major: 259, minor: 1 } });
    const m = readNvmeSysfs(fx.root);
    expect(m.subsystems[0].subsysnqn).toBe(NQN_A);
    expect(m.controllers[0].subsysnqn).toBe(NQN_A);
    expect(m.namespacesFor(NQN_A)).toHaveLength(1);
  });

  it("ignores ng generic devices and picks the lowest NSID first", () => {
    const fx = new SysfsFixture(tempDir());
    fx.addSubsystem("nvme-subsys0", NQN_A);
    fx.addController("nvme0", { nqn: NQN_A, subsystem: "nvme-subsys0" });
    fx.addHead("nvme-subsys0", "nvme0n2", { dev: { major: 259, minor: 2 }, nsid: 1 });
    fx.addHead("nvme-subsys0", "nvme0n1", { dev: { major: 259, minor: 1 }, nsid: 2 });
    fx.addHead("nvme-subsys0", "ng0n1", { dev: { major: 240, minor: 1 }, nsid: 2 });
    const m = readNvmeSysfs(fx.root);
    expect(m.namespacesFor(NQN_A).map((n) => n.name)).toEqual(["nvme0n2", "nvme0n1"]);
  });

  it("a malformed dev attribute is a typed error, not a wrong number", () => {
    const fx = new SysfsFixture(tempDir());
    fx.addSubsystem("nvme-subsys0", NQN_A);
    const head = fx.addHead("nvme-subsys0", "nvme0n1", { dev: { major: 259, minor: 1 } });
    fx.writeAttr(head, "dev", "259-1");
    expect(() => readNvmeSysfs(fx.root)).toThrow(SysfsFormatError);
  });

  it("an empty or missing sysfs root is an empty model", () => {
    const m = readNvmeSysfs(path.join(tempDir(), "none"));
    expect(m.subsystems).toEqual([]);
    expect(m.controllers).toEqual([]);
  });
});
