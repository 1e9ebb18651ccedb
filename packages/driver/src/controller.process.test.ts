// The controller as it runs in production: its own process (`node dist/main.js --mode
// controller`), serving its real unix socket, talking SSH to sim-nvme's simulated RDS.
// No root needed. Needs the built dist/ (the test runner builds first).
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as csi from "./gen/csi.js";
import { startSimTarget, type SimTarget } from "./test-support/sim-target.js";

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist/main.js");
const GiB = 1024n ** 3n;

let sim: SimTarget;
let dir: string;
let sock: string;
let proc: ChildProcess;
let output = "";
let identity: InstanceType<typeof csi.IdentityClient>;
let controller: InstanceType<typeof csi.ControllerClient>;

function call<Req, Res>(client: grpc.Client, method: string, req: Req, timeoutMs = 20_000): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (r: Req, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: Res) => void) => void>)[method];
    fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}
async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return grpc.status[(e as grpc.ServiceError).code] ?? "?";
  }
  return "OK";
}

const mount = { accessType: { $case: "mount" as const, value: { fsType: "ext4", mountFlags: [], volumeMountGroup: "" } }, accessMode: { mode: csi.VolumeCapability_AccessMode_Mode.SINGLE_NODE_WRITER } };
const create = (name: string, bytes: bigint, source?: csi.VolumeContentSource) =>
  call<csi.CreateVolumeRequest, csi.CreateVolumeResponse>(
    controller,
    "createVolume",
    csi.CreateVolumeRequest.fromPartial({ name, capacityRange: { requiredBytes: bytes, limitBytes: 0n }, volumeCapabilities: [mount], volumeContentSource: source }),
  );
const listVolumes = () => call<csi.ListVolumesRequest, csi.ListVolumesResponse>(controller, "listVolumes", { maxEntries: 0, startingToken: "" });
const del = (volumeId: string) => call<csi.DeleteVolumeRequest, csi.DeleteVolumeResponse>(controller, "deleteVolume", { volumeId, secrets: {} });

beforeAll(async () => {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: build the driver first (npx tsc -p tsconfig.build.json)`);
  sim = await startSimTarget({ capacityBytes: 32 * 1024 ** 3 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "rdsnvme-ctrl-"));
  sock = path.join(dir, "csi.sock");
  proc = spawn(
    process.execPath,
    [
      MAIN,
      "--mode", "controller",
      "--endpoint", `unix://${sock}`,
      "--rds-address", sim.target.ssh.host,
      "--rds-port", String(sim.target.ssh.port),
      "--rds-user", sim.target.ssh.user,
      "--rds-private-key", sim.target.ssh.privateKeyPath,
      "--rds-host-key", sim.target.ssh.hostPublicKeyPath,
      "--rds-pool-dir", "/storage/csi",
      "--nvme-port", String(sim.target.exportPort),
      "--rds-connect-timeout", "3000",
      "--log-level", "info",
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, CSI_ENDPOINT: "" } },
  );
  proc.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 20_000;
  while (!fs.existsSync(sock)) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`controller did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  identity = new csi.IdentityClient(`unix://${sock}`, grpc.credentials.createInsecure());
  controller = new csi.ControllerClient(`unix://${sock}`, grpc.credentials.createInsecure());
});

afterAll(async () => {
  identity?.close();
  controller?.close();
  if (proc && proc.exitCode === null) {
    proc.kill("SIGKILL");
    await new Promise((r) => proc.once("exit", r));
  }
  await sim?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("controller process over its unix socket", () => {
  it("answers Identity: name, capabilities, Probe OK while the RDS answers", async () => {
    const info = await call<object, csi.GetPluginInfoResponse>(identity, "getPluginInfo", {});
    expect(info.name).toBe("rds-nvme.csi.dev");
    const caps = await call<object, csi.GetPluginCapabilitiesResponse>(identity, "getPluginCapabilities", {});
    expect(caps.capabilities).toEqual([
      { type: { $case: "service", value: { type: csi.PluginCapability_Service_Type.CONTROLLER_SERVICE } } },
      { type: { $case: "volumeExpansion", value: { type: csi.PluginCapability_VolumeExpansion_Type.ONLINE } } },
    ]);
    expect(await call<object, csi.ProbeResponse>(identity, "probe", {})).toEqual({ ready: true });
  });

  it("runs the whole create / list / expand / snapshot / clone / delete cycle with idempotent retries", async () => {
    const vol = await create("pvc-cycle", 2n * GiB);
    expect(vol.volume).toMatchObject({ volumeId: "pvc-cycle", capacityBytes: 2n * GiB });
    expect(await create("pvc-cycle", 2n * GiB)).toEqual(vol); // retry
    expect((await listVolumes()).entries.map((e) => e.volume?.volumeId)).toEqual(["pvc-cycle"]);

    const expanded = await call<csi.ControllerExpandVolumeRequest, csi.ControllerExpandVolumeResponse>(controller, "controllerExpandVolume", {
      volumeId: "pvc-cycle",
      capacityRange: { requiredBytes: 3n * GiB, limitBytes: 0n },
      secrets: {},
      volumeCapability: mount,
    });
    expect(expanded).toEqual({ capacityBytes: 3n * GiB, nodeExpansionRequired: true });

    const snapReq = { name: "snapshot-cycle", sourceVolumeId: "pvc-cycle", secrets: {}, parameters: {} };
    const snap = await call<csi.CreateSnapshotRequest, csi.CreateSnapshotResponse>(controller, "createSnapshot", snapReq);
    expect(await call<csi.CreateSnapshotRequest, csi.CreateSnapshotResponse>(controller, "createSnapshot", snapReq)).toEqual(snap); // retry
    const snapshotId = snap.snapshot!.snapshotId;
    const snaps = await call<csi.ListSnapshotsRequest, csi.ListSnapshotsResponse>(controller, "listSnapshots", { maxEntries: 0, startingToken: "", sourceVolumeId: "pvc-cycle", snapshotId: "", secrets: {} });
    expect(snaps.entries.map((e) => e.snapshot?.snapshotId)).toEqual([snapshotId]);

    const restored = await create("pvc-restored", 3n * GiB, { type: { $case: "snapshot", value: { snapshotId } } });
    expect(restored.volume?.contentSource).toEqual({ type: { $case: "snapshot", value: { snapshotId } } });
    const clone = await create("pvc-clone", 0n, { type: { $case: "volume", value: { volumeId: "pvc-cycle" } } });
    expect(clone.volume).toMatchObject({ capacityBytes: 3n * GiB, contentSource: { type: { $case: "volume", value: { volumeId: "pvc-cycle" } } } });
    expect((await listVolumes()).entries.map((e) => e.volume?.volumeId)).toEqual(["pvc-clone", "pvc-cycle", "pvc-restored"]);

    await call(controller, "deleteSnapshot", { snapshotId, secrets: {} });
    await call(controller, "deleteSnapshot", { snapshotId, secrets: {} }); // retry
    for (const id of ["pvc-clone", "pvc-restored", "pvc-cycle"]) {
      await del(id);
      await del(id); // retry
    }
    expect((await listVolumes()).entries).toEqual([]);
    expect(sim.target.store.list()).toEqual([]);
    expect(fs.readdirSync(path.join(sim.target.store.poolDir, "storage/csi"))).toEqual([]);
  });

  it("codes: NOT_FOUND for unknown IDs, INVALID_ARGUMENT for missing fields, ABORTED for a bad token", async () => {
    expect(await code(call(controller, "validateVolumeCapabilities", csi.ValidateVolumeCapabilitiesRequest.fromPartial({ volumeId: "fake-vol-id-1", volumeCapabilities: [mount] })))).toBe("NOT_FOUND");
    expect(await code(create("", GiB))).toBe("INVALID_ARGUMENT");
    expect(await code(call(controller, "listVolumes", { maxEntries: 0, startingToken: "invalid-token" }))).toBe("ABORTED");
    expect(await code(del("fake-vol-id-2"))).toBe("OK");
    expect(await code(call(controller, "controllerPublishVolume", csi.ControllerPublishVolumeRequest.fromPartial({ volumeId: "x", nodeId: "n" })))).toBe("UNIMPLEMENTED");
  });

  it("pool full → RESOURCE_EXHAUSTED", async () => {
    expect(await code(create("pvc-huge", 64n * GiB))).toBe("RESOURCE_EXHAUSTED");
    expect(sim.target.store.list()).toEqual([]);
  });

  it("RDS gone → UNAVAILABLE (and Probe FAILED_PRECONDITION); recovers once it is back", async () => {
    await create("pvc-before", GiB); // the pool now holds live SSH connections
    await sim.target.down();
    try {
      expect(await code(create("pvc-during", GiB))).toBe("UNAVAILABLE");
      expect(await code(listVolumes())).toBe("UNAVAILABLE");
      expect(await code(call(identity, "probe", {}))).toBe("FAILED_PRECONDITION");
    } finally {
      await sim.target.up();
    }
    const after = await create("pvc-during", GiB);
    expect(after.volume?.volumeId).toBe("pvc-during");
    expect(await call<object, csi.ProbeResponse>(identity, "probe", {})).toEqual({ ready: true });
    await del("pvc-during");
    await del("pvc-before");
  });

  it("SIGTERM lets an in-flight call finish, then exits 0 and removes its socket", async () => {
    await sim.target.down(); // make CreateVolume take its connect timeout (~3 s)
    const inFlight = create("pvc-slow", GiB).then(
      () => "OK",
      (e: grpc.ServiceError) => `${grpc.status[e.code]}: ${e.details}`,
    );
    await new Promise((r) => setTimeout(r, 300));
    proc.kill("SIGTERM");
    const exited = new Promise<number | null>((r) => proc.once("exit", (c) => r(c)));
    // Answered by the driver's own error path (RDS unreachable), not cut off by the shutdown.
    expect(await inFlight).toMatch(/^UNAVAILABLE: RDS .* unreachable/);
    expect(output).toMatch(/"inFlight":1,.*"msg":"shutting down gRPC server"/);
    expect(await exited).toBe(0);
    await sim.target.up();
    expect(fs.existsSync(sock)).toBe(false);
    expect(output).toContain("signal received, shutting down");
    expect(output).not.toContain("BEGIN OPENSSH PRIVATE KEY");
  });
});
