// Events of the node plugin, on the PVC a volume belongs to. The PVC comes from the volume context
// (the controller copies csi.storage.k8s.io/pvc/{name,namespace} into it) and is kept in the volume
// record; when the context lacks it, the PV's claimRef is looked up (PV name = volume ID for
// volumes this driver provisions) through an injected lookup, which exists only with a cluster.
// Without a cluster the recorder is a no-op and nothing here can fail a CSI call.
import { pvcRef, type EventRecorder, type EventSpec, type ObjectRef } from "@rds-nvme-csi/events";
import type { Logger } from "pino";

export const PVC_NAME_KEY = "csi.storage.k8s.io/pvc/name";
export const PVC_NAMESPACE_KEY = "csi.storage.k8s.io/pvc/namespace";

export interface PvcId {
  namespace: string;
  name: string;
}

/** PVC named in a volume context, if both keys are there. */
export function pvcFromContext(ctx: Record<string, string> | undefined): PvcId | undefined {
  const name = ctx?.[PVC_NAME_KEY];
  const namespace = ctx?.[PVC_NAMESPACE_KEY];
  return name && namespace ? { namespace, name } : undefined;
}

/** Finds the PVC bound to the PV of a volume (its claimRef). Undefined when there is none. */
export type ClaimRefLookup = (volumeId: string) => Promise<PvcId | undefined>;

export class NodeEvents {
  constructor(
    private readonly recorder: EventRecorder,
    readonly nodeName: string,
    private readonly log: Logger,
    private readonly claimRefLookup?: ClaimRefLookup,
  ) {}

  get enabled(): boolean {
    return this.recorder.enabled;
  }

  /** The PVC of a volume: the known one, else the claimRef lookup (errors only logged). */
  async pvcOf(volumeId: string, known?: PvcId): Promise<PvcId | undefined> {
    if (known) return known;
    if (!this.claimRefLookup || !this.recorder.enabled) return undefined;
    try {
      return await this.claimRefLookup(volumeId);
    } catch (err) {
      this.log.warn({ volumeId, err: (err as Error).message }, "claimRef lookup failed; event not attached to a PVC");
      return undefined;
    }
  }

  /** Records `spec` on the PVC of the volume; without a PVC the event is logged only. */
  async emit(volumeId: string, known: PvcId | undefined, spec: EventSpec): Promise<void> {
    const pvc = await this.pvcOf(volumeId, known);
    this.log[spec.type === "Warning" ? "warn" : "info"]({ volumeId, reason: spec.reason, pvc }, spec.message);
    if (!pvc) return;
    const ref: ObjectRef = pvcRef(pvc.namespace, pvc.name);
    this.recorder.record(ref, spec);
  }

  flush(): Promise<void> {
    return this.recorder.flush();
  }

  shutdown(timeoutMs?: number): Promise<void> {
    return this.recorder.shutdown(timeoutMs);
  }
}
