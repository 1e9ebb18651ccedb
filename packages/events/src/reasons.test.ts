import { describe, expect, it } from "vitest";
import {
  Reasons,
  connectionFailure,
  connectionRecovered,
  expansionFailed,
  formatDevice,
  formatRefused,
  mountFailure,
  recoveryFailed,
  staleMountDetected,
  staleMountRecovered,
  unmountFailure,
  volumeConditionAbnormal,
  volumeConditionNormal,
  volumeResized,
} from "./reasons.js";

const oldDev = { name: "nvme1n1", major: 259, minor: 3 };
const newDev = { name: "nvme2n1", major: 259, minor: 7 };

describe("reason catalogue", () => {
  it("has the types the issue asks for", () => {
    expect(Reasons.StaleMountDetected.type).toBe("Warning");
    expect(Reasons.StaleMountRecovered.type).toBe("Normal");
    expect(Reasons.RecoveryFailed.type).toBe("Warning");
    expect(Reasons.MountFailure.type).toBe("Warning");
    expect(Reasons.ConnectionFailure.type).toBe("Warning");
    expect(Reasons.ConnectionRecovered.type).toBe("Normal");
    expect(Reasons.VolumeConditionAbnormal.type).toBe("Warning");
    for (const [name, entry] of Object.entries(Reasons)) expect(entry.reason).toBe(name);
  });

  it("formats devices as name (major:minor)", () => {
    expect(formatDevice(oldDev)).toBe("nvme1n1 (259:3)");
    expect(formatDevice(undefined)).toBe("none");
  });

  it("staleMountDetected names volume, node, cause and both devices", () => {
    const e = staleMountDetected({
      volumeId: "pvc-1",
      node: "node-a",
      cause: "device_mismatch",
      mountedDevice: oldDev,
      currentDevice: newDev,
      controllerStates: ["nvme0 live"],
    });
    expect(e).toEqual({
      type: "Warning",
      reason: "StaleMountDetected",
      message:
        "Stale mount of volume pvc-1 on node node-a: the NVMe device was renumbered (device_mismatch); mounted device nvme1n1 (259:3), current device nvme2n1 (259:7); controllers: nvme0 live",
    });
    expect(
      staleMountDetected({
        volumeId: "v",
        node: "n",
        cause: "device_disappeared",
        mountedDevice: oldDev,
      }).message,
    ).toContain("current device none");
  });

  it("staleMountRecovered carries devices, attempts and targets", () => {
    const e = staleMountRecovered({
      volumeId: "pvc-1",
      node: "node-a",
      oldDevice: oldDev,
      newDevice: newDev,
      attempts: 2,
      targets: 3,
      durationMs: 812.4,
    });
    expect(e.type).toBe("Normal");
    expect(e.message).toBe(
      "Recovered stale mount of volume pvc-1 on node node-a: remounted from nvme1n1 (259:3) to nvme2n1 (259:7), 3 publish target(s) re-bound after 2 attempt(s) in 812 ms",
    );
  });

  it("failure messages carry attempts and the error text", () => {
    expect(
      recoveryFailed({
        volumeId: "pvc-1",
        node: "node-a",
        attempts: 5,
        error: new Error("umount: target is busy"),
        oldDevice: oldDev,
      }).message,
    ).toBe(
      "Could not recover stale mount of volume pvc-1 on node node-a after 5 attempt(s) (mounted device nvme1n1 (259:3), current device none): umount: target is busy",
    );
    expect(
      connectionFailure({
        volumeId: "pvc-1",
        node: "node-a",
        nqn: "nqn.x:pvc-1",
        address: "127.0.0.1:4420",
        attempts: 3,
        error: "timed out",
      }).message,
    ).toBe(
      "NVMe/TCP connection for volume pvc-1 (nqn.x:pvc-1 at 127.0.0.1:4420) from node node-a failed after 3 attempt(s): timed out",
    );
    expect(
      mountFailure({
        volumeId: "pvc-1",
        node: "node-a",
        target: "/stage",
        device: newDev,
        error: new Error("wrong fs type"),
      }).message,
    ).toBe(
      "Mounting volume pvc-1 at /stage from nvme2n1 (259:7) on node node-a failed: wrong fs type",
    );
    expect(
      unmountFailure({ volumeId: "v", node: "n", target: "/t", error: "busy" }).message,
    ).toContain("/t on node n failed: busy");
    expect(
      expansionFailed({
        volumeId: "v",
        node: "n",
        device: newDev,
        requestedBytes: 10n,
        error: "resize2fs failed",
      }).message,
    ).toBe(
      "Expanding the filesystem of volume v on nvme2n1 (259:7) to 10 bytes on node n failed: resize2fs failed",
    );
  });

  it("the remaining helpers build their reason with the right type", () => {
    const specs = [
      connectionRecovered({
        volumeId: "v",
        node: "n",
        nqn: "q",
        address: "a",
        device: newDev,
        attempts: 2,
      }),
      volumeConditionAbnormal({ volumeId: "v", node: "n", message: "device gone" }),
      volumeConditionNormal({ volumeId: "v", node: "n" }),
      volumeResized({ volumeId: "v", node: "n", oldBytes: 1n, newBytes: 2n }),
      formatRefused({ volumeId: "v", node: "n", device: newDev, found: "xfs signature" }),
    ];
    expect(specs.map((s) => [s.reason, s.type])).toEqual([
      ["ConnectionRecovered", "Normal"],
      ["VolumeConditionAbnormal", "Warning"],
      ["VolumeConditionNormal", "Normal"],
      ["VolumeResized", "Normal"],
      ["FormatRefused", "Warning"],
    ]);
    expect(specs[0]?.message).toBe(
      "NVMe/TCP connection for volume v (q at a) from node n is live again, device nvme2n1 (259:7) after 2 attempt(s)",
    );
    expect(specs[3]?.message).toBe("Filesystem of volume v on node n resized from 1 to 2 bytes");
  });
});
