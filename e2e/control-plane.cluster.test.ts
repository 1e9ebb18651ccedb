// The local control plane itself: the API server serves the pinned version over TLS with our
// admin certificate, and the controller-manager's PV binder and namespace controller act on
// objects (a static PV and a PVC end up Bound to each other; a deleted namespace goes away).
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KUBECONFIG_ENV } from "./local-cluster/cluster.js";
import { eventually, loadKubeConfig, uniqueName } from "./support/kube.js";

describe("local control plane", () => {
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  const namespace = uniqueName("cp");
  const pvName = uniqueName("pv-static");

  beforeAll(async () => {
    kc = loadKubeConfig();
    core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  });

  afterAll(async () => {
    await core?.deleteNamespace({ name: namespace }).catch(() => undefined);
    await core?.deletePersistentVolume({ name: pvName }).catch(() => undefined);
  });

  it("serves the pinned Kubernetes version to the admin certificate", async () => {
    expect(process.env[KUBECONFIG_ENV]).toBeTruthy();
    const version = await kc.makeApiClient(k8s.VersionApi).getCode();
    expect(version.gitVersion).toMatch(/^v1\.36\.3/);
  });

  it("binds a PVC to a matching static PV (controller-manager's PV binder)", async () => {
    await core.createPersistentVolume({
      body: {
        metadata: { name: pvName },
        spec: {
          capacity: { storage: "1Gi" },
          accessModes: ["ReadWriteOnce"],
          storageClassName: "manual",
          persistentVolumeReclaimPolicy: "Retain",
          hostPath: { path: "/nonexistent-never-mounted" },
        },
      },
    });
    await core.createNamespacedPersistentVolumeClaim({
      namespace,
      body: {
        metadata: { name: "claim" },
        spec: { accessModes: ["ReadWriteOnce"], storageClassName: "manual", resources: { requests: { storage: "1Gi" } } },
      },
    });
    const pvc = await eventually("PVC Bound", async () => {
      const c = await core.readNamespacedPersistentVolumeClaim({ namespace, name: "claim" });
      return c.status?.phase === "Bound" ? c : undefined;
    });
    expect(pvc.spec?.volumeName).toBe(pvName);
    const pv = await core.readPersistentVolume({ name: pvName });
    expect(pv.spec?.claimRef?.name).toBe("claim");
    expect(pv.spec?.claimRef?.namespace).toBe(namespace);
  });

  it("finishes deleting a namespace (namespace controller and PVC protection)", async () => {
    const doomed = uniqueName("cp-doomed");
    await core.createNamespace({ body: { metadata: { name: doomed } } });
    await core.createNamespacedConfigMap({ namespace: doomed, body: { metadata: { name: "x" }, data: { a: "b" } } });
    await core.deleteNamespace({ name: doomed });
    await eventually("namespace gone", async () => {
      try {
        await core.readNamespace({ name: doomed });
        return undefined;
      } catch (err) {
        return isNotFound(err) ? true : undefined;
      }
    });
  });
});

function isNotFound(err: unknown): boolean {
  return err instanceof k8s.ApiException && err.code === 404;
}
