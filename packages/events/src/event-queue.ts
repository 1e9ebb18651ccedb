// The asynchronous half of the recorder: a bounded queue of Event writes drained by one worker
// that talks to the sink, with retries. Callers only ever enqueue (synchronous, never throws).
import { patchOf, type EventBody } from "./event-body.js";
import { EventSinkError, type EventSink } from "./sink.js";
import type { UidResolver } from "./uid-resolver.js";
import { LOOKUP_KINDS, describeRef } from "./references.js";
import type { EventCounters, EventLogger, ObjectRef } from "./types.js";

export interface RetryPolicy {
  /** Attempts per API call, the first included. */
  maxAttempts: number;
  /** Delay before the first retry; doubled per retry up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 6,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
};

/** Waits `ms`; resolves early (without throwing) when the signal aborts. */
export type SleepFn = (ms: number, signal: AbortSignal) => Promise<void>;

export const realSleep: SleepFn = (ms, signal) =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    // An event retry must not keep the process alive on its own.
    timer.unref();
    signal.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });

export interface QueuedWrite {
  op: "create" | "patch";
  event: EventBody;
  ref: ObjectRef;
}

export interface EventQueueOptions {
  sink: EventSink;
  counters: EventCounters;
  logger: EventLogger;
  uidResolver?: UidResolver | undefined;
  maxQueue?: number;
  retry?: Partial<RetryPolicy>;
  sleep?: SleepFn;
}

const eventKey = (e: EventBody): string => `${e.metadata.namespace}/${e.metadata.name}`;

export class EventQueue {
  private readonly items: QueuedWrite[] = [];
  /** Writes still waiting in the queue, by Event, so a newer update can be folded into them. */
  private readonly pending = new Map<string, QueuedWrite>();
  private readonly maxQueue: number;
  private readonly retry: RetryPolicy;
  private readonly sleep: SleepFn;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly opts: EventQueueOptions) {
    this.maxQueue = opts.maxQueue ?? 1000;
    if (!(this.maxQueue >= 1))
      throw new RangeError(`maxQueue must be at least 1, got ${this.maxQueue}`);
    this.retry = { ...DEFAULT_RETRY_POLICY, ...opts.retry };
    this.sleep = opts.sleep ?? realSleep;
  }

  get length(): number {
    return this.items.length;
  }

  /**
   * Queue a write. A create or patch of an Event that already has a write waiting is folded
   * into that write (it then carries the newest count, lastTimestamp and message), so a burst of
   * repeats costs one API call instead of one per repeat.
   */
  enqueue(write: QueuedWrite): void {
    if (this.closed) {
      this.opts.counters.failed++;
      return;
    }
    const key = eventKey(write.event);
    const waiting = this.pending.get(key);
    if (waiting) {
      waiting.event.count = write.event.count;
      waiting.event.lastTimestamp = write.event.lastTimestamp;
      waiting.event.message = write.event.message;
      return;
    }
    this.items.push(write);
    this.pending.set(key, write);
    while (this.items.length > this.maxQueue) {
      const oldest = this.items.shift();
      if (!oldest) break;
      this.pending.delete(eventKey(oldest.event));
      this.opts.counters.droppedQueueFull++;
    }
    this.kick();
  }

  /** Resolves once everything queued so far has been written or given up. */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stop accepting writes, try to flush for `timeoutMs`, then abandon what is left. */
  async shutdown(timeoutMs: number): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([this.flush(), timedOut]);
    clearTimeout(timer);
    // Cut retry sleeps short; the worker then sees `closed` and gives up what remains.
    this.abort.abort();
    const abandoned = this.items.length;
    this.items.length = 0;
    this.pending.clear();
    this.opts.counters.failed += abandoned;
    await this.flush();
  }

  private kick(): void {
    if (this.running) return;
    // Deferred to a later turn: the caller's synchronous code never waits for the sink, and
    // events recorded in one synchronous burst get folded together before the first call.
    this.running = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.drain())
      .finally(() => {
        this.running = undefined;
        if (this.items.length > 0 && !this.closed) this.kick();
      });
  }

  private async drain(): Promise<void> {
    for (let write = this.items.shift(); write; write = this.items.shift()) {
      this.pending.delete(eventKey(write.event));
      try {
        await this.write(write);
      } catch (err) {
        // write() handles its own errors; this is a last line of defence for bugs.
        this.opts.counters.failed++;
        this.opts.logger.error({ err: String(err) }, "event queue: unexpected error");
      }
    }
  }

  private async write(write: QueuedWrite): Promise<void> {
    const { event } = write;
    const { counters, logger, sink } = this.opts;
    const ctx = {
      event: event.metadata.name,
      namespace: event.metadata.namespace,
      reason: event.reason,
      object: describeRef(write.ref),
    };
    try {
      if (write.op === "patch") {
        try {
          await this.withRetry(() =>
            sink.patch(event.metadata.namespace, event.metadata.name, patchOf(event)),
          );
          counters.patched++;
          return;
        } catch (err) {
          // The Event expired, was deleted, or its create never got through: create it anew,
          // with the count we know about (client-go does the same).
          if (!(err instanceof EventSinkError && err.notFound)) throw err;
          logger.debug(ctx, "event to patch not found; creating it");
        }
      }
      if (!(await this.fillUid(write))) return;
      await this.withRetry(() => sink.create(event));
      counters.posted++;
    } catch (err) {
      counters.failed++;
      const status = err instanceof EventSinkError ? err.status : undefined;
      logger.warn(
        { ...ctx, status, err: err instanceof Error ? err.message : String(err) },
        "event not written",
      );
    }
  }

  /** Fill involvedObject.uid by lookup where needed; false when the object does not exist. */
  private async fillUid(write: QueuedWrite): Promise<boolean> {
    const { ref, event } = write;
    const resolver = this.opts.uidResolver;
    if (event.involvedObject.uid || !resolver || !LOOKUP_KINDS.has(ref.kind)) return true;
    let uid: string | null;
    try {
      uid = await this.withRetry(() => resolver.lookupUid(ref));
    } catch (err) {
      // Not allowed to read the object (403) or the API stays down: the Event is still useful
      // in `kubectl get events`, just not attached to the object's uid.
      this.opts.logger.warn(
        { object: describeRef(ref), err: err instanceof Error ? err.message : String(err) },
        "could not look up the uid of the involved object; posting the event without it",
      );
      return true;
    }
    if (uid === null) {
      this.opts.counters.droppedMissingObject++;
      this.opts.logger.warn(
        { object: describeRef(ref), reason: event.reason, message: event.message },
        "involved object not found; event dropped",
      );
      return false;
    }
    event.involvedObject.uid = uid;
    return true;
  }

  private async withRetry<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        const sinkErr =
          err instanceof EventSinkError ? err : EventSinkError.connection(String(err), err);
        if (!sinkErr.retryable || attempt >= this.retry.maxAttempts || this.abort.signal.aborted)
          throw sinkErr;
        const backoff = Math.min(
          this.retry.maxDelayMs,
          this.retry.baseDelayMs * 2 ** (attempt - 1),
        );
        const delay = Math.min(this.retry.maxDelayMs, Math.max(backoff, sinkErr.retryAfterMs ?? 0));
        this.opts.counters.retries++;
        await this.sleep(delay, this.abort.signal);
        if (this.abort.signal.aborted) throw sinkErr;
      }
    }
  }
}
