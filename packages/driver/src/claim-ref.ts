// Fallback for finding a volume's PVC when the volume context does not name it: the PV's claimRef.
// Volumes this driver provisions have PV name = CSI volume name = volume ID (external-provisioner
// names the PV `pvc-<uid>` and passes that as the CreateVolume name); if no PV has that name, the
// PV list is searched for spec.csi.volumeHandle. Results are cached (a PV's claim does not change
// while it is bound).
import type * as k8s from "@kubernetes/client-node";
import type { ClaimRefLookup, PvcId } from "./node-events.js";

export function pvClaimRefLookup(kubeConfig: k8s.KubeConfig, driverName: string): ClaimRefLookup {
  // client-node is loaded on first use only (it is large), i.e. only on nodes with a cluster.
  let core: k8s.CoreV1Api | undefined;
  const api = async () => (core ??= kubeConfig.makeApiClient((await import("@kubernetes/client-node")).CoreV1Api));
  const cache = new Map<string, PvcId>();
  const claimOf = (pv: k8s.V1PersistentVolume): PvcId | undefined => {
    const ref = pv.spec?.claimRef;
    return ref?.name && ref.namespace ? { namespace: ref.namespace, name: ref.name } : undefined;
  };
  return async (volumeId) => {
    const hit = cache.get(volumeId);
    if (hit) return hit;
    let found: PvcId | undefined;
    try {
      const pv = await (await api()).readPersistentVolume({ name: volumeId });
      if (pv.spec?.csi?.volumeHandle === volumeId) found = claimOf(pv);
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
    if (!found) {
      const list = await (await api()).listPersistentVolume();
      const pv = list.items.find((p) => p.spec?.csi?.driver === driverName && p.spec.csi.volumeHandle === volumeId);
      if (pv) found = claimOf(pv);
    }
    if (found) cache.set(volumeId, found);
    return found;
  };
}
