// The Kubernetes side: an EventSink writing core/v1 Events and a uid lookup for PVCs and Pods,
// both through @kubernetes/client-node 1.4 (object-parameter API).
// client-node is loaded through clientNode() when a sink or resolver is built (by then the caller
// holds a KubeConfig, so it is loaded already); importing this module does not load it.
import type { ApiException, CoreV1Api, CoreV1Event, KubeConfig } from "@kubernetes/client-node";
import { clientNode } from "./client-node.js";
import type { EventBody, EventPatch } from "./event-body.js";
import { EventSinkError, type EventSink } from "./sink.js";
import { CachedUidResolver } from "./uid-resolver.js";
import type { Clock, ObjectRef } from "./types.js";

/** RFC 3339 with whole seconds, as metav1.Time serialises. */
function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function retryAfterMs(headers: Record<string, string> | undefined): number | undefined {
  const value = headers?.["retry-after"];
  if (value === undefined) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/** The message of a Kubernetes Status body (client-node hands it over as text or as an object). */
function statusMessage(body: unknown): string | undefined {
  let value: unknown = body;
  if (typeof body === "string") {
    try {
      value = JSON.parse(body);
    } catch {
      return body.length > 0 ? body.slice(0, 300) : undefined;
    }
  }
  if (
    typeof value === "object" &&
    value !== null &&
    "message" in value &&
    typeof value.message === "string"
  )
    return value.message;
  return undefined;
}

/** Turn whatever client-node threw into an EventSinkError with the HTTP status, if any. */
export function toSinkError(err: unknown, what: string): EventSinkError {
  if (err instanceof EventSinkError) return err;
  // An ApiException carries a numeric HTTP code; checking that first keeps an ordinary error
  // (a timeout, a system error with a string code) from loading client-node just to be classed.
  const maybeApi = err instanceof Error && typeof (err as { code?: unknown }).code === "number";
  if (maybeApi && err instanceof clientNode().ApiException) {
    const e = err as ApiException<unknown>;
    const detail = statusMessage(e.body) ?? `HTTP ${e.code}`;
    return new EventSinkError(`${what}: ${detail}`, {
      status: e.code,
      retryAfterMs: retryAfterMs(e.headers),
      cause: err,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return EventSinkError.connection(`${what}: ${message}`, err);
}

/** Races a request against a timer: a hung API server must not stall the queue forever. */
async function withTimeout<T>(what: string, timeoutMs: number, call: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(EventSinkError.connection(`${what}: no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([call(), timeout]);
  } catch (err) {
    throw toSinkError(err, what);
  } finally {
    clearTimeout(timer);
  }
}

export class ApiEventSink implements EventSink {
  private readonly core: CoreV1Api;

  constructor(
    kubeConfig: KubeConfig,
    private readonly requestTimeoutMs = 10_000,
  ) {
    this.core = kubeConfig.makeApiClient(clientNode().CoreV1Api);
  }

  async create(event: EventBody): Promise<void> {
    const body: CoreV1Event = event;
    const namespace = event.metadata.namespace;
    await withTimeout(
      `create event ${namespace}/${event.metadata.name}`,
      this.requestTimeoutMs,
      () => this.core.createNamespacedEvent({ namespace, body }),
    );
  }

  async patch(namespace: string, name: string, patch: EventPatch): Promise<void> {
    const body = {
      count: patch.count,
      lastTimestamp: rfc3339(patch.lastTimestamp),
      message: patch.message,
    };
    // client-node would otherwise pick application/json-patch+json for a PATCH.
    const { setHeaderOptions, PatchStrategy } = clientNode();
    const options = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);
    await withTimeout(`patch event ${namespace}/${name}`, this.requestTimeoutMs, () =>
      this.core.patchNamespacedEvent({ namespace, name, body }, options),
    );
  }
}

/** Looks up PVC and Pod uids with a GET, cached (see CachedUidResolver). */
export function apiUidResolver(
  kubeConfig: KubeConfig,
  clock: Clock,
  requestTimeoutMs = 10_000,
): CachedUidResolver {
  const core = kubeConfig.makeApiClient(clientNode().CoreV1Api);
  const lookup = async (ref: ObjectRef): Promise<string | null> => {
    const namespace = ref.namespace ?? "default";
    const what = `get ${ref.kind} ${namespace}/${ref.name}`;
    try {
      const obj = await withTimeout(what, requestTimeoutMs, () => {
        switch (ref.kind) {
          case "PersistentVolumeClaim":
            return core.readNamespacedPersistentVolumeClaim({ namespace, name: ref.name });
          case "Pod":
            return core.readNamespacedPod({ namespace, name: ref.name });
          default:
            throw new EventSinkError(`${what}: no lookup for kind ${ref.kind}`, { status: 400 });
        }
      });
      return obj.metadata?.uid ?? null;
    } catch (err) {
      if (err instanceof EventSinkError && err.notFound) return null;
      throw err;
    }
  };
  return new CachedUidResolver(lookup, clock);
}
