// The health monitor's decisions without root, on a fixture world: a kernel-shaped sysfs tree
// (mountinfo's SysfsFixture), a mountinfo file under a fixture /proc, and a dev-root entry that
// is a symlink to a block device that exists on this machine (so the resolver sees a real block
// device with a real number). Events go to the events package's MemorySink. Recovery is allowed
// to run for real and fails here (nothing is actually mounted), which exercises the failure path;
// the success path runs on real mounts in node.int.test.ts.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createEventRecorder, MemorySink, silentLogger } from "@rds-nvme-csi/events";
import { DeviceResolver, Mounter, Recoverer, StaleChecker, SysfsFixture, hostBlockDevices, mountinfoLine } from "@rds-nvme-csi/mountinfo";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HealthMonitor } from "./health-monitor.js";
import { KeyedLocks } from "./locks.js";
import { NodeEvents } from "./node-events.js";
import { NvmeConnector } from "./nvme/connector.js";
import { StateStore, type VolumeRecord } from "./state.js";

const log = pino({ level: "silent" });
const NQN = "nqn.2000-02.com.mikrotik:pvc-mon";


let dir: string;
let fx: SysfsFixture;
let sink: MemorySink;
let events: NodeEvents;
let state: StateStore;
let locks: KeyedLocks;
let registry: Registry;
let monitor: HealthMonitor;
let staging: string;
const dev = hostBlockDevices(1)[0];

function writeMounts(major: number, minor: number): void {
  writeFileSync(
    path.join(dir, "proc", "self", "mountinfo"),
    [
      mountinfoLine({ mountId: 1, parentId: 0, major: 254, minor: 99, mountPoint: "/", fsType: "ext4", source: "/dev/root" }),
      mountinfoLine({ mountId: 50, parentId: 1, major, minor, mountPoint: staging, fsType: "ext4", source: path.join(dir, "dev", "nvme0n1") }),
    ].join("\n") + "\n",
  );
}

function record(): VolumeRecord {
  return {
    version: 1,
    volumeId: "pvc-mon",
    nqn: NQN,
    connect: { address: "127.0.0.1", port: 4420, ctrlLossTmo: 600, reconnectDelay: 5, keepAliveTmo: 0 },
    stagingPath: staging,
    accessType: "mount",
    fsType: "ext4",
    mountFlags: [],
    accessMode: 1,
    device: { name: "nvme0n1", devPath: path.join(dir, "dev", "nvme0n1"), major: 259, minor: 0 },
    pvc: { namespace: "apps", name: "data" },
    publishTargets: [],
    stagedAt: "",
    updatedAt: "",
  };
}

const reasons = () => sink.events().map((e) => `${e.reason} ${e.involvedObject.namespace ?? ""}/${e.involvedObject.name}`);
const metric = async (name: string) => (await registry.getSingleMetricAsString(name)).split("\n").filter((l) => !l.startsWith("#"));

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "monitor-"));
  staging = path.join(dir, "staging");
  mkdirSync(staging);
  mkdirSync(path.join(dir, "proc", "self"), { recursive: true });
  mkdirSync(path.join(dir, "dev"));
  fx = new SysfsFixture(path.join(dir, "sys"));
  // The NQN now resolves to nvme0n2 with the host device's number (a renumbered device).
  fx.addSubsystem("nvme-subsys0", NQN);
  fx.addController("nvme1", { nqn: NQN, subsystem: "nvme-subsys0", state: "live" });
  fx.addHead("nvme-subsys0", "nvme0n2", { dev: { major: dev.major, minor: dev.minor }, sizeBytes: 1 << 30 });
  symlinkSync(dev.path, path.join(dir, "dev", "nvme0n2"));
  writeMounts(259, 0); // the staging mount still shows the old number

  sink = new MemorySink();
  events = new NodeEvents(createEventRecorder({ component: "rds-nvme-csi-node", instance: "n1", sink, logger: silentLogger }), "n1", log);
  state = new StateStore(path.join(dir, "state"));
  await state.open();
  await state.save(record());
  locks = new KeyedLocks();
  registry = new Registry();
  const procRoot = path.join(dir, "proc");
  const resolver = new DeviceResolver({ sysfsRoot: fx.root, devRoot: path.join(dir, "dev") });
  const mounter = new Mounter({ procRoot });
  monitor = new HealthMonitor({
    nodeId: "n1",
    state,
    resolver,
    checker: new StaleChecker({ procRoot, sysfsRoot: fx.root }),
    recoverer: new Recoverer({ mounter, resolver, maxAttempts: 1 }),
    connector: new NvmeConnector({ nvmeCli: path.join(dir, "no-nvme"), host: { hostNqn: "nqn.2014-08.org.nvmexpress:uuid:x", hostId: "00000000-0000-4000-8000-000000000000" }, resolver }),
    locks,
    events,
    logger: log,
    devRoot: path.join(dir, "dev"),
    procRoot,
    registry,
    // passes come from runOnce() or, after start(), from fs.watch: never from the interval
    intervalMs: 3_600_000,
  });
});

afterEach(async () => {
  await monitor.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("HealthMonitor", () => {
  it("a renumbered device: one StaleMountDetected on the PVC, abnormal condition, metric; failed recovery → RecoveryFailed, then backoff", async () => {
    await monitor.runOnce();
    await events.flush();
    expect(reasons()).toEqual(["StaleMountDetected apps/data", "RecoveryFailed apps/data"]);
    const detected = sink.find("StaleMountDetected")[0];
    expect(detected.type).toBe("Warning");
    expect(detected.message).toContain("device_mismatch");
    expect(detected.message).toContain(`nvme0n2 (${dev.major}:${dev.minor})`);
    expect(monitor.condition("pvc-mon")).toEqual({ abnormal: true, message: expect.stringContaining("recovery failed") as string });
    expect(await metric("rdsnvme_node_stale_mounts_detected_total")).toEqual(['rdsnvme_node_stale_mounts_detected_total{reason="device_mismatch"} 1']);
    expect(await metric("rdsnvme_node_stale_mount_recoveries_total")).toEqual(['rdsnvme_node_stale_mount_recoveries_total{outcome="failure"} 1']);
    expect(await metric("rdsnvme_node_volumes_abnormal")).toEqual(["rdsnvme_node_volumes_abnormal 1"]);
    expect(monitor.openIncidents()).toEqual(["pvc-mon"]);

    // the next pass is inside the backoff: no new attempt, no new event
    await monitor.runOnce();
    await events.flush();
    expect(sink.events()).toHaveLength(2);
    expect(sink.writes.filter((w) => w.op === "patch")).toEqual([]);
  });

  it("a volume whose lock is held (a CSI call in flight) is neither reported nor touched", async () => {
    let release!: () => void;
    const held = locks.withLock("pvc-mon", "NodeUnstageVolume", () => new Promise<void>((r) => (release = r)));
    await monitor.runOnce();
    await events.flush();
    expect(sink.events()).toEqual([]);
    expect(monitor.openIncidents()).toEqual([]);
    release();
    await held;
  });

  it("back on the current device: condition normal again, VolumeConditionNormal; a vanished record is forgotten", async () => {
    await monitor.runOnce();
    writeMounts(dev.major, dev.minor); // as if recovered by someone else / the device came back
    await monitor.runOnce();
    await events.flush();
    expect(monitor.condition("pvc-mon")).toEqual({ abnormal: false, message: "volume is healthy" });
    expect(reasons()).toEqual(["StaleMountDetected apps/data", "RecoveryFailed apps/data", "VolumeConditionNormal apps/data"]);
    expect(monitor.openIncidents()).toEqual([]);
    await state.remove("pvc-mon");
    await monitor.runOnce();
    expect(monitor.condition("pvc-mon")).toBeUndefined();
    expect(await metric("rdsnvme_node_volumes_monitored")).toEqual(["rdsnvme_node_volumes_monitored 0"]);
  });

  it("controllers reconnecting on the same device: abnormal condition and one event, nothing remounted, normal when live", async () => {
    writeMounts(dev.major, dev.minor);
    fx.setState("nvme1", "connecting");
    await monitor.runOnce();
    await monitor.runOnce();
    await events.flush();
    expect(reasons()).toEqual(["VolumeConditionAbnormal apps/data"]);
    expect(monitor.condition("pvc-mon")?.abnormal).toBe(true);
    expect(await metric("rdsnvme_node_stale_mounts_detected_total")).toEqual([]);
    fx.setState("nvme1", "live");
    await monitor.runOnce();
    await events.flush();
    expect(reasons()).toEqual(["VolumeConditionAbnormal apps/data", "VolumeConditionNormal apps/data"]);
  });

  it("start() runs a pass at once and a change under the dev root wakes it", async () => {
    writeMounts(dev.major, dev.minor);
    monitor.start();
    await expect.poll(() => monitor.cycles, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    const before = monitor.cycles;
    symlinkSync(dev.path, path.join(dir, "dev", "nvme9n9"));
    // the interval is an hour here: another pass can only come from fs.watch on the dev root
    await expect.poll(() => monitor.cycles, { timeout: 20_000 }).toBeGreaterThan(before);
  });
});
