// Shared types of the events package. Kept free of @kubernetes/client-node so that the
// correlator, the queue and the test sink can be used (and unit-tested) without it.

/** core/v1 Event types. Kubernetes knows exactly these two. */
export type EventType = "Normal" | "Warning";

/**
 * The object an event is about. `uid` may be left out for namespaced objects the recorder
 * can look up (PVC, Pod): it is filled by one cached GET before the first create.
 */
export interface ObjectRef {
  readonly kind: string;
  readonly apiVersion: string;
  /** Absent for cluster-scoped objects (Node); their events go to the `default` namespace. */
  readonly namespace?: string;
  readonly name: string;
  readonly uid?: string;
  readonly fieldPath?: string;
}

/** A ready-made (type, reason, message) triple, as built by the reason catalogue helpers. */
export interface EventSpec {
  readonly type: EventType;
  readonly reason: string;
  readonly message: string;
}

/** Milliseconds since the epoch. Injected everywhere so tests control time. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** The subset of a pino logger we use; pino loggers satisfy it as they are. */
export interface EventLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Default logger: warnings and errors as one JSON line on stderr, nothing else. */
export const stderrLogger: EventLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (obj, msg) =>
    process.stderr.write(JSON.stringify({ level: "warn", pkg: "events", msg, ...obj }) + "\n"),
  error: (obj, msg) =>
    process.stderr.write(JSON.stringify({ level: "error", pkg: "events", msg, ...obj }) + "\n"),
};

export const silentLogger: EventLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/**
 * What happened to the events given to a recorder. Monotonic counters, suitable for export as
 * Prometheus counters.
 */
export interface EventCounters {
  /** Calls of event()/eventf()/record(). */
  received: number;
  /** Events created on the API server (successful POSTs). */
  posted: number;
  /** Successful PATCHes that raised count/lastTimestamp of an existing Event. */
  patched: number;
  /** Events folded into an existing Event (identical to an earlier one) instead of a new one. */
  deduplicated: number;
  /** Events turned into a "(combined from similar events)" Event. */
  aggregated: number;
  /** Events dropped by the per-object spam filter (token bucket). */
  dropped: number;
  /** Queued writes dropped because the queue was full (the oldest goes). */
  droppedQueueFull: number;
  /** Events dropped because the involved object does not exist (e.g. the PVC is gone). */
  droppedMissingObject: number;
  /** Writes given up: a non-retryable error, or retries exhausted. */
  failed: number;
  /** Retried API calls (each retry counts once). */
  retries: number;
}

export function zeroCounters(): EventCounters {
  return {
    received: 0,
    posted: 0,
    patched: 0,
    deduplicated: 0,
    aggregated: 0,
    dropped: 0,
    droppedQueueFull: 0,
    droppedMissingObject: 0,
    failed: 0,
    retries: 0,
  };
}

/** Wraps a logger so that a throwing logger can never break event delivery or its caller. */
export function safeLogger(logger: EventLogger): EventLogger {
  const guard =
    (level: keyof EventLogger) =>
    (obj: object, msg: string): void => {
      try {
        logger[level](obj, msg);
      } catch {
        // Nothing sensible left to do: logging about a failed log call could fail the same way.
      }
    };
  return { debug: guard("debug"), info: guard("info"), warn: guard("warn"), error: guard("error") };
}
