// The Controller service over the real RouterOS backend: RouterOSClient → SSH → sim-nvme's
// simulated RDS (in this process, no root). The same code path as production; only the RDS is
// simulated. (The controller as its own process over its unix socket: controller.process.test.ts.)
import fs from "node:fs";
import path from "node:path";
import { status } from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RouterOSBackend } from "./backend/routeros/backend.js";
import { RouterOSClient } from "./backend/routeros/client.js";
import { createControllerService, CONTROLLER_CAPABILITIES } from "./controller.js";
import { toGrpcStatus } from "./errors.js";
import {
  type CapacityRange,
  type CreateVolumeRequest,
  type VolumeCapability,
  VolumeCapability_AccessMode_Mode as Mode,
} from "./gen/csi.js";
import { testContext } from "./test-support/rpc-context.js";
import { startSimTarget, type SimTarget } from "./test-support/sim-target.js";

const MiB = 1024n * 1024n;
const GiB = 1024n * MiB;
const POOL = "/storage/csi";

const ctx = testContext("Controller");

const mount: VolumeCapability = { accessType: { $case: "mount", value: { fsType: "ext4", mountFlags: [], volumeMountGroup: "" } }, accessMode: { mode: Mode.SINGLE_NODE_WRITER } };
const block: VolumeCapability = { accessType: { $case: "block", value: {} }, accessMode: { mode: Mode.SINGLE_NODE_WRITER } };

function createReq(name: string, range?: Partial<CapacityRange>, extra: Partial<CreateVolumeRequest> = {}): CreateVolumeRequest {
  return {
    name,
    capacityRange: range ? { requiredBytes: 0n, limitBytes: 0n, ...range } : undefined,
    volumeCapabilities: [mount],
    parameters: {},
    secrets: {},
    mutableParameters: {},
    ...extra,
  };
}

/** Status code of a rejected call (fails the test if the call succeeds). */
async function codeOf(p: Promise<unknown>): Promise<status> {
  try {
    await p;
  } catch (err) {
    return toGrpcStatus(err).code;
  }
  throw new Error("call succeeded; a failure was expected");
}

let sim: SimTarget;
let client: RouterOSClient;
let commandsSent: string[];
let svc: ReturnType<typeof createControllerService>;

function controller() {
  return createControllerService({ backend: new RouterOSBackend(client), poolDir: POOL, nvmeAddress: "127.0.0.1", nvmePort: sim.target.exportPort });
}

beforeAll(async () => {
  sim = await startSimTarget({ capacityBytes: 64 * 1024 ** 3 });
});
beforeEach(() => {
  commandsSent = [];
  client = new RouterOSClient({ ...sim.clientOptions, acquireTimeoutMs: 2_000, backoffMs: 50, maxBackoffMs: 200, onCommand: (e) => commandsSent.push(e.verb) });
  svc = controller();
});
afterEach(async () => {
  // Leave an empty pool for the next test.
  for (const d of sim.target.store.list()) {
    await sim.target.interpreter.run(`/disk remove [find slot="${d.slot}"]`);
    await sim.target.interpreter.run(`/file remove [find name="${d.filePath.slice(1)}"]`);
  }
  await client.close();
  if (!sim.target.status().up) await sim.target.up();
});
afterAll(async () => {
  await sim.close();
});

describe("CreateVolume", () => {
  it("creates an exported disk, returns the actual size and the volume context", async () => {
    const res = await svc.createVolume!(
      createReq("pvc-0c1e2d3f-aaaa-bbbb-cccc-0123456789ab", { requiredBytes: GiB }, {
        parameters: { "csi.storage.k8s.io/pvc/name": "data", "csi.storage.k8s.io/pvc/namespace": "apps", "other/param": "x" },
      }),
      ctx,
    );
    const id = "pvc-0c1e2d3f-aaaa-bbbb-cccc-0123456789ab";
    expect(res.volume).toMatchObject({
      volumeId: id,
      capacityBytes: GiB,
      volumeContext: {
        nqn: `nqn.2000-02.com.mikrotik:${id}`,
        nvmeAddress: "127.0.0.1",
        nvmePort: String(sim.target.exportPort),
        "csi.storage.k8s.io/pvc/name": "data",
        "csi.storage.k8s.io/pvc/namespace": "apps",
      },
    });
    expect(res.volume?.volumeContext).not.toHaveProperty("other/param");
    const disk = sim.target.store.bySlot(id);
    expect(disk).toMatchObject({ filePath: `${POOL}/${id}.img`, fileSize: Number(GiB), nvmeTcpExport: true, nvmeTcpServerNqn: `nqn.2000-02.com.mikrotik:${id}` });
  });

  it("is idempotent by name: same request → same volume, one disk", async () => {
    const a = await svc.createVolume!(createReq("idem", { requiredBytes: GiB }), ctx);
    const b = await svc.createVolume!(createReq("idem", { requiredBytes: GiB }), ctx);
    expect(b).toEqual(a);
    expect(sim.target.store.list()).toHaveLength(1);
  });

  it("rounds sizes UP to whole MiB and answers a retry with the same actual size (no truncation)", async () => {
    const odd = GiB + GiB / 2n + 1n; // 1.5 GiB + 1 byte
    const a = await svc.createVolume!(createReq("odd", { requiredBytes: odd }), ctx);
    expect(a.volume?.capacityBytes).toBe(GiB + GiB / 2n + MiB);
    const b = await svc.createVolume!(createReq("odd", { requiredBytes: odd }), ctx);
    expect(b.volume?.capacityBytes).toBe(a.volume?.capacityBytes);
  });

  it("gives exactly the size when required == limit, and AlreadyExists for the same name with another size", async () => {
    const a = await svc.createVolume!(createReq("exact", { requiredBytes: 10n * GiB, limitBytes: 10n * GiB }), ctx);
    expect(a.volume?.capacityBytes).toBe(10n * GiB);
    expect(await codeOf(svc.createVolume!(createReq("exact", { requiredBytes: 20n * GiB, limitBytes: 20n * GiB }), ctx))).toBe(status.ALREADY_EXISTS);
  });

  it("maps 128-character and Unicode names to valid IDs", async () => {
    for (const name of ["n".repeat(128), "ünïcødé-名前-🚀", "sanity-max-attach-limit-vol+1-ABC", "semi;colon [find] $x"]) {
      const res = await svc.createVolume!(createReq(name, { requiredBytes: MiB }), ctx);
      expect(res.volume?.volumeId).toMatch(/^vol-[0-9a-f]{32}$/);
      const again = await svc.createVolume!(createReq(name, { requiredBytes: MiB }), ctx);
      expect(again.volume?.volumeId).toBe(res.volume?.volumeId);
    }
    expect(sim.target.store.list()).toHaveLength(4);
  });

  it("rejects bad requests with InvalidArgument before sending anything to the RDS", async () => {
    const bad: CreateVolumeRequest[] = [
      createReq(""),
      createReq("v", undefined, { volumeCapabilities: [] }),
      createReq("v", undefined, { volumeCapabilities: [{ accessType: undefined, accessMode: { mode: Mode.SINGLE_NODE_WRITER } }] }),
      createReq("v", undefined, { volumeCapabilities: [{ ...mount, accessMode: { mode: Mode.MULTI_NODE_MULTI_WRITER } }] }),
      createReq("v", { requiredBytes: 2n * GiB, limitBytes: GiB }),
      createReq("v", undefined, { parameters: { nvmePort: "4420; /system reboot" } }),
      createReq("v", undefined, { parameters: { nvmePort: "70000" } }),
      createReq("v", undefined, { parameters: { nvmeAddress: "1.2.3.4\n/system reboot" } }),
      createReq("v", undefined, { volumeContentSource: { type: undefined } }),
      createReq("v", undefined, { volumeContentSource: { type: { $case: "snapshot", value: { snapshotId: "" } } } }),
    ];
    for (const req of bad) expect(await codeOf(svc.createVolume!(req, ctx))).toBe(status.INVALID_ARGUMENT);
    expect(commandsSent).toEqual([]);
  });

  it("OutOfRange for sizes outside the limits", async () => {
    expect(await codeOf(svc.createVolume!(createReq("big", { requiredBytes: 17n * 1024n * GiB }), ctx))).toBe(status.OUT_OF_RANGE);
    expect(await codeOf(svc.createVolume!(createReq("tiny", { limitBytes: 1000n }), ctx))).toBe(status.OUT_OF_RANGE);
    expect(commandsSent).toEqual([]);
  });

  it("ResourceExhausted when the pool is full, and nothing is left behind", async () => {
    expect(await codeOf(svc.createVolume!(createReq("huge", { requiredBytes: 100n * GiB }), ctx))).toBe(status.RESOURCE_EXHAUSTED);
    expect(sim.target.store.list()).toHaveLength(0);
  });

  it("Unavailable when the RDS cannot be reached, and works again once it is back", async () => {
    await sim.target.down();
    expect(await codeOf(svc.createVolume!(createReq("later", { requiredBytes: GiB }), ctx))).toBe(status.UNAVAILABLE);
    await sim.target.up();
    const res = await svc.createVolume!(createReq("later", { requiredBytes: GiB }), ctx);
    expect(res.volume?.volumeId).toBe("later");
  });

  it("Aborted while another operation on the same volume is in flight", async () => {
    const first = svc.createVolume!(createReq("busy", { requiredBytes: GiB }), ctx);
    expect(await codeOf(svc.deleteVolume!({ volumeId: "busy", secrets: {} }, ctx))).toBe(status.ABORTED);
    await first;
  });

  it("clears an orphaned backing file of the same volume (crash between disk and file removal)", async () => {
    const dirOnHost = path.join(sim.target.store.poolDir, "storage/csi");
    fs.mkdirSync(dirOnHost, { recursive: true });
    fs.writeFileSync(path.join(dirOnHost, "orphan.img"), "stale");
    const res = await svc.createVolume!(createReq("orphan", { requiredBytes: GiB }), ctx);
    expect(res.volume?.capacityBytes).toBe(GiB);
    expect(fs.statSync(path.join(dirOnHost, "orphan.img")).size).toBe(Number(GiB));
  });

  it("refuses to take over a slot that holds a disk it did not create", async () => {
    expect(await codeOf(svc.createVolume!(createReq("storage", { requiredBytes: GiB }), ctx))).toBe(status.ALREADY_EXISTS);
  });
});

describe("snapshots and clones", () => {
  it("snapshots are unexported copies whose lineage survives a controller restart", async () => {
    await svc.createVolume!(createReq("src", { requiredBytes: 2n * GiB }), ctx);
    const snap = await svc.createSnapshot!({ name: "snapshot-1", sourceVolumeId: "src", secrets: {}, parameters: {} }, ctx);
    expect(snap.snapshot).toMatchObject({ snapshotId: "snap-snapshot-1.src", sourceVolumeId: "src", sizeBytes: 2n * GiB, readyToUse: true });
    expect(snap.snapshot?.creationTime?.seconds).toBeGreaterThan(0n);
    expect(sim.target.store.bySlot("snap-snapshot-1.src")?.nvmeTcpExport).toBe(false);

    // A fresh controller (restart): the same name + source is found again, another source conflicts.
    const restarted = controller();
    const again = await restarted.createSnapshot!({ name: "snapshot-1", sourceVolumeId: "src", secrets: {}, parameters: {} }, ctx);
    expect(again).toEqual(snap);
    await svc.createVolume!(createReq("other", { requiredBytes: GiB }), ctx);
    expect(await codeOf(restarted.createSnapshot!({ name: "snapshot-1", sourceVolumeId: "other", secrets: {}, parameters: {} }, ctx))).toBe(
      status.ALREADY_EXISTS,
    );
    const bySource = await restarted.listSnapshots!({ sourceVolumeId: "src", snapshotId: "", maxEntries: 0, startingToken: "", secrets: {} }, ctx);
    expect(bySource.entries.map((e) => e.snapshot?.snapshotId)).toEqual(["snap-snapshot-1.src"]);
  });

  it("creates volumes from a snapshot and from a volume, remembering the source", async () => {
    await svc.createVolume!(createReq("origin", { requiredBytes: GiB }), ctx);
    fs.writeFileSync(path.join(sim.target.store.poolDir, "storage/csi/origin.img"), "DATA", { flag: "r+" });
    const snap = await svc.createSnapshot!({ name: "s", sourceVolumeId: "origin", secrets: {}, parameters: {} }, ctx);
    const snapshotId = snap.snapshot!.snapshotId;

    const restored = await svc.createVolume!(createReq("restored", { requiredBytes: 2n * GiB }, { volumeContentSource: { type: { $case: "snapshot", value: { snapshotId } } } }), ctx);
    expect(restored.volume).toMatchObject({ volumeId: "restored", capacityBytes: 2n * GiB, contentSource: { type: { $case: "snapshot", value: { snapshotId } } } });
    const clone = await svc.createVolume!(createReq("clone", undefined, { volumeContentSource: { type: { $case: "volume", value: { volumeId: "origin" } } } }), ctx);
    expect(clone.volume).toMatchObject({ volumeId: "clone", capacityBytes: GiB, contentSource: { type: { $case: "volume", value: { volumeId: "origin" } } } });
    for (const id of ["restored", "clone"]) {
      const file = path.join(sim.target.store.poolDir, sim.target.store.bySlot(id)!.filePath);
      const fd = fs.openSync(file, "r");
      const head = Buffer.alloc(4);
      fs.readSync(fd, head, 0, 4, 0);
      fs.closeSync(fd);
      expect(head.toString()).toBe("DATA");
    }
    // Same name, other source (or none) → AlreadyExists; same source → the same volume.
    expect(await codeOf(svc.createVolume!(createReq("clone", undefined), ctx))).toBe(status.ALREADY_EXISTS);
    expect(await codeOf(svc.createVolume!(createReq("clone", undefined, { volumeContentSource: { type: { $case: "snapshot", value: { snapshotId } } } }), ctx))).toBe(
      status.ALREADY_EXISTS,
    );
    const cloneAgain = await controller().createVolume!(createReq("clone", undefined, { volumeContentSource: { type: { $case: "volume", value: { volumeId: "origin" } } } }), ctx);
    expect(cloneAgain).toEqual(clone);
    // A size below the source's is raised to it; a limit below it is out of range.
    expect(await codeOf(svc.createVolume!(createReq("small", { limitBytes: MiB * 4n }, { volumeContentSource: { type: { $case: "volume", value: { volumeId: "origin" } } } }), ctx))).toBe(
      status.OUT_OF_RANGE,
    );
  });

  it("NotFound for sources that do not exist, whatever their shape", async () => {
    for (const src of [
      { $case: "snapshot" as const, value: { snapshotId: "non-existing-snapshot-id" } },
      { $case: "snapshot" as const, value: { snapshotId: "snap-x.pvc-gone" } },
      { $case: "volume" as const, value: { volumeId: "fake-vol-id-123" } },
      { $case: "volume" as const, value: { volumeId: "Not+A+Volume" } },
    ]) {
      expect(await codeOf(svc.createVolume!(createReq("x", undefined, { volumeContentSource: { type: src } }), ctx))).toBe(status.NOT_FOUND);
    }
    expect(await codeOf(svc.createSnapshot!({ name: "s", sourceVolumeId: "fake-vol-id-1", secrets: {}, parameters: {} }, ctx))).toBe(status.NOT_FOUND);
    expect(await codeOf(svc.createSnapshot!({ name: "", sourceVolumeId: "v", secrets: {}, parameters: {} }, ctx))).toBe(status.INVALID_ARGUMENT);
    expect(await codeOf(svc.createSnapshot!({ name: "s", sourceVolumeId: "", secrets: {}, parameters: {} }, ctx))).toBe(status.INVALID_ARGUMENT);
  });

  it("DeleteSnapshot removes disk and file, and is idempotent for unknown IDs", async () => {
    await svc.createVolume!(createReq("v", { requiredBytes: GiB }), ctx);
    const snap = await svc.createSnapshot!({ name: "s", sourceVolumeId: "v", secrets: {}, parameters: {} }, ctx);
    const file = sim.target.store.bySlot(snap.snapshot!.snapshotId)!.filePath;
    await svc.deleteSnapshot!({ snapshotId: snap.snapshot!.snapshotId, secrets: {} }, ctx);
    expect(sim.target.store.bySlot(snap.snapshot!.snapshotId)).toBeUndefined();
    expect(fs.existsSync(path.join(sim.target.store.poolDir, file))).toBe(false);
    await svc.deleteSnapshot!({ snapshotId: snap.snapshot!.snapshotId, secrets: {} }, ctx);
    await svc.deleteSnapshot!({ snapshotId: "reallyfakesnapshotid", secrets: {} }, ctx);
    expect(await codeOf(svc.deleteSnapshot!({ snapshotId: "", secrets: {} }, ctx))).toBe(status.INVALID_ARGUMENT);
  });

  it("ListSnapshots filters and pages", async () => {
    await svc.createVolume!(createReq("v", { requiredBytes: MiB }), ctx);
    for (let i = 0; i < 5; i++) await svc.createSnapshot!({ name: `s${i}`, sourceVolumeId: "v", secrets: {}, parameters: {} }, ctx);
    const list = (r: { snapshotId?: string; sourceVolumeId?: string; maxEntries?: number; startingToken?: string }) =>
      svc.listSnapshots!({ snapshotId: "", sourceVolumeId: "", maxEntries: 0, startingToken: "", secrets: {}, ...r }, ctx);
    const first = await list({ maxEntries: 2 });
    expect(first.entries).toHaveLength(2);
    expect(first.nextToken).toBe("2");
    const rest = await list({ startingToken: first.nextToken });
    expect(rest.entries).toHaveLength(3);
    expect(rest.nextToken).toBe("");
    expect((await list({ snapshotId: "snap-s3.v" })).entries).toHaveLength(1);
    expect((await list({ snapshotId: "none-exist-id" })).entries).toHaveLength(0);
    expect((await list({ sourceVolumeId: "fake-vol" })).entries).toHaveLength(0);
    expect(await codeOf(list({ startingToken: "invalid-token" }))).toBe(status.ABORTED);
  });
});

describe("DeleteVolume, ValidateVolumeCapabilities, ListVolumes, GetCapacity, Expand", () => {
  it("DeleteVolume removes the disk and its backing file, and is idempotent", async () => {
    await svc.createVolume!(createReq("gone", { requiredBytes: GiB }), ctx);
    await svc.deleteVolume!({ volumeId: "gone", secrets: {} }, ctx);
    expect(sim.target.store.list()).toHaveLength(0);
    expect(fs.existsSync(path.join(sim.target.store.poolDir, "storage/csi/gone.img"))).toBe(false);
    await svc.deleteVolume!({ volumeId: "gone", secrets: {} }, ctx);
    await svc.deleteVolume!({ volumeId: "fake-vol-id", secrets: {} }, ctx);
    await svc.deleteVolume!({ volumeId: "Not A Volume; /system reboot", secrets: {} }, ctx);
    expect(await codeOf(svc.deleteVolume!({ volumeId: "", secrets: {} }, ctx))).toBe(status.INVALID_ARGUMENT);
  });

  it("DeleteVolume never deletes a disk this driver did not create", async () => {
    expect(await codeOf(svc.deleteVolume!({ volumeId: "storage", secrets: {} }, ctx))).toBe(status.FAILED_PRECONDITION);
  });

  it("ValidateVolumeCapabilities confirms supported capabilities, NotFound for unknown volumes", async () => {
    await svc.createVolume!(createReq("vv", { requiredBytes: GiB }), ctx);
    const base = { volumeContext: {}, parameters: {}, secrets: {}, mutableParameters: {} };
    const ok = await svc.validateVolumeCapabilities!({ ...base, volumeId: "vv", volumeCapabilities: [mount, block] }, ctx);
    expect(ok.confirmed?.volumeCapabilities).toHaveLength(2);
    const rwx = await svc.validateVolumeCapabilities!(
      { ...base, volumeId: "vv", volumeCapabilities: [{ ...mount, accessMode: { mode: Mode.MULTI_NODE_MULTI_WRITER } }] },
      ctx,
    );
    expect(rwx.confirmed).toBeUndefined();
    expect(rwx.message).toMatch(/block/);
    expect(await codeOf(svc.validateVolumeCapabilities!({ ...base, volumeId: "fake-vol-id-1", volumeCapabilities: [mount] }, ctx))).toBe(status.NOT_FOUND);
    expect(await codeOf(svc.validateVolumeCapabilities!({ ...base, volumeId: "", volumeCapabilities: [mount] }, ctx))).toBe(status.INVALID_ARGUMENT);
    expect(await codeOf(svc.validateVolumeCapabilities!({ ...base, volumeId: "vv", volumeCapabilities: [] }, ctx))).toBe(status.INVALID_ARGUMENT);
  });

  it("ListVolumes lists only volumes, pages with decimal tokens, Aborted on a bad token", async () => {
    for (const n of ["a", "b", "c"]) await svc.createVolume!(createReq(n, { requiredBytes: MiB }), ctx);
    await svc.createSnapshot!({ name: "s", sourceVolumeId: "a", secrets: {}, parameters: {} }, ctx);
    const all = await svc.listVolumes!({ maxEntries: 0, startingToken: "" }, ctx);
    expect(all.entries.map((e) => e.volume?.volumeId)).toEqual(["a", "b", "c"]);
    const p1 = await svc.listVolumes!({ maxEntries: 2, startingToken: "" }, ctx);
    expect(p1.entries.map((e) => e.volume?.volumeId)).toEqual(["a", "b"]);
    const p2 = await svc.listVolumes!({ maxEntries: 2, startingToken: p1.nextToken }, ctx);
    expect(p2.entries.map((e) => e.volume?.volumeId)).toEqual(["c"]);
    expect(p2.nextToken).toBe("");
    expect(await codeOf(svc.listVolumes!({ maxEntries: 0, startingToken: "invalid-token" }, ctx))).toBe(status.ABORTED);
    expect(await codeOf(svc.listVolumes!({ maxEntries: 0, startingToken: "99" }, ctx))).toBe(status.ABORTED);
  });

  it("GetCapacity reports the pool's free space", async () => {
    const before = await svc.getCapacity!({ volumeCapabilities: [], parameters: {} }, ctx);
    expect(before.availableCapacity).toBe(64n * GiB);
    await svc.createVolume!(createReq("c1", { requiredBytes: 4n * GiB }), ctx);
    const after = await svc.getCapacity!({ volumeCapabilities: [], parameters: {} }, ctx);
    expect(after.availableCapacity).toBe(60n * GiB);
    expect(after.minimumVolumeSize).toBe(MiB);
  });

  it("ControllerExpandVolume grows to exactly the aligned size; node expansion only for filesystems", async () => {
    await svc.createVolume!(createReq("grow", { requiredBytes: GiB }), ctx);
    const r = await svc.controllerExpandVolume!({ volumeId: "grow", capacityRange: { requiredBytes: 11n * GiB, limitBytes: 0n }, secrets: {} }, ctx);
    expect(r).toEqual({ capacityBytes: 11n * GiB, nodeExpansionRequired: true });
    expect(sim.target.store.bySlot("grow")?.fileSize).toBe(Number(11n * GiB));
    const again = await svc.controllerExpandVolume!({ volumeId: "grow", capacityRange: { requiredBytes: 11n * GiB, limitBytes: 0n }, secrets: {}, volumeCapability: block }, ctx);
    expect(again).toEqual({ capacityBytes: 11n * GiB, nodeExpansionRequired: false });
    const odd = await svc.controllerExpandVolume!({ volumeId: "grow", capacityRange: { requiredBytes: 11n * GiB + 1n, limitBytes: 0n }, secrets: {} }, ctx);
    expect(odd.capacityBytes).toBe(11n * GiB + MiB);
    expect(await codeOf(svc.controllerExpandVolume!({ volumeId: "grow", capacityRange: { requiredBytes: 1000n * GiB, limitBytes: 0n }, secrets: {} }, ctx))).toBe(
      status.RESOURCE_EXHAUSTED,
    );
    expect(await codeOf(svc.controllerExpandVolume!({ volumeId: "fake-vol-id", capacityRange: { requiredBytes: GiB, limitBytes: 0n }, secrets: {} }, ctx))).toBe(status.NOT_FOUND);
    expect(await codeOf(svc.controllerExpandVolume!({ volumeId: "", capacityRange: { requiredBytes: GiB, limitBytes: 0n }, secrets: {} }, ctx))).toBe(status.INVALID_ARGUMENT);
    expect(await codeOf(svc.controllerExpandVolume!({ volumeId: "grow", secrets: {} }, ctx))).toBe(status.INVALID_ARGUMENT);
  });

  it("advertises exactly the implemented capabilities (no GET_SNAPSHOT, no PUBLISH_UNPUBLISH)", async () => {
    const caps = await svc.controllerGetCapabilities!({}, ctx);
    const types = caps.capabilities.map((c) => (c.type?.$case === "rpc" ? c.type.value.type : undefined));
    expect(types).toEqual([...CONTROLLER_CAPABILITIES]);
    expect(types).toHaveLength(7);
  });
});
