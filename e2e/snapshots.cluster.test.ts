// Snapshots through the real sidecars: the VolumeSnapshot CRDs and snapshot-controller of
// external-snapshotter v8.6.0 plus the csi-snapshotter sidecar, against our controller on the
// simulated RDS. PVC → VolumeSnapshot → CreateSnapshot makes a snapshot disk on the RDS and the
// snapshot becomes readyToUse → a PVC restored from it is provisioned from that snapshot →
// deleting everything removes every disk.
import * as k8s from "@kubernetes/client-node";
import { startTarget, type Target } from "@rds-nvme-csi/sim-nvme";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { binariesFromEnv, ensureBinaries } from "./local-cluster/binaries.js";
import type { ManagedProcess } from "./local-cluster/processes.js";
import {
  assertDriverBuilt,
  createStorageClass,
  DRIVER_NAME,
  startControllerDriver,
  startLogged,
  stopAll,
} from "./support/driver.js";
import { ensureSnapshotCrds, eventually, loadKubeConfig, uniqueName } from "./support/kube.js";

const SNAPSHOT_API = "snapshot.storage.k8s.io/v1";

interface VolumeSnapshot extends k8s.KubernetesObject {
  spec?: { source?: { persistentVolumeClaimName?: string } };
  status?: { readyToUse?: boolean; boundVolumeSnapshotContentName?: string; error?: { message?: string } };
}
interface VolumeSnapshotContent extends k8s.KubernetesObject {
  status?: { snapshotHandle?: string; readyToUse?: boolean };
}

describe("snapshots through snapshot-controller and csi-snapshotter", () => {
  let dir: string;
  let target: Target;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let storage: k8s.StorageV1Api;
  let objects: k8s.KubernetesObjectApi;
  const processes: ManagedProcess[] = [];
  const namespace = uniqueName("snap");
  const storageClass = uniqueName("rds-nvme-snap");
  const snapshotClass = uniqueName("rds-nvme-snapclass");

  beforeAll(async () => {
    kc = loadKubeConfig();
    const kubeconfigPath = process.env.RDS_TEST_KUBECONFIG!;
    core = kc.makeApiClient(k8s.CoreV1Api);
    storage = kc.makeApiClient(k8s.StorageV1Api);
    objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    const binaries = binariesFromEnv() ?? (await ensureBinaries());
    assertDriverBuilt();

    // The CRDs first, and wait until the API serves them.
    expect(await ensureSnapshotCrds(kc, binaries["snapshot-crds"])).toHaveLength(3);

    dir = mkdtempSync(join(tmpdir(), "rdsnvme-snap-"));
    target = await startTarget({ stateDir: join(dir, "rds"), address: "127.0.0.1", sshPort: 0, exportPort: 0 });
    const { socket } = await startControllerDriver(processes, dir, target);
    const start = (name: string, argv: string[]) => startLogged(processes, dir, name, argv);
    const kube = [`--kubeconfig=${kubeconfigPath}`, "--leader-election=false", "--v=4"];
    await start("snapshot-controller", [binaries["snapshot-controller"], ...kube, "--retry-interval-start=1s"]);
    await start("csi-snapshotter", [binaries["csi-snapshotter"], ...kube, `--csi-address=${socket}`, "--timeout=60s", "--retry-interval-start=1s"]);
    await start("csi-provisioner", [
      binaries["csi-provisioner"],
      ...kube,
      `--csi-address=${socket}`,
      "--extra-create-metadata",
      "--timeout=60s",
      "--retry-interval-start=1s",
    ]);

    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await createStorageClass(storage, storageClass);
    await objects.create({
      apiVersion: SNAPSHOT_API,
      kind: "VolumeSnapshotClass",
      metadata: { name: snapshotClass },
      driver: DRIVER_NAME,
      deletionPolicy: "Delete",
    } as k8s.KubernetesObject);
  });

  afterAll(async () => {
    await core?.deleteNamespace({ name: namespace }).catch(() => undefined);
    // Give the sidecars the chance to delete what the namespace held before they stop.
    await eventually(
      "namespace gone",
      async () => {
        try {
          await core.readNamespace({ name: namespace });
          return undefined;
        } catch {
          return true;
        }
      },
      { timeoutMs: 60_000 },
    ).catch(() => undefined);
    await objects?.delete({ apiVersion: SNAPSHOT_API, kind: "VolumeSnapshotClass", metadata: { name: snapshotClass } }).catch(() => undefined);
    await storage?.deleteStorageClass({ name: storageClass }).catch(() => undefined);
    await stopAll(processes);
    await target?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function assertRunning(): void {
    for (const p of processes) p.assertRunning();
  }

  const slots = () => target.status().disks.map((d) => d.slot);

  async function boundPv(name: string): Promise<k8s.V1PersistentVolume> {
    const pvc = await eventually(`PVC ${name} Bound`, async () => {
      assertRunning();
      const c = await core.readNamespacedPersistentVolumeClaim({ namespace, name });
      return c.status?.phase === "Bound" ? c : undefined;
    });
    return core.readPersistentVolume({ name: pvc.spec!.volumeName! });
  }

  async function gone(read: () => Promise<unknown>): Promise<boolean | undefined> {
    try {
      await read();
      return undefined;
    } catch (err) {
      return err instanceof k8s.ApiException && err.code === 404 ? true : undefined;
    }
  }

  it("snapshots a PVC, restores a new PVC from it, and deletes every disk afterwards", async () => {
    await core.createNamespacedPersistentVolumeClaim({
      namespace,
      body: {
        metadata: { name: "source" },
        spec: { accessModes: ["ReadWriteOnce"], storageClassName: storageClass, resources: { requests: { storage: "1Gi" } } },
      },
    });
    const sourcePv = await boundPv("source");
    const sourceVolume = sourcePv.spec!.csi!.volumeHandle;
    expect(slots()).toContain(sourceVolume);

    await objects.create({
      apiVersion: SNAPSHOT_API,
      kind: "VolumeSnapshot",
      metadata: { name: "snap", namespace },
      spec: { volumeSnapshotClassName: snapshotClass, source: { persistentVolumeClaimName: "source" } },
    } as k8s.KubernetesObject);
    const ready = await eventually("VolumeSnapshot readyToUse", async () => {
      assertRunning();
      const s = await objects.read<VolumeSnapshot>({ apiVersion: SNAPSHOT_API, kind: "VolumeSnapshot", metadata: { name: "snap", namespace } });
      if (s.status?.error?.message) throw new Error(`snapshot error: ${s.status.error.message}`);
      return s.status?.readyToUse ? s : undefined;
    });
    const content = await objects.read<VolumeSnapshotContent>({
      apiVersion: SNAPSHOT_API,
      kind: "VolumeSnapshotContent",
      metadata: { name: ready.status!.boundVolumeSnapshotContentName! },
    });
    const snapshotId = content.status!.snapshotHandle!;
    expect(snapshotId).toMatch(/^snap-/);
    expect(slots()).toContain(snapshotId);

    await core.createNamespacedPersistentVolumeClaim({
      namespace,
      body: {
        metadata: { name: "restored" },
        spec: {
          accessModes: ["ReadWriteOnce"],
          storageClassName: storageClass,
          resources: { requests: { storage: "1Gi" } },
          dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: "snap" },
        },
      },
    });
    const restoredPv = await boundPv("restored");
    const restoredVolume = restoredPv.spec!.csi!.volumeHandle;
    expect(restoredVolume).not.toBe(sourceVolume);
    expect(slots()).toContain(restoredVolume);

    // Tear down in dependency order: the restored volume, the snapshot, then its source.
    await core.deleteNamespacedPersistentVolumeClaim({ namespace, name: "restored" });
    await eventually("restored PV deleted", () => gone(() => core.readPersistentVolume({ name: restoredPv.metadata!.name! })));
    await objects.delete({ apiVersion: SNAPSHOT_API, kind: "VolumeSnapshot", metadata: { name: "snap", namespace } });
    await eventually("VolumeSnapshotContent deleted", () =>
      gone(() => objects.read({ apiVersion: SNAPSHOT_API, kind: "VolumeSnapshotContent", metadata: { name: content.metadata!.name! } })),
    );
    await core.deleteNamespacedPersistentVolumeClaim({ namespace, name: "source" });
    await eventually("source PV deleted", () => gone(() => core.readPersistentVolume({ name: sourcePv.metadata!.name! })));

    const left = slots();
    expect(left).not.toContain(restoredVolume);
    expect(left).not.toContain(snapshotId);
    expect(left).not.toContain(sourceVolume);
  });
});
