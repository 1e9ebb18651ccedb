// 130 volumes on one RDS: the Controller over the real RouterOS backend (pooled SSH → sim-nvme's
// simulated RDS, in this process, no root, sparse files). Regression for "RDS accepted /disk add
// for bench-many-98 but does not show the disk": once the disk table's index column reached three
// digits, `/disk print detail` printed ` 100type=file …` and the disk could not be read back.
// Every volume must be created, read back, listed, grown, snapshotted and deleted through
// three-digit indices and `where slot=…` / `[find slot=…]` lookups.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RouterOSBackend } from "./backend/routeros/backend.js";
import { RouterOSClient } from "./backend/routeros/client.js";
import { createControllerService } from "./controller.js";
import { type CreateVolumeRequest, VolumeCapability_AccessMode_Mode as Mode } from "./gen/csi.js";
import { testContext } from "./test-support/rpc-context.js";
import { startSimTarget, type SimTarget } from "./test-support/sim-target.js";

const MiB = 1024n * 1024n;
const POOL = "/storage/csi";
const COUNT = 130; // two pool partitions come first, so disk indices run 2 … 131
const PARALLEL = 8;

const ctx = testContext("Controller");

const names = Array.from({ length: COUNT }, (_, i) => `bench-many-${String(i)}`);

function createReq(name: string): CreateVolumeRequest {
  return {
    name,
    capacityRange: { requiredBytes: MiB, limitBytes: 0n },
    volumeCapabilities: [{ accessType: { $case: "block", value: {} }, accessMode: { mode: Mode.SINGLE_NODE_WRITER } }],
    parameters: {},
    secrets: {},
    mutableParameters: {},
  };
}

/** Runs `fn` over `items`, at most PARALLEL at a time (the pool has several SSH connections). */
async function eachLimited<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
}

let sim: SimTarget;
let client: RouterOSClient;
let backend: RouterOSBackend;
let svc: ReturnType<typeof createControllerService>;

beforeAll(async () => {
  sim = await startSimTarget({ capacityBytes: 64 * 1024 ** 3 });
  client = new RouterOSClient({ ...sim.clientOptions, poolSize: 4 });
  backend = new RouterOSBackend(client);
  svc = createControllerService({ backend, poolDir: POOL, nvmeAddress: "127.0.0.1", nvmePort: sim.target.exportPort });
});
afterAll(async () => {
  await client.close();
  await sim.close();
});

describe(`${String(COUNT)} volumes (three-digit disk indices)`, () => {
  it("CreateVolume succeeds for every volume and each one reads back", async () => {
    await eachLimited(names, async (name) => {
      const res = await svc.createVolume!(createReq(name), ctx);
      expect(res.volume).toMatchObject({ volumeId: name, capacityBytes: MiB, volumeContext: { nqn: `nqn.2000-02.com.mikrotik:${name}` } });
    });
    expect(sim.target.store.list()).toHaveLength(COUNT);
    // The simulated RDS really printed three-digit indices (this test covers what it claims).
    const last = await sim.target.interpreter.run(`/disk print detail where slot="${names[COUNT - 1]}"`);
    expect(last.output.split("\r\n")[1]).toMatch(new RegExp(`^${String(COUNT + 1)} +type=file slot="${names[COUNT - 1]}"`));

    for (const name of names) {
      expect(await backend.getDisk(name)).toEqual({
        slot: name,
        filePath: `${POOL}/${name}.img`,
        sizeBytes: MiB,
        export: { nqn: `nqn.2000-02.com.mikrotik:${name}`, port: sim.target.exportPort },
      });
    }
  });

  it("/disk print detail of the whole table lists every disk once, in table order", async () => {
    const slots = (await backend.listDisks()).map((d) => d.slot);
    expect(slots).toEqual(["storage-pool", "storage", ...names]);
  });

  it("ListVolumes pages through all of them", async () => {
    const seen: string[] = [];
    let token = "";
    do {
      const res = await svc.listVolumes!({ maxEntries: 50, startingToken: token }, ctx);
      seen.push(...res.entries.map((e) => e.volume!.volumeId));
      token = res.nextToken;
    } while (token !== "");
    expect(seen).toEqual([...names].sort());
  });

  it("CreateVolume again is idempotent for a volume at a three-digit index", async () => {
    const again = await svc.createVolume!(createReq(names[120]), ctx);
    expect(again.volume?.volumeId).toBe(names[120]);
    expect(sim.target.store.list()).toHaveLength(COUNT);
  });

  it("ControllerExpandVolume and CreateSnapshot find a volume by [find slot=…] at a three-digit index", async () => {
    const id = names[110];
    const grown = await svc.controllerExpandVolume!({ volumeId: id, capacityRange: { requiredBytes: 2n * MiB, limitBytes: 0n }, secrets: {}, volumeCapability: undefined }, ctx);
    expect(grown.capacityBytes).toBe(2n * MiB);
    expect((await backend.getDisk(id))?.sizeBytes).toBe(2n * MiB);
    const snap = await svc.createSnapshot!({ name: "snap-of-110", sourceVolumeId: id, secrets: {}, parameters: {} }, ctx);
    expect(snap.snapshot).toMatchObject({ sourceVolumeId: id, sizeBytes: 2n * MiB, readyToUse: true });
    await svc.deleteSnapshot!({ snapshotId: snap.snapshot!.snapshotId, secrets: {} }, ctx);
    expect(await backend.getDisk(snap.snapshot!.snapshotId)).toBeUndefined();
  });

  it("DeleteVolume removes every disk and its file; nothing is left", async () => {
    // Highest indices first and lowest first, interleaved, so removals shift both ends.
    const order = names.flatMap((_, i) => (i % 2 === 0 ? [names[i / 2]] : [names[COUNT - 1 - (i - 1) / 2]]));
    expect(new Set(order).size).toBe(COUNT);
    await eachLimited(order, async (name) => {
      await svc.deleteVolume!({ volumeId: name, secrets: {} }, ctx);
    });
    for (const name of names) expect(await backend.getDisk(name)).toBeUndefined();
    expect(sim.target.store.list()).toEqual([]);
    expect(sim.target.store.files().filter((f) => f.type === "file")).toEqual([]);
  });
});
