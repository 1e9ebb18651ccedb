// The core/v1 Event we write, as a plain structural type. It is assignable to client-node's
// CoreV1Event, but does not import client-node, so the correlator and the in-memory sink work
// (and are tested) without it.
import type { Clock, EventType, ObjectRef } from "./types.js";

export interface InvolvedObject {
  kind: string;
  apiVersion: string;
  namespace?: string;
  name: string;
  uid?: string;
  fieldPath?: string;
}

export interface EventBody {
  apiVersion: "v1";
  kind: "Event";
  metadata: { name: string; namespace: string };
  involvedObject: InvolvedObject;
  type: EventType;
  reason: string;
  message: string;
  source: { component: string; host: string };
  reportingComponent: string;
  reportingInstance: string;
  firstTimestamp: Date;
  lastTimestamp: Date;
  count: number;
}

/** The fields a PATCH of an existing Event changes (client-go patches exactly these). */
export interface EventPatch {
  count: number;
  lastTimestamp: Date;
  message: string;
}

export function patchOf(event: EventBody): EventPatch {
  return { count: event.count, lastTimestamp: event.lastTimestamp, message: event.message };
}

export function cloneEvent(event: EventBody): EventBody {
  return {
    ...event,
    metadata: { ...event.metadata },
    involvedObject: { ...event.involvedObject },
    source: { ...event.source },
    firstTimestamp: new Date(event.firstTimestamp.getTime()),
    lastTimestamp: new Date(event.lastTimestamp.getTime()),
  };
}

export function involvedObjectOf(ref: ObjectRef): InvolvedObject {
  const obj: InvolvedObject = { kind: ref.kind, apiVersion: ref.apiVersion, name: ref.name };
  if (ref.namespace) obj.namespace = ref.namespace;
  if (ref.uid) obj.uid = ref.uid;
  if (ref.fieldPath) obj.fieldPath = ref.fieldPath;
  return obj;
}

const MAX_NAME = 253;

/**
 * Event names `<object name>.<hex nanoseconds>` as client-go makes them, but strictly increasing
 * within this process: two events in the same millisecond (or with a clock stepping back) still
 * get different names.
 */
export class EventNamer {
  private last = 0n;

  constructor(private readonly clock: Clock) {}

  next(objectName: string): string {
    let nanos = BigInt(Math.trunc(this.clock.now())) * 1_000_000n;
    if (nanos <= this.last) nanos = this.last + 1n;
    this.last = nanos;
    const suffix = "." + nanos.toString(16);
    // Keep the whole name a valid DNS subdomain of at most 253 characters.
    let prefix = objectName.slice(0, MAX_NAME - suffix.length);
    while (prefix.length > 0 && !/[a-z0-9]$/.test(prefix)) prefix = prefix.slice(0, -1);
    return (prefix || "event") + suffix;
  }
}
