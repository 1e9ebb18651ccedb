import { describe, expect, it } from "vitest";
import {
  DeviceResolver,
  Mounter,
  Recoverer,
  RecoveryFailedError,
  DeviceNotFoundError,
} from "./index.js";
import { SysfsFixture } from "./sysfs-fixture.js";
import { tempDir } from "./test-support/host-devices.js";
import * as path from "node:path";

describe("Recoverer (no root: schedule and the no-device path)", () => {
  it("backs off exponentially with bounded jitter and a cap", () => {
    const fixed = (r: number) =>
      new Recoverer({
        mounter: new Mounter(),
        resolver: new DeviceResolver(),
        initialBackoffMs: 100,
        maxBackoffMs: 1000,
        jitter: 0.2,
        random: () => r,
      });
    expect([1, 2, 3, 4, 5].map((n) => fixed(0.5).backoffMs(n))).toEqual([100, 200, 400, 800, 1000]);
    expect(fixed(0).backoffMs(1)).toBe(80);
    expect(fixed(1).backoffMs(3)).toBe(480);
  });

  it("gives up after maxAttempts when the NQN never resolves, naming the last cause", async () => {
    const root = tempDir();
    const fx = new SysfsFixture(path.join(root, "sys"));
    const r = new Recoverer({
      mounter: new Mounter(),
      resolver: new DeviceResolver({ sysfsRoot: fx.root, devRoot: path.join(root, "dev") }),
      maxAttempts: 3,
      initialBackoffMs: 1,
    });
    const e = (await r
      .recoverFilesystem({
        stagingPath: path.join(root, "staging"),
        nqn: "nqn.test:none",
        fsType: "ext4",
      })
      .catch((x: unknown) => x)) as RecoveryFailedError;
    expect(e).toBeInstanceOf(RecoveryFailedError);
    expect(e.attempts).toBe(3);
    expect(e.cause).toBeInstanceOf(DeviceNotFoundError);
  });

  it("stops at once when aborted", async () => {
    const root = tempDir();
    const fx = new SysfsFixture(path.join(root, "sys"));
    const r = new Recoverer({
      mounter: new Mounter(),
      resolver: new DeviceResolver({ sysfsRoot: fx.root, devRoot: path.join(root, "dev") }),
      maxAttempts: 10,
      initialBackoffMs: 60_000,
    });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const e = (await r
      .recoverFilesystem({
        stagingPath: path.join(root, "s"),
        nqn: "nqn.test:none",
        fsType: "ext4",
        signal: ac.signal,
      })
      .catch((x: unknown) => x)) as Error;
    expect(e.name).toBe("AbortError");
  });
});
