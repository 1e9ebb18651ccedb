// Object references for the objects a CSI node plugin reports about.
import type { ObjectRef } from "./types.js";

/**
 * A PersistentVolumeClaim by namespace and name. The uid is looked up with one GET before the
 * first Event is created (cached); if the PVC does not exist the event is logged and dropped.
 * `kubectl describe pvc` only lists Events whose involvedObject.uid matches, hence the lookup.
 */
export function pvcRef(namespace: string, name: string, uid?: string): ObjectRef {
  return {
    kind: "PersistentVolumeClaim",
    apiVersion: "v1",
    namespace,
    name,
    ...(uid ? { uid } : {}),
  };
}

/** A Pod; without a uid it is looked up like a PVC. */
export function podRef(namespace: string, name: string, uid?: string): ObjectRef {
  return { kind: "Pod", apiVersion: "v1", namespace, name, ...(uid ? { uid } : {}) };
}

/**
 * A Node (cluster-scoped: its Events go to the `default` namespace). Like the kubelet, the uid
 * defaults to the node name; `kubectl describe node` searches for both the real uid and the name.
 */
export function nodeRef(name: string, uid?: string): ObjectRef {
  return { kind: "Node", apiVersion: "v1", name, uid: uid ?? name };
}

/** Kinds whose uid the recorder fills by a GET when the caller did not give one. */
export const LOOKUP_KINDS: ReadonlySet<string> = new Set(["PersistentVolumeClaim", "Pod"]);

/** The namespace an Event about `ref` lives in: the object's own, or `default` if cluster-scoped. */
export function eventNamespace(ref: ObjectRef): string {
  return ref.namespace && ref.namespace.length > 0 ? ref.namespace : "default";
}

export function describeRef(ref: ObjectRef): string {
  return ref.namespace ? `${ref.kind} ${ref.namespace}/${ref.name}` : `${ref.kind} ${ref.name}`;
}
