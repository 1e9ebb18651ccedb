// The node plugin as it runs in production: the whole driver in its own process (`node
// dist/main.js --mode all`), over its real unix socket, on sim-nvme with real loop devices, real
// mkfs and real mounts. Faults come from sim-nvme; the health monitor must notice and repair them
// WITHOUT any CSI call. Events are captured through --events-file (the driver is a separate
// process, so an in-memory sink could not be read from here; the file sink runs behind the same
// recorder and correlator as the API sink).
// Privileged: run inside `unshare --mount --propagation private` (see the README).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as csi from "./gen/csi.js";
import { blockDeviceNumber, readMountTable } from "@rds-nvme-csi/mountinfo";
import { StateStore } from "./state.js";
import { blockCap, GiB, grpcCode, mountCap, NodeHarness, retryAborted, sha256File, waitFor } from "./bench/node-harness.js";

let h: NodeHarness;

beforeAll(async () => {
  h = await NodeHarness.start({ healthIntervalMs: 1000 });
}, 120_000);

afterAll(async () => {
  await h?.close();
}, 120_000);

/** The driver's own record of a volume, read from its state dir as a restarted plugin would. */
async function recordOf(volumeId: string) {
  const s = new StateStore(h.stateDir);
  await s.open();
  return s.get(volumeId);
}

async function writeRandom(file: string, bytes = 1024 * 1024): Promise<string> {
  const fd = fs.openSync(file, "w");
  fs.writeSync(fd, randomBytes(bytes));
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  return sha256File(file);
}

async function listedNqns(): Promise<string[]> {
  const { runCommand } = await import("@rds-nvme-csi/mountinfo");
  const r = await runCommand([h.sim.nvmeCliPath, "list-subsys", "-o", "json"], { timeoutMs: 10_000 });
  const hosts = JSON.parse(r.stdout || "[]") as { Subsystems?: { NQN: string; Paths: unknown[] }[] }[];
  return hosts.flatMap((x) => x.Subsystems ?? []).filter((s) => s.Paths.length > 0).map((s) => s.NQN);
}

async function expectGone(volumeId: string, vol: csi.Volume, staging: string, target: string) {
  expect(fs.existsSync(target)).toBe(false);
  expect(fs.readdirSync(staging)).toEqual([]);
  expect(await recordOf(volumeId)).toBeUndefined();
  expect(await listedNqns()).not.toContain(vol.volumeContext.nqn);
  const mounted = (await readMountTable()).entries.map((e) => e.mountPoint);
  expect(mounted).not.toContain(staging);
  expect(mounted).not.toContain(target);
}

describe("node plugin on sim-nvme (whole driver process)", () => {
  it("stage → publish → write → rename fault → monitor recovers with no CSI call → data intact → events → teardown", async () => {
    const pvc = { namespace: "apps", name: "data-1" };
    const vol = await h.createVolume("pvc-life", GiB, mountCap(), pvc);
    expect(vol.volumeContext).toMatchObject({ "csi.storage.k8s.io/pvc/name": "data-1" });
    const { staging, target } = h.paths(vol.volumeId);

    await h.stage(vol, staging);
    await h.stage(vol, staging); // idempotent
    await h.publish(vol, staging, target);
    await h.publish(vol, staging, target); // idempotent
    expect(grpcCode(await h.publish(vol, staging, target, mountCap(), true).catch((e: unknown) => e))).toBe("ALREADY_EXISTS");

    const before = (await recordOf(vol.volumeId))!;
    expect(before).toMatchObject({ nqn: vol.volumeContext.nqn, fsType: "ext4", pvc, publishTargets: [{ targetPath: target, readonly: false }] });
    const table = await readMountTable();
    expect(table.byMountPoint(staging)).toMatchObject({ major: before.device.major, minor: before.device.minor, fsType: "ext4" });
    expect(table.byMountPoint(target)).toMatchObject({ major: before.device.major, minor: before.device.minor });

    const sum = await writeRandom(path.join(target, "payload.bin"));
    const stats = await h.stats(vol.volumeId, target);
    expect(stats.volumeCondition).toEqual({ abnormal: false, message: expect.any(String) as string });
    expect(stats.usage.map((u) => u.unit)).toEqual([csi.VolumeUsage_Unit.BYTES, csi.VolumeUsage_Unit.INODES]);
    expect(stats.usage[0].total).toBeGreaterThan(900_000_000n);

    const renamed = await h.sim.faults.rename(vol.volumeContext.nqn);
    expect(renamed).toHaveLength(1);

    // No CSI call from here on: the monitor must notice and recover by itself.
    await waitFor("StaleMountRecovered", () => h.eventsWith("StaleMountRecovered", "data-1").length > 0, 60_000);
    const after = (await recordOf(vol.volumeId))!;
    expect(after.device.name).toBe(renamed[0]);
    expect(`${after.device.major}:${after.device.minor}`).not.toBe(`${before.device.major}:${before.device.minor}`);
    const t2 = await readMountTable();
    expect(t2.byMountPoint(staging)).toMatchObject({ major: after.device.major, minor: after.device.minor });
    expect(t2.byMountPoint(target)).toMatchObject({ major: after.device.major, minor: after.device.minor });
    expect(await sha256File(path.join(target, "payload.bin"))).toBe(sum);
    fs.writeFileSync(path.join(target, "after.txt"), "written after recovery\n");

    const detected = h.eventsWith("StaleMountDetected", "data-1");
    expect(detected).toHaveLength(1);
    expect(detected[0].body).toMatchObject({ type: "Warning", involvedObject: { kind: "PersistentVolumeClaim", namespace: "apps", name: "data-1" } });
    expect(detected[0].body!.message).toContain("pvc-life");
    expect(h.eventsWith("StaleMountRecovered", "data-1")[0].body!.message).toContain(renamed[0]);
    expect((await h.stats(vol.volumeId, target)).volumeCondition?.abnormal).toBe(false);

    await h.unpublish(vol.volumeId, target);
    await h.unpublish(vol.volumeId, target); // idempotent
    await h.unstage(vol.volumeId, staging);
    await h.unstage(vol.volumeId, staging); // idempotent
    await expectGone(vol.volumeId, vol, staging, target);
    await h.deleteVolume(vol.volumeId);
  });

  it("answers argument and lookup errors with the codes csi-sanity expects", async () => {
    const vol = await h.createVolume("pvc-codes");
    const { staging, target } = h.paths(vol.volumeId);
    const code = (p: Promise<unknown>) => p.then(() => "OK", grpcCode);
    expect(await code(h.call(h.node, "nodeStageVolume", csi.NodeStageVolumeRequest.fromPartial({ volumeId: "", stagingTargetPath: staging, volumeCapability: mountCap(), volumeContext: vol.volumeContext })))).toBe("INVALID_ARGUMENT");
    expect(await code(h.call(h.node, "nodeStageVolume", csi.NodeStageVolumeRequest.fromPartial({ volumeId: vol.volumeId, stagingTargetPath: "", volumeCapability: mountCap() })))).toBe("INVALID_ARGUMENT");
    expect(await code(h.call(h.node, "nodeStageVolume", csi.NodeStageVolumeRequest.fromPartial({ volumeId: vol.volumeId, stagingTargetPath: staging, volumeContext: vol.volumeContext })))).toBe("INVALID_ARGUMENT");
    expect(await code(h.call(h.node, "nodeStageVolume", csi.NodeStageVolumeRequest.fromPartial({ volumeId: vol.volumeId, stagingTargetPath: staging, volumeCapability: mountCap(), volumeContext: { ...vol.volumeContext, nvmeAddress: "rds.example" } })))).toBe("INVALID_ARGUMENT");
    expect(await code(h.call(h.node, "nodePublishVolume", csi.NodePublishVolumeRequest.fromPartial({ volumeId: vol.volumeId, targetPath: target, stagingTargetPath: staging })))).toBe("INVALID_ARGUMENT");
    expect(await code(h.call(h.node, "nodePublishVolume", csi.NodePublishVolumeRequest.fromPartial({ volumeId: vol.volumeId, targetPath: target, stagingTargetPath: staging, volumeCapability: mountCap() })))).toBe("FAILED_PRECONDITION");
    expect(await code(h.call(h.node, "nodeGetVolumeStats", csi.NodeGetVolumeStatsRequest.fromPartial({ volumeId: vol.volumeId, volumePath: "some/path" })))).toBe("NOT_FOUND");
    expect(await code(h.call(h.node, "nodeGetVolumeStats", csi.NodeGetVolumeStatsRequest.fromPartial({ volumeId: "unknown", volumePath: "some/path" })))).toBe("NOT_FOUND");
    expect(await code(h.call(h.node, "nodeExpandVolume", csi.NodeExpandVolumeRequest.fromPartial({ volumeId: "unknown", volumePath: "some/path" })))).toBe("NOT_FOUND");
    expect(await code(h.call(h.node, "nodeExpandVolume", csi.NodeExpandVolumeRequest.fromPartial({ volumeId: vol.volumeId, volumePath: "" })))).toBe("INVALID_ARGUMENT");
    expect(await code(h.unpublish(vol.volumeId, target))).toBe("OK"); // never published
    expect(await code(h.unstage(vol.volumeId, staging))).toBe("OK"); // never staged
    const caps = await h.call<csi.NodeGetCapabilitiesResponse>(h.node, "nodeGetCapabilities", {});
    const T = csi.NodeServiceCapability_RPC_Type;
    expect(caps.capabilities.map((c) => c.type?.value.type)).toEqual([T.STAGE_UNSTAGE_VOLUME, T.GET_VOLUME_STATS, T.EXPAND_VOLUME, T.VOLUME_CONDITION]);
    expect(await h.call<csi.NodeGetInfoResponse>(h.node, "nodeGetInfo", {})).toEqual({ nodeId: "node-1", maxVolumesPerNode: 0n });
    await h.deleteVolume(vol.volumeId);
  });

  it("a concurrent stage of the same volume gets ABORTED, one succeeds", async () => {
    const vol = await h.createVolume("pvc-race");
    const { staging } = h.paths(vol.volumeId);
    const results = await Promise.all([h.stage(vol, staging), h.stage(vol, staging)].map((p) => p.then(() => "OK", grpcCode)));
    expect(results.sort()).toEqual(["ABORTED", "OK"]);
    await h.unstage(vol.volumeId, staging);
    await h.deleteVolume(vol.volumeId);
  });

  it("block volume: device bound onto a file target, survives a rename, stats give the size", async () => {
    const vol = await h.createVolume("pvc-block", GiB, blockCap(), { namespace: "apps", name: "raw-1" });
    const { staging, target } = h.paths(vol.volumeId);
    await h.stage(vol, staging, blockCap());
    await h.stage(vol, staging, blockCap());
    expect(fs.readdirSync(staging)).toEqual([]); // block staging creates nothing
    await h.publish(vol, staging, target, blockCap());
    await h.publish(vol, staging, target, blockCap());
    const rec = (await recordOf(vol.volumeId))!;
    expect(fs.statSync(target).isBlockDevice()).toBe(true);
    expect(await blockDeviceNumber(target)).toEqual({ major: rec.device.major, minor: rec.device.minor });

    const payload = randomBytes(64 * 1024);
    const fd = fs.openSync(target, "r+");
    fs.writeSync(fd, payload, 0, payload.length, 4096);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    const s1 = await h.stats(vol.volumeId, target);
    expect(s1.usage).toEqual([{ total: GiB, available: 0n, used: 0n, unit: csi.VolumeUsage_Unit.BYTES }]);

    const [newName] = await h.sim.faults.rename(vol.volumeContext.nqn);
    await waitFor("block recovery", () => h.eventsWith("StaleMountRecovered", "raw-1").length > 0, 60_000);
    const rec2 = (await recordOf(vol.volumeId))!;
    expect(rec2.device.name).toBe(newName);
    expect(await blockDeviceNumber(target)).toEqual({ major: rec2.device.major, minor: rec2.device.minor });
    const back = Buffer.alloc(payload.length);
    const rfd = fs.openSync(target, "r");
    fs.readSync(rfd, back, 0, back.length, 4096);
    fs.closeSync(rfd);
    expect(back.equals(payload)).toBe(true);

    await h.unpublish(vol.volumeId, target);
    await h.unstage(vol.volumeId, staging);
    await expectGone(vol.volumeId, vol, staging, target);
    await h.deleteVolume(vol.volumeId);
  });

  it("online expansion: ControllerExpand, then NodeExpand on the publish path grows the filesystem", async () => {
    // xfs: online ext4 growth needs CAP_SYS_RESOURCE, which this test machine's root lacks
    // (CapEff bit 24 clear); xfs_growfs needs only CAP_SYS_ADMIN. The code path is the same.
    const cap = mountCap("xfs");
    const vol = await h.createVolume("pvc-grow", GiB, cap, { namespace: "apps", name: "grow" });
    const { staging, target } = h.paths(vol.volumeId);
    await h.stage(vol, staging, cap);
    // Published with mount_flags the staging mount lacks: they must be applied to the bind itself.
    const flagged: csi.VolumeCapability = { ...cap, accessType: { $case: "mount", value: { fsType: "xfs", mountFlags: ["nosuid", "nodev"], volumeMountGroup: "" } } };
    await h.publish(vol, staging, target, flagged);
    const mounts = await readMountTable();
    expect([staging, target].map((p) => mounts.byMountPoint(p)?.mountOptions.filter((o) => o === "nosuid" || o === "nodev"))).toEqual([[], ["nosuid", "nodev"]]);
    const sum = await writeRandom(path.join(target, "keep.bin"));
    const before = (await h.stats(vol.volumeId, target)).usage[0].total;
    const ctrl = await h.call<csi.ControllerExpandVolumeResponse>(h.controller, "controllerExpandVolume", {
      volumeId: vol.volumeId,
      capacityRange: { requiredBytes: 2n * GiB, limitBytes: 0n },
      secrets: {},
      volumeCapability: cap,
    });
    expect(ctrl.nodeExpansionRequired).toBe(true);
    const res = await h.call<csi.NodeExpandVolumeResponse>(h.node, "nodeExpandVolume", csi.NodeExpandVolumeRequest.fromPartial({
      volumeId: vol.volumeId,
      volumePath: target,
      capacityRange: { requiredBytes: 2n * GiB, limitBytes: 0n },
    }));
    expect(res.capacityBytes).toBe(2n * GiB);
    const afterTotal = (await h.stats(vol.volumeId, target)).usage[0].total;
    expect(afterTotal).toBeGreaterThan(before + GiB / 2n);
    expect(await sha256File(path.join(target, "keep.bin"))).toBe(sum);
    expect(h.eventsWith("VolumeResized", "grow")).toHaveLength(1);
    await h.unpublish(vol.volumeId, target);
    await h.unstage(vol.volumeId, staging);
    await h.deleteVolume(vol.volumeId);
  });

  it("20 volumes staged and published in parallel, then torn down in parallel", async () => {
    const vols = await Promise.all(Array.from({ length: 20 }, (_, i) => h.createVolume(`pvc-par-${i}`, GiB, mountCap(), { namespace: "par", name: `par-${i}` })));
    const paths = vols.map((v) => h.paths(v.volumeId));
    await Promise.all(vols.map(async (v, i) => {
      await h.stage(v, paths[i].staging);
      await h.publish(v, paths[i].staging, paths[i].target);
    }));
    const table = await readMountTable();
    const devs = new Set<string>();
    for (const [i, v] of vols.entries()) {
      const rec = (await recordOf(v.volumeId))!;
      expect(table.byMountPoint(paths[i].target)).toMatchObject({ major: rec.device.major, minor: rec.device.minor });
      devs.add(`${rec.device.major}:${rec.device.minor}`);
      fs.writeFileSync(path.join(paths[i].target, "id"), v.volumeId);
    }
    expect(devs.size).toBe(20);
    for (const [i, v] of vols.entries()) expect(fs.readFileSync(path.join(paths[i].target, "id"), "utf8")).toBe(v.volumeId);
    await Promise.all(vols.map(async (v, i) => {
      await h.unpublish(v.volumeId, paths[i].target);
      await h.unstage(v.volumeId, paths[i].staging);
    }));
    for (const [i, v] of vols.entries()) await expectGone(v.volumeId, v, paths[i].staging, paths[i].target);
    await Promise.all(vols.map((v) => h.deleteVolume(v.volumeId)));
    // Unstage unmounts, disconnects (the dev node goes: the monitor wakes) and then drops the
    // record; a pass in that window must not report a stale mount. Give it a few passes.
    await new Promise((r) => setTimeout(r, 3000));
    const falseAlarms = h.events().filter((e) => e.op === "create" && e.body?.involvedObject.namespace === "par");
    expect(falseAlarms.map((e) => `${e.body?.reason} ${e.body?.involvedObject.name}`)).toEqual([]);
  });

  it("orphaned subsystem (listed, no namespace): the monitor reconnects and recovers", async () => {
    const vol = await h.createVolume("pvc-orphan", GiB, mountCap(), { namespace: "apps", name: "orphan" });
    const { staging, target } = h.paths(vol.volumeId);
    await h.stage(vol, staging);
    await h.publish(vol, staging, target);
    const sum = await writeRandom(path.join(target, "x.bin"));
    await h.sim.faults.orphan(vol.volumeContext.nqn);
    await waitFor("recovery after orphan", () => h.eventsWith("StaleMountRecovered", "orphan").length > 0, 60_000);
    expect(h.eventsWith("StaleMountDetected", "orphan")[0].body!.message).toContain("device_disappeared");
    expect(await sha256File(path.join(target, "x.bin"))).toBe(sum);
    await h.unpublish(vol.volumeId, target);
    await h.unstage(vol.volumeId, staging);
    await expectGone(vol.volumeId, vol, staging, target);
    await h.deleteVolume(vol.volumeId);
  });

  it("drop with the target refusing this host: RecoveryFailed, condition abnormal, other volumes unaffected, teardown still works", async () => {
    const ok = await h.createVolume("pvc-bystander", GiB, mountCap(), { namespace: "apps", name: "bystander" });
    const bad = await h.createVolume("pvc-drop", GiB, mountCap(), { namespace: "apps", name: "dropped" });
    const p1 = h.paths(ok.volumeId);
    const p2 = h.paths(bad.volumeId);
    for (const [v, p] of [[ok, p1], [bad, p2]] as const) {
      await h.stage(v, p.staging);
      await h.publish(v, p.staging, p.target);
    }
    const okSum = await writeRandom(path.join(p1.target, "ok.bin"));
    // Gone for good: the RDS stops admitting this host for that disk, then the controller vanishes.
    const r = await h.sim.target.interpreter.run(`/disk set [find slot=pvc-drop] nvme-tcp-server-allow-host-name=nqn.2000-01.dev.other:host`);
    expect(r.exitCode).toBe(0);
    await h.sim.faults.drop(bad.volumeContext.nqn);

    await waitFor("RecoveryFailed", () => h.eventsWith("RecoveryFailed", "dropped").length > 0, 60_000);
    expect(h.eventsWith("StaleMountDetected", "dropped")).toHaveLength(1);
    const cond = (await h.stats(bad.volumeId, p2.target)).volumeCondition!;
    expect(cond.abnormal).toBe(true);
    expect(cond.message).toMatch(/recovery failed/);

    // Nothing else broken: the bystander is healthy and a new volume stages fine.
    expect((await h.stats(ok.volumeId, p1.target)).volumeCondition?.abnormal).toBe(false);
    expect(await sha256File(path.join(p1.target, "ok.bin"))).toBe(okSum);
    const fresh = await h.createVolume("pvc-after-drop");
    const p3 = h.paths(fresh.volumeId);
    await h.stage(fresh, p3.staging);
    await h.publish(fresh, p3.staging, p3.target);
    fs.writeFileSync(path.join(p3.target, "f"), "fine");

    // The dropped volume can still be unpublished and unstaged (the CO's cleanup; it retries
    // ABORTED while the monitor holds the volume for a recovery attempt).
    for (const [v, p] of [[bad, p2], [ok, p1], [fresh, p3]] as const) {
      await retryAborted(() => h.unpublish(v.volumeId, p.target));
      await retryAborted(() => h.unstage(v.volumeId, p.staging));
      await expectGone(v.volumeId, v, p.staging, p.target);
      await h.deleteVolume(v.volumeId);
    }
  });

  it("plugin killed with volumes staged; a device renumbered while it was down is recovered after restart", async () => {
    const vols = [
      await h.createVolume("pvc-restart-a", GiB, mountCap(), { namespace: "apps", name: "ra" }),
      await h.createVolume("pvc-restart-b", GiB, mountCap(), { namespace: "apps", name: "rb" }),
    ];
    const ps = vols.map((v) => h.paths(v.volumeId));
    const sums: string[] = [];
    for (const [i, v] of vols.entries()) {
      await h.stage(v, ps[i].staging);
      await h.publish(v, ps[i].staging, ps[i].target);
      sums.push(await writeRandom(path.join(ps[i].target, "d.bin")));
    }
    await h.stopDriver("SIGKILL");
    const [renamed] = await h.sim.faults.rename(vols[0].volumeContext.nqn);
    await h.startDriver();

    await waitFor("recovery after restart", () => h.eventsWith("StaleMountRecovered", "ra").length > 0, 60_000);
    expect((await recordOf(vols[0].volumeId))!.device.name).toBe(renamed);
    for (const [i] of vols.entries()) expect(await sha256File(path.join(ps[i].target, "d.bin"))).toBe(sums[i]);
    // Still monitored after the restart: a second fault is handled too.
    await h.sim.faults.rename(vols[1].volumeContext.nqn);
    await waitFor("second recovery", () => h.eventsWith("StaleMountRecovered", "rb").length > 0, 60_000);
    expect(await sha256File(path.join(ps[1].target, "d.bin"))).toBe(sums[1]);
    // Idempotent stage/publish after the restart: the records were reloaded.
    await h.stage(vols[1], ps[1].staging);
    await h.publish(vols[1], ps[1].staging, ps[1].target);
    for (const [i, v] of vols.entries()) {
      await h.unpublish(v.volumeId, ps[i].target);
      await h.unstage(v.volumeId, ps[i].staging);
      await expectGone(v.volumeId, v, ps[i].staging, ps[i].target);
      await h.deleteVolume(v.volumeId);
    }
  });

  it("rename fault whose new device is gone before recovery: RecoveryFailed, the target keeps the stale filesystem; the next device is recovered", async () => {
    const vol = await h.createVolume("pvc-flap", GiB, mountCap(), { namespace: "apps", name: "flap" });
    const nqn = vol.volumeContext.nqn;
    const { staging, target } = h.paths(vol.volumeId);
    await h.stage(vol, staging);
    await h.publish(vol, staging, target);
    const sum = await writeRandom(path.join(target, "d.bin"));
    const old = (await recordOf(vol.volumeId))!.device;

    // The plugin is down while the new device breaks, so the monitor cannot get there first: the
    // new loop device is detached while nothing holds it (gone at once), and sysfs and the dev
    // node still claim it — a controller that flaps again, or a stray `losetup --detach`.
    await h.stopDriver();
    await h.sim.faults.rename(nqn);
    const loop = h.sim
      .status()
      .host.subsystems.flatMap((x) => x.controllers)
      .find((c) => c.nqn === nqn)?.namespace?.loop;
    expect(loop).toMatch(/^\/dev\/loop\d+$/);
    const { runCommand } = await import("@rds-nvme-csi/mountinfo");
    await runCommand(["losetup", "--detach", loop!], { timeoutMs: 10_000 });
    await h.startDriver();

    await waitFor("RecoveryFailed", () => h.eventsWith("RecoveryFailed", "flap").length > 0, 60_000);
    // Nothing was torn down: the pod's path still shows the volume (stale), not an empty
    // directory on the node's disk.
    const t1 = await readMountTable();
    expect(t1.byMountPoint(staging)).toMatchObject({ major: old.major, minor: old.minor });
    expect(t1.byMountPoint(target)).toMatchObject({ major: old.major, minor: old.minor });
    expect(await sha256File(path.join(target, "d.bin"))).toBe(sum);
    expect(h.eventsWith("RecoveryFailed", "flap")[0].body!.message).toMatch(/not readable/);
    expect(h.eventsWith("StaleMountRecovered", "flap")).toEqual([]);

    // The controller flaps once more and comes back with a working device: recovered.
    const [next] = await h.sim.faults.rename(nqn);
    await waitFor("StaleMountRecovered", () => h.eventsWith("StaleMountRecovered", "flap").length > 0, 60_000);
    const now = (await recordOf(vol.volumeId))!.device;
    expect(now.name).toBe(next);
    const t2 = await readMountTable();
    expect(t2.byMountPoint(staging)).toMatchObject({ major: now.major, minor: now.minor });
    expect(t2.byMountPoint(target)).toMatchObject({ major: now.major, minor: now.minor });
    expect(await sha256File(path.join(target, "d.bin"))).toBe(sum);
    fs.writeFileSync(path.join(target, "after.txt"), "written after recovery\n");

    await h.unpublish(vol.volumeId, target);
    await h.unstage(vol.volumeId, staging);
    await expectGone(vol.volumeId, vol, staging, target);
    await h.deleteVolume(vol.volumeId);
  });

  it("NodeUnstage refuses while a process holds the staging mount, naming it; succeeds once it is gone", async () => {
    const vol = await h.createVolume("pvc-busy", GiB, mountCap(), { namespace: "apps", name: "busy" });
    const { staging, target } = h.paths(vol.volumeId);
    await h.stage(vol, staging);
    await h.publish(vol, staging, target);
    // a process with its working directory inside the volume keeps the filesystem busy
    const holder = spawn("sleep", ["600"], { cwd: target, stdio: "ignore" });
    try {
      await h.unpublish(vol.volumeId, target).catch(() => undefined); // the CO unpublishes first; busy is fine here
      const err = await h.unstage(vol.volumeId, staging).then(() => undefined, (e: unknown) => e);
      expect(grpcCode(err)).toBe("FAILED_PRECONDITION");
      expect((err as Error).message).toContain(`pid ${holder.pid}`);
      expect(await recordOf(vol.volumeId)).toBeDefined(); // nothing was torn down half-way
    } finally {
      holder.kill("SIGKILL");
      await new Promise((r) => holder.once("exit", r));
    }
    await retryAborted(() => h.unpublish(vol.volumeId, target));
    await retryAborted(() => h.unstage(vol.volumeId, staging));
    await expectGone(vol.volumeId, vol, staging, target);
    await h.deleteVolume(vol.volumeId);
  });

  it("state dir lost while staged: stage/publish adopt what is mounted; unstage without a record still disconnects", async () => {
    const vol = await h.createVolume("pvc-lost", GiB, mountCap(), { namespace: "apps", name: "lost" });
    const { staging, target } = h.paths(vol.volumeId);
    await h.stage(vol, staging);
    await h.publish(vol, staging, target);
    const sum = await writeRandom(path.join(target, "k.bin"));
    const dropRecords = async () => {
      await h.stopDriver("SIGKILL");
      fs.rmSync(h.stateDir, { recursive: true, force: true });
      await h.startDriver();
    };
    await dropRecords();
    await h.stage(vol, staging);
    await h.publish(vol, staging, target);
    expect((await recordOf(vol.volumeId))?.publishTargets.map((t) => t.targetPath)).toEqual([target]);
    expect(await sha256File(path.join(target, "k.bin"))).toBe(sum);
    await dropRecords();
    await h.unpublish(vol.volumeId, target);
    await h.unstage(vol.volumeId, staging);
    await expectGone(vol.volumeId, vol, staging, target);
    await h.deleteVolume(vol.volumeId);
  });

  it("RDS outage longer than ctrl_loss_tmo: abnormal while reconnecting, RecoveryFailed while down, recovered once it is back", async () => {
    const vol = await h.createVolume("pvc-outage", GiB, mountCap(), { namespace: "apps", name: "outage" });
    const { staging, target } = h.paths(vol.volumeId);
    // a short ctrl_loss_tmo from the volume context, so the controller is deleted during the outage
    const shortLoss = { ...vol, volumeContext: { ...vol.volumeContext, ctrlLossTmo: "2", reconnectDelay: "1" } };
    await h.stage(shortLoss, staging);
    await h.publish(shortLoss, staging, target);
    const sum = await writeRandom(path.join(target, "o.bin"));
    await h.sim.faults.targetDown();
    try {
      await waitFor("condition abnormal while the controller reconnects", () => h.eventsWith("VolumeConditionAbnormal", "outage").length > 0, 60_000);
      await waitFor("RecoveryFailed while the RDS is down", () => h.eventsWith("RecoveryFailed", "outage").length > 0, 60_000);
      expect((await h.stats(vol.volumeId, target)).volumeCondition?.abnormal).toBe(true);
    } finally {
      await h.sim.faults.targetUp();
    }
    await waitFor("StaleMountRecovered after the RDS is back", () => h.eventsWith("StaleMountRecovered", "outage").length > 0, 90_000);
    expect(h.eventsWith("StaleMountDetected", "outage")).toHaveLength(1);
    expect(await sha256File(path.join(target, "o.bin"))).toBe(sum);
    expect((await h.stats(vol.volumeId, target)).volumeCondition?.abnormal).toBe(false);
    await retryAborted(() => h.unpublish(vol.volumeId, target));
    await retryAborted(() => h.unstage(vol.volumeId, staging));
    await expectGone(vol.volumeId, vol, staging, target);
    await retryAborted(() => h.deleteVolume(vol.volumeId));
  });

  it("failed stages: ConnectionFailure (UNAVAILABLE) for a refused connect, MountFailure (FAILED_PRECONDITION) for a foreign filesystem", async () => {
    const vol = await h.createVolume("pvc-fail", GiB, mountCap(), { namespace: "apps", name: "fail" });
    const { staging, target } = h.paths(vol.volumeId);
    const refused = { ...vol, volumeContext: { ...vol.volumeContext, nvmePort: "1" } }; // nothing listens there
    expect(grpcCode(await h.stage(refused, staging).catch((e: unknown) => e))).toBe("UNAVAILABLE");
    await waitFor("ConnectionFailure", () => h.eventsWith("ConnectionFailure", "fail").length > 0);
    expect(h.eventsWith("ConnectionFailure", "fail")[0].body!.message).toContain("127.0.0.1:1");

    await h.stage(vol, staging); // ext4
    await h.unstage(vol.volumeId, staging);
    // the device holds ext4 now: staging it as xfs must neither format nor mount it
    const err = await h.stage(vol, staging, mountCap("xfs")).catch((e: unknown) => e);
    expect(grpcCode(err)).toBe("FAILED_PRECONDITION");
    expect((err as Error).message).toContain("ext4");
    await waitFor("MountFailure", () => h.eventsWith("MountFailure", "fail").length > 0);
    await expectGone(vol.volumeId, vol, staging, target); // nothing left behind, not even the connection
    await h.stage(vol, staging); // still ext4, data path intact
    await h.unstage(vol.volumeId, staging);
    await h.deleteVolume(vol.volumeId);
  });
});
