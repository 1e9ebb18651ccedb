// Where Events are written. The recorder talks to an EventSink; ApiEventSink (api-sink.ts)
// writes to the Kubernetes API, MemorySink keeps everything in memory for tests.
import { cloneEvent, type EventBody, type EventPatch } from "./event-body.js";

export interface EventSink {
  /** POST a new Event into event.metadata.namespace. */
  create(event: EventBody): Promise<void>;
  /** Strategic-merge PATCH of count/lastTimestamp/message of an existing Event. */
  patch(namespace: string, name: string, patch: EventPatch): Promise<void>;
}

/**
 * A failed sink (or lookup) call. `status` is the HTTP status; undefined means the request did
 * not get an HTTP answer (connection refused/reset, DNS, timeout).
 */
export class EventSinkError extends Error {
  override readonly name = "EventSinkError";
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    opts: { status?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
  }

  static http(status: number, message = `HTTP ${status}`, retryAfterMs?: number): EventSinkError {
    return new EventSinkError(message, {
      status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }

  static connection(message = "connection refused", cause?: unknown): EventSinkError {
    return new EventSinkError(message, { cause });
  }

  /** 5xx, 429 and errors without an HTTP answer are worth retrying; other 4xx are not. */
  get retryable(): boolean {
    return this.status === undefined || this.status === 429 || this.status >= 500;
  }

  get notFound(): boolean {
    return this.status === 404;
  }
}

export type SinkWrite =
  | { op: "create"; namespace: string; name: string; body: EventBody }
  | { op: "patch"; namespace: string; name: string; patch: EventPatch };

type FailureOp = "create" | "patch" | "any";

/**
 * An in-memory sink for tests: records every successful write in order (`writes`) and keeps
 * the resulting Events (`events()`, patches applied). Failures can be scripted with
 * failNext(); a PATCH of an Event it does not hold answers 404, like the API server.
 */
export class MemorySink implements EventSink {
  readonly writes: SinkWrite[] = [];
  /** Every call, including failed ones. */
  calls = 0;
  private readonly stored = new Map<string, EventBody>();
  private readonly failures: { op: FailureOp; error: Error }[] = [];

  /** Make the next matching calls fail with these errors, in order. */
  failNext(op: FailureOp, ...errors: Error[]): void {
    for (const error of errors) this.failures.push({ op, error });
  }

  async create(event: EventBody): Promise<void> {
    this.calls++;
    this.takeFailure("create");
    const key = `${event.metadata.namespace}/${event.metadata.name}`;
    if (this.stored.has(key))
      throw EventSinkError.http(409, `events "${event.metadata.name}" already exists`);
    const copy = cloneEvent(event);
    this.stored.set(key, copy);
    this.writes.push({
      op: "create",
      namespace: event.metadata.namespace,
      name: event.metadata.name,
      body: cloneEvent(copy),
    });
  }

  async patch(namespace: string, name: string, patch: EventPatch): Promise<void> {
    this.calls++;
    this.takeFailure("patch");
    const existing = this.stored.get(`${namespace}/${name}`);
    if (!existing) throw EventSinkError.http(404, `events "${name}" not found`);
    existing.count = patch.count;
    existing.lastTimestamp = new Date(patch.lastTimestamp.getTime());
    existing.message = patch.message;
    this.writes.push({
      op: "patch",
      namespace,
      name,
      patch: { ...patch, lastTimestamp: new Date(patch.lastTimestamp.getTime()) },
    });
  }

  /** The Events as the API server would now hold them, in creation order. */
  events(): EventBody[] {
    return [...this.stored.values()].map(cloneEvent);
  }

  /** Events with this reason (and, if given, about the object with this name). */
  find(reason: string, objectName?: string): EventBody[] {
    return this.events().filter(
      (e) =>
        e.reason === reason && (objectName === undefined || e.involvedObject.name === objectName),
    );
  }

  /** Forget everything recorded so far (scripted failures too). */
  clear(): void {
    this.writes.length = 0;
    this.stored.clear();
    this.failures.length = 0;
    this.calls = 0;
  }

  private takeFailure(op: "create" | "patch"): void {
    const i = this.failures.findIndex((f) => f.op === op || f.op === "any");
    if (i < 0) return;
    const [failure] = this.failures.splice(i, 1);
    if (failure) throw failure.error;
  }
}
