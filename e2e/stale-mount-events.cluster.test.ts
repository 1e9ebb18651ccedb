// Stale-mount Events end to end (issue #9, part 4). The whole driver (controller + node) runs
// with this control plane's kubeconfig on sim-nvme (real loop devices, real mkfs and mounts);
// csi-provisioner provisions a PVC; the test stages and publishes the volume over gRPC as kubelet
// would (the driver's own `call` client over its unix socket), writes data, renames the NVMe
// device under the mount (`sim-nvme` fault), and reads back with client-node the
// StaleMountDetected and StaleMountRecovered Events the node plugin posted on the PVC; the data
// must read back unchanged.
//
// Privileged: needs root (loop devices, mount) and runs inside the private mount namespace that
// scripts/tiers/cluster.sh gives the cluster tier when it runs as root.
import * as k8s from "@kubernetes/client-node";
import { startSim, type Sim } from "@rds-nvme-csi/sim-nvme";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { binariesFromEnv, ensureBinaries } from "./local-cluster/binaries.js";
import type { ManagedProcess } from "./local-cluster/processes.js";
import {
  assertDriverBuilt,
  createStorageClass,
  DRIVER_NAME,
  driverMain,
  rdsArgs,
  startLogged,
  stopAll,
  waitForCsiSocket,
} from "./support/driver.js";
import { eventually, loadKubeConfig, uniqueName } from "./support/kube.js";

const HOST_NQN = "nqn.2014-08.org.nvmexpress:uuid:0e2e0c1e-5a1e-4d3a-9b7c-2f4e6a8c0d1e";

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

describe("stale-mount Events on the PVC, end to end", () => {
  let dir: string;
  let sim: Sim | undefined;
  let socket: string;
  let core: k8s.CoreV1Api;
  let storage: k8s.StorageV1Api;
  const processes: ManagedProcess[] = [];
  const namespace = uniqueName("stale");
  const storageClass = uniqueName("rds-nvme-stale");
  const claim = "data";
  let staging = "";
  let target = "";
  let volumeId = "";

  /** One CSI RPC through the driver's own gRPC client (`main.js call`), JSON in and out. */
  function csiCall(rpc: string, request: unknown): Promise<unknown> {
    return new Promise((resolvePromise, reject) => {
      execFile(
        process.execPath,
        [driverMain, "call", "--endpoint", `unix://${socket}`, "--timeout", "120000", rpc, JSON.stringify(request)],
        { timeout: 150_000, killSignal: "SIGKILL", shell: false },
        (err, stdout, stderr) => (err ? reject(new Error(`${rpc}: ${stderr || err.message}`)) : resolvePromise(JSON.parse(stdout))),
      );
    });
  }

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error("this test needs root (loop devices, mkfs, mount): run the cluster tier as root");
    const kc = loadKubeConfig();
    const kubeconfigPath = process.env.RDS_TEST_KUBECONFIG!;
    core = kc.makeApiClient(k8s.CoreV1Api);
    storage = kc.makeApiClient(k8s.StorageV1Api);
    const binaries = binariesFromEnv() ?? (await ensureBinaries());
    assertDriverBuilt();

    dir = mkdtempSync(join(tmpdir(), "rdsnvme-stale-"));
    sim = await startSim({ stateDir: join(dir, "sim") });
    socket = join(dir, "csi.sock");
    const nvmeConfigDir = join(dir, "etc-nvme");
    mkdirSync(nvmeConfigDir);
    writeFileSync(join(nvmeConfigDir, "hostnqn"), `${HOST_NQN}\n`);

    const env = { ...process.env, KUBECONFIG: "", CSI_ENDPOINT: "" };
    const driver = await startLogged(
      processes,
      dir,
      "driver",
      [
        process.execPath,
        driverMain,
        "--mode=all",
        `--endpoint=unix://${socket}`,
        "--node-id=node-1",
        `--driver-name=${DRIVER_NAME}`,
        ...rdsArgs(sim.ssh, sim.exportPort),
        `--nvme-cli=${sim.nvmeCliPath}`,
        `--sysfs-root=${sim.sysfsRoot}`,
        `--dev-root=${sim.devRoot}`,
        `--state-dir=${join(dir, "node-state")}`,
        `--nvme-config-dir=${nvmeConfigDir}`,
        "--ctrl-loss-tmo=30",
        "--reconnect-delay=1",
        "--health-interval=1000",
        `--kubeconfig=${kubeconfigPath}`,
        "--shutdown-grace=2000",
      ],
      env,
    );
    await waitForCsiSocket(socket, driver);

    await startLogged(processes, dir, "csi-provisioner", [
      binaries["csi-provisioner"],
      `--csi-address=${socket}`,
      `--kubeconfig=${kubeconfigPath}`,
      "--leader-election=false",
      "--extra-create-metadata",
      "--timeout=60s",
      "--retry-interval-start=1s",
      "--v=4",
    ]);

    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await createStorageClass(storage, storageClass);
  });

  afterAll(async () => {
    // Undo in kubelet's order, best effort, so no mount or loop device outlives the test.
    if (volumeId && target) await csiCall("Node.NodeUnpublishVolume", { volumeId, targetPath: target }).catch(() => undefined);
    if (volumeId && staging) await csiCall("Node.NodeUnstageVolume", { volumeId, stagingTargetPath: staging }).catch(() => undefined);
    await core?.deleteNamespacedPersistentVolumeClaim({ namespace, name: claim }).catch(() => undefined);
    await core?.deleteNamespace({ name: namespace }).catch(() => undefined);
    await storage?.deleteStorageClass({ name: storageClass }).catch(() => undefined);
    await stopAll(processes);
    await sim?.down();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function ourEvents(): Promise<k8s.CoreV1Event[]> {
    const list = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${claim}` });
    return list.items.filter((e) => e.reportingComponent?.startsWith("rds-nvme-csi") || e.source?.component?.startsWith("rds-nvme-csi"));
  }

  it("posts StaleMountDetected and StaleMountRecovered on the PVC and keeps the data", async () => {
    await core.createNamespacedPersistentVolumeClaim({
      namespace,
      body: {
        metadata: { name: claim },
        spec: { accessModes: ["ReadWriteOnce"], storageClassName: storageClass, resources: { requests: { storage: "1Gi" } } },
      },
    });
    const bound = await eventually("PVC Bound", async () => {
      for (const p of processes) p.assertRunning();
      const c = await core.readNamespacedPersistentVolumeClaim({ namespace, name: claim });
      return c.status?.phase === "Bound" ? c : undefined;
    });
    const pv = await core.readPersistentVolume({ name: bound.spec!.volumeName! });
    volumeId = pv.spec!.csi!.volumeHandle;
    const volumeContext = pv.spec!.csi!.volumeAttributes ?? {};
    expect(volumeContext["csi.storage.k8s.io/pvc/name"]).toBe(claim);

    // Where kubelet would stage and publish.
    staging = join(dir, "kubelet", "staging", volumeId);
    target = join(dir, "kubelet", "pods", "pod-1", "volumes", volumeId, "mount");
    mkdirSync(staging, { recursive: true });
    mkdirSync(dirname(target), { recursive: true });
    const volumeCapability = { mount: { fsType: "ext4" }, accessMode: { mode: "SINGLE_NODE_WRITER" } };
    await csiCall("Node.NodeStageVolume", { volumeId, stagingTargetPath: staging, volumeCapability, volumeContext });
    await csiCall("Node.NodePublishVolume", { volumeId, stagingTargetPath: staging, targetPath: target, volumeCapability, volumeContext });

    const data = randomBytes(256 * 1024);
    writeFileSync(join(target, "payload.bin"), data, { flush: true });

    const renamed = await sim!.faults.rename(volumeContext.nqn);
    expect(renamed.length).toBeGreaterThan(0);

    const events = await eventually(
      "StaleMountDetected and StaleMountRecovered Events on the PVC",
      async () => {
        processes[0].assertRunning();
        const evs = await ourEvents();
        const reasons = new Set(evs.map((e) => e.reason));
        return reasons.has("StaleMountDetected") && reasons.has("StaleMountRecovered") ? evs : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const detected = events.find((e) => e.reason === "StaleMountDetected")!;
    const recovered = events.find((e) => e.reason === "StaleMountRecovered")!;
    expect(detected.type).toBe("Warning");
    expect(recovered.type).toBe("Normal");
    for (const e of [detected, recovered]) {
      expect(e.involvedObject.kind).toBe("PersistentVolumeClaim");
      expect(e.involvedObject.namespace).toBe(namespace);
      expect(e.involvedObject.uid).toBe(bound.metadata?.uid);
    }

    expect(sha256(readFileSync(join(target, "payload.bin")))).toBe(sha256(data));
  });
});
