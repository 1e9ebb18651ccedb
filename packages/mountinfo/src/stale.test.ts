import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { StaleChecker } from "./index.js";
import { mountinfoLine } from "./mountinfo-fixture.js";
import { SysfsFixture } from "./sysfs-fixture.js";
import { hostBlockDevices, tempDir } from "./test-support/host-devices.js";

const NQN = "nqn.2000-02.com.mikrotik:pvc-a";
const OTHER = "nqn.2000-02.com.mikrotik:pvc-b";
const STAGING = "/var/lib/kubelet/plugins/kubernetes.io/csi/rds-nvme.csi.dev/abc/globalmount";

function world(mounts: { mountPoint: string; major: number; minor: number }[]) {
  const root = tempDir();
  const fx = new SysfsFixture(path.join(root, "sys"));
  const procRoot = path.join(root, "proc");
  mkdirSync(path.join(procRoot, "self"), { recursive: true });
  const writeMounts = (list: typeof mounts) =>
    writeFileSync(
      path.join(procRoot, "self", "mountinfo"),
      [
        mountinfoLine({
          mountId: 1,
          parentId: 0,
          major: 254,
          minor: 1,
          mountPoint: "/",
          fsType: "ext4",
          source: "/dev/vda1",
        }),
        ...list.map((m, i) =>
          mountinfoLine({
            mountId: 100 + i,
            parentId: 1,
            ...m,
            fsType: "ext4",
            source: "/dev/nvme0n1",
          }),
        ),
      ].join("\n") + "\n",
    );
  writeMounts(mounts);
  return { fx, writeMounts, checker: new StaleChecker({ procRoot, sysfsRoot: fx.root }) };
}

function connected(fx: SysfsFixture, minor: number, state = "live") {
  fx.addSubsystem("nvme-subsys0", NQN);
  fx.addController("nvme0", { nqn: NQN, subsystem: "nvme-subsys0", state });
  fx.addHead("nvme-subsys0", "nvme0n1", { dev: { major: 259, minor } });
  fx.addPath("nvme0", "nvme0c0n1");
}

describe("StaleChecker", () => {
  it("ok when the staging mount is on the device the NQN resolves to and a controller is live", async () => {
    const { fx, checker } = world([{ mountPoint: STAGING, major: 259, minor: 0 }]);
    connected(fx, 0);
    const v = await checker.check(STAGING, NQN);
    expect(v).toMatchObject({
      stale: false,
      reason: "ok",
      mountedDev: { major: 259, minor: 0 },
      currentDev: { major: 259, minor: 0 },
      currentName: "nvme0n1",
      controllerStates: [{ name: "nvme0", state: "live" }],
    });
  });

  it("mount_not_found when nothing is mounted there", async () => {
    const { fx, checker } = world([]);
    connected(fx, 0);
    expect(await checker.check(STAGING, NQN)).toMatchObject({
      stale: true,
      reason: "mount_not_found",
      currentDev: { major: 259, minor: 0 },
    });
  });

  it("device_disappeared when the mounted number is gone and the NQN has no device", async () => {
    const { fx, checker } = world([{ mountPoint: STAGING, major: 259, minor: 0 }]);
    fx.addSubsystem("nvme-subsys0", NQN); // pinned, controller-less subsystem
    const v = await checker.check(STAGING, NQN);
    expect(v).toMatchObject({
      stale: true,
      reason: "device_disappeared",
      mountedDev: { major: 259, minor: 0 },
      currentDev: undefined,
    });
  });

  it("device_mismatch when the NQN now resolves to another number (renumbered after reconnect)", async () => {
    const { fx, checker } = world([{ mountPoint: STAGING, major: 259, minor: 0 }]);
    fx.addSubsystem("nvme-subsys0", NQN);
    fx.addController("nvme2", { nqn: NQN, subsystem: "nvme-subsys0" });
    fx.addHead("nvme-subsys0", "nvme0n2", { dev: { major: 259, minor: 7 } });
    const v = await checker.check(STAGING, NQN);
    expect(v).toMatchObject({
      stale: true,
      reason: "device_mismatch",
      currentDev: { major: 259, minor: 7 },
      currentName: "nvme0n2",
    });
  });

  it("the same PATH name on another device is still a mismatch: numbers are compared, not names", async () => {
    const { fx, checker } = world([{ mountPoint: STAGING, major: 259, minor: 0 }]);
    // our volume came back as nvme0n1 again but with 259:3; 259:0 now belongs to another volume
    connected(fx, 3);
    fx.addSubsystem("nvme-subsys1", OTHER);
    fx.addController("nvme1", { nqn: OTHER, subsystem: "nvme-subsys1" });
    fx.addHead("nvme-subsys1", "nvme1n1", { dev: { major: 259, minor: 0 } });
    const v = await checker.check(STAGING, NQN);
    expect(v.reason).toBe("device_mismatch");
    expect(v.detail).toContain(`now belongs to ${OTHER}`);
  });

  it("a reused number with our NQN gone is device_disappeared", async () => {
    const { fx, checker } = world([{ mountPoint: STAGING, major: 259, minor: 0 }]);
    fx.addSubsystem("nvme-subsys1", OTHER);
    fx.addController("nvme1", { nqn: OTHER, subsystem: "nvme-subsys1" });
    fx.addHead("nvme-subsys1", "nvme1n1", { dev: { major: 259, minor: 0 } });
    expect((await checker.check(STAGING, NQN)).reason).toBe("device_disappeared");
  });

  it("controllers_down when no controller of the subsystem is live", async () => {
    const { fx, checker } = world([{ mountPoint: STAGING, major: 259, minor: 0 }]);
    connected(fx, 0, "connecting");
    fx.addController("nvme1", { nqn: NQN, subsystem: "nvme-subsys0", state: "resetting" });
    const v = await checker.check(STAGING, NQN);
    expect(v).toMatchObject({ stale: true, reason: "controllers_down" });
    expect(v.controllerStates.map((c) => c.state).sort()).toEqual(["connecting", "resetting"]);
  });

  it("one live path of two is enough", async () => {
    const { fx, checker } = world([{ mountPoint: STAGING, major: 259, minor: 0 }]);
    connected(fx, 0, "connecting");
    fx.addController("nvme1", { nqn: NQN, subsystem: "nvme-subsys0", state: "live" });
    expect((await checker.check(STAGING, NQN)).reason).toBe("ok");
  });

  it("looks at the top of an over-mount stack", async () => {
    const { fx, checker } = world([
      { mountPoint: STAGING, major: 259, minor: 0 },
      { mountPoint: STAGING, major: 259, minor: 9 },
    ]);
    connected(fx, 0);
    expect(await checker.check(STAGING, NQN)).toMatchObject({
      reason: "device_mismatch",
      mountedDev: { major: 259, minor: 9 },
    });
  });

  it("checkMany gives one verdict per item, in order, from one snapshot", async () => {
    const mounts = Array.from({ length: 20 }, (_, i) => ({
      mountPoint: `/staging/v${i}`,
      major: 259,
      minor: i,
    }));
    const { fx, checker } = world(mounts);
    for (let i = 0; i < 20; i++) {
      const nqn = `nqn.test:v${i}`;
      fx.addSubsystem(`nvme-subsys${i}`, nqn);
      fx.addController(`nvme${i}`, {
        nqn,
        subsystem: `nvme-subsys${i}`,
        state: i === 5 ? "connecting" : "live",
      });
      fx.addHead(`nvme-subsys${i}`, `nvme${i}n1`, {
        dev: { major: 259, minor: i === 7 ? 100 : i },
      });
    }
    const verdicts = await checker.checkMany(
      mounts.map((m, i) => ({ stagingPath: m.mountPoint, nqn: `nqn.test:v${i}` })),
    );
    expect(verdicts.map((v) => v.reason)).toEqual(
      mounts.map((_, i) => (i === 5 ? "controllers_down" : i === 7 ? "device_mismatch" : "ok")),
    );
    expect(verdicts[3].stagingPath).toBe("/staging/v3");
  });

  it("block volumes: the mounted device is the rdev of the node bound at the staging path", async () => {
    const [d0, d1] = hostBlockDevices(2);
    const root = tempDir();
    const staging = path.join(root, "staging-file");
    symlinkSync(d0.path, staging); // stands in for a device node bound onto a file
    const { fx, checker } = world([{ mountPoint: staging, major: 0, minor: 5 }]);
    fx.addSubsystem("nvme-subsys0", NQN);
    fx.addController("nvme0", { nqn: NQN, subsystem: "nvme-subsys0" });
    const head = fx.addHead("nvme-subsys0", "nvme0n1", { dev: d0 });
    expect(await checker.check(staging, NQN, true)).toMatchObject({
      reason: "ok",
      mountedDev: { major: d0.major, minor: d0.minor },
    });
    fx.writeAttr(head, "dev", `${d1.major}:${d1.minor}`);
    expect((await checker.check(staging, NQN, true)).reason).toBe("device_mismatch");
  });
});
