// RouterOSBackend through SSH against sim-nvme's simulated RDS: what RouterOS prints becomes
// typed results and typed errors, and values that fail the allow-list never leave the driver.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError, ResourceExhaustedError, RouterOSCommandError } from "../../errors.js";
import { startSimTarget, type SimTarget } from "../../test-support/sim-target.js";
import { RouterOSBackend } from "./backend.js";
import { RouterOSClient } from "./client.js";

const GiB = 1024n ** 3n;
let sim: SimTarget;
let client: RouterOSClient;
let backend: RouterOSBackend;
const sent: string[] = [];

beforeAll(async () => {
  sim = await startSimTarget({ capacityBytes: 8 * 1024 ** 3 });
  client = new RouterOSClient({ ...sim.clientOptions, onCommand: (e) => sent.push(e.verb) });
  backend = new RouterOSBackend(client);
});
afterAll(async () => {
  await backend.close();
  await sim.close();
});

describe("RouterOSBackend over SSH", () => {
  it("creates, reads back (wrapped, digit-grouped output), lists, resizes and removes a disk", async () => {
    await backend.createDisk({ slot: "pvc-b1", filePath: "/storage/csi/pvc-b1.img", sizeBytes: GiB, export: { nqn: "nqn.2000-02.com.mikrotik:pvc-b1", port: 4420 } });
    expect(await backend.getDisk("pvc-b1")).toEqual({
      slot: "pvc-b1",
      filePath: "/storage/csi/pvc-b1.img",
      sizeBytes: GiB,
      export: { nqn: "nqn.2000-02.com.mikrotik:pvc-b1", port: 4420 },
    });
    expect((await backend.listDisks()).map((d) => d.slot)).toEqual(["storage-pool", "storage", "pvc-b1"]);
    await backend.resizeDisk("pvc-b1", 2n * GiB);
    expect((await backend.getDisk("pvc-b1"))?.sizeBytes).toBe(2n * GiB);
    expect(await backend.capacity("/storage/csi")).toEqual({ totalBytes: 8n * GiB, freeBytes: 6n * GiB });
    await backend.removeDisk("pvc-b1");
    await backend.removeFile("/storage/csi/pvc-b1.img");
    expect(await backend.getDisk("pvc-b1")).toBeUndefined();
    // Idempotent removals: "no such item" is success.
    await backend.removeDisk("pvc-b1");
    await backend.removeFile("/storage/csi/pvc-b1.img");
  });

  it("turns RouterOS failures into typed errors carrying stdout and stderr", async () => {
    await backend.createDisk({ slot: "pvc-b2", filePath: "/storage/csi/pvc-b2.img", sizeBytes: GiB });
    const err = await backend.createDisk({ slot: "pvc-b2", filePath: "/storage/csi/pvc-b2-other.img", sizeBytes: GiB }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RouterOSCommandError);
    expect((err as RouterOSCommandError).stdout).toMatch(/already exists/);
    expect((err as RouterOSCommandError).exitCode).toBe(1);
    expect((err as RouterOSCommandError).message).toContain("/disk add");
    await expect(backend.createDisk({ slot: "pvc-b3", filePath: "/storage/csi/pvc-b3.img", sizeBytes: 100n * GiB })).rejects.toBeInstanceOf(ResourceExhaustedError);
    await backend.removeDisk("pvc-b2");
    await backend.removeFile("/storage/csi/pvc-b2.img");
  });

  it("never sends a value that fails the allow-list", async () => {
    const before = sent.length;
    const disks = sim.target.store.list().length;
    for (const slot of ["x; /disk remove [find]", "x\n/system reboot", "$(x)", 'a"b']) {
      await expect(backend.getDisk(slot)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(backend.removeDisk(slot)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(backend.createDisk({ slot, filePath: "/storage/csi/x.img", sizeBytes: GiB })).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    await expect(backend.removeFile("/storage/csi/[find].img")).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(sent.length).toBe(before);
    expect(sim.target.store.list()).toHaveLength(disks);
  });

  it("probe succeeds against a live RDS", async () => {
    await backend.probe();
  });
});
