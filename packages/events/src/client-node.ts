// @kubernetes/client-node, loaded on first use. Once loaded it holds ~80 MiB resident, and a node
// plugin without a cluster (kubeConfig "none", an injected sink, "auto" finding nothing) never
// needs it, so no module of this package imports it at load time (type-only imports are erased).
//
// It is loaded with require(): client-node 1.x is ESM-only without top-level await, which Node
// >= 20.19 (our engines) loads synchronously. That keeps resolveKubeConfig(), createEventRecorder()
// and new ApiEventSink() synchronous, as they were. It is the same module instance that
// `import("@kubernetes/client-node")` returns, so instanceof checks hold across both.
import { createRequire } from "node:module";
import type * as k8s from "@kubernetes/client-node";

export type ClientNode = typeof k8s;

let loaded: ClientNode | undefined;

/** The client-node module, loaded now if this is the first call. */
export function clientNode(): ClientNode {
  loaded ??= createRequire(import.meta.url)("@kubernetes/client-node") as ClientNode;
  return loaded;
}
