// Provisioning through the real CSI sidecars (issue #9, part 2): a StorageClass for our driver →
// a PVC → upstream csi-provisioner calls our controller's CreateVolume, which creates the disk
// on the simulated RDS over SSH → the PV exists and kube-controller-manager binds the PVC, with
// the PVC name/namespace in the PV's volume attributes (--extra-create-metadata) → a bigger
// request → upstream csi-resizer calls ControllerExpandVolume and the disk grows → deleting the
// PVC makes the provisioner call DeleteVolume and the disk is gone from the simulated RDS.
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
import { eventually, loadKubeConfig, uniqueName } from "./support/kube.js";

const GiB = 1024 ** 3;

describe("dynamic provisioning through csi-provisioner and csi-resizer", () => {
  let dir: string;
  let target: Target;
  let core: k8s.CoreV1Api;
  let storage: k8s.StorageV1Api;
  const processes: ManagedProcess[] = [];
  const namespace = uniqueName("prov");
  const storageClass = uniqueName("rds-nvme-immediate");
  const claim = "data";

  beforeAll(async () => {
    const kc = loadKubeConfig();
    const kubeconfigPath = process.env.RDS_TEST_KUBECONFIG!;
    core = kc.makeApiClient(k8s.CoreV1Api);
    storage = kc.makeApiClient(k8s.StorageV1Api);
    const binaries = binariesFromEnv() ?? (await ensureBinaries());
    assertDriverBuilt();

    dir = mkdtempSync(join(tmpdir(), "rdsnvme-prov-"));
    target = await startTarget({ stateDir: join(dir, "rds"), address: "127.0.0.1", sshPort: 0, exportPort: 0 });
    const { socket } = await startControllerDriver(processes, dir, target);
    const start = (name: string, argv: string[]) => startLogged(processes, dir, name, argv);

    // The sidecars as they run in the controller Deployment, pointed at our socket.
    const common = [`--csi-address=${socket}`, `--kubeconfig=${kubeconfigPath}`, "--leader-election=false", "--timeout=60s", "--v=4"];
    await start("csi-provisioner", [binaries["csi-provisioner"], ...common, "--extra-create-metadata", "--retry-interval-start=1s"]);
    await start("csi-resizer", [binaries["csi-resizer"], ...common, "--retry-interval-start=1s"]);

    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await createStorageClass(storage, storageClass, { allowVolumeExpansion: true });
  });

  afterAll(async () => {
    await core?.deleteNamespace({ name: namespace }).catch(() => undefined);
    await storage?.deleteStorageClass({ name: storageClass }).catch(() => undefined);
    await stopAll(processes);
    await target?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function assertSidecarsRunning(): void {
    for (const p of processes) p.assertRunning();
  }

  async function claimObject(): Promise<k8s.V1PersistentVolumeClaim> {
    return core.readNamespacedPersistentVolumeClaim({ namespace, name: claim });
  }

  function disk(volumeId: string) {
    return target.status().disks.find((d) => d.slot === volumeId);
  }

  let pvName = "";
  let volumeId = "";

  it("provisions a PVC: CreateVolume on the RDS, PV created and bound, PVC identity in the attributes", async () => {
    await core.createNamespacedPersistentVolumeClaim({
      namespace,
      body: {
        metadata: { name: claim },
        spec: { accessModes: ["ReadWriteOnce"], storageClassName: storageClass, resources: { requests: { storage: "1Gi" } } },
      },
    });
    const bound = await eventually("PVC Bound", async () => {
      assertSidecarsRunning();
      const c = await claimObject();
      return c.status?.phase === "Bound" ? c : undefined;
    });
    pvName = bound.spec!.volumeName!;
    const pv = await core.readPersistentVolume({ name: pvName });
    expect(pv.spec?.csi?.driver).toBe(DRIVER_NAME);
    volumeId = pv.spec!.csi!.volumeHandle;
    expect(pv.spec?.csi?.volumeAttributes).toMatchObject({
      "csi.storage.k8s.io/pvc/name": claim,
      "csi.storage.k8s.io/pvc/namespace": namespace,
      nqn: `nqn.2000-02.com.mikrotik:${volumeId}`,
    });
    expect(pv.spec?.claimRef?.uid).toBe(bound.metadata?.uid);
    const created = disk(volumeId);
    expect(created).toBeDefined();
    expect(created!.fileSize).toBeGreaterThanOrEqual(GiB);
    expect(created!.exported).toBe(true);
  });

  it("expands it: ControllerExpandVolume grows the disk and the PV", async () => {
    expect(volumeId).not.toBe("");
    await core.patchNamespacedPersistentVolumeClaim(
      { namespace, name: claim, body: { spec: { resources: { requests: { storage: "2Gi" } } } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    const pv = await eventually("PV capacity 2Gi", async () => {
      assertSidecarsRunning();
      const v = await core.readPersistentVolume({ name: pvName });
      return v.spec?.capacity?.storage === "2Gi" ? v : undefined;
    });
    expect(pv.spec?.csi?.volumeHandle).toBe(volumeId);
    expect(disk(volumeId)?.fileSize).toBeGreaterThanOrEqual(2 * GiB);
  });

  it("deletes it: DeleteVolume removes the disk, the PV goes away", async () => {
    expect(volumeId).not.toBe("");
    await core.deleteNamespacedPersistentVolumeClaim({ namespace, name: claim });
    await eventually("PV deleted", async () => {
      assertSidecarsRunning();
      try {
        await core.readPersistentVolume({ name: pvName });
        return undefined;
      } catch (err) {
        return err instanceof k8s.ApiException && err.code === 404 ? true : undefined;
      }
    });
    expect(disk(volumeId)).toBeUndefined();
  });
});
