// The recorder: what the driver calls. event()/eventf()/record() are synchronous, never throw
// and never wait for the API; correlation runs inline (cheap, in memory), the write is queued.
import { format } from "node:util";
import type { KubeConfig } from "@kubernetes/client-node";
import { EventCorrelator, type CorrelatorOptions } from "./correlator.js";
import { EventNamer, involvedObjectOf, type EventBody } from "./event-body.js";
import { EventQueue, type RetryPolicy, type SleepFn } from "./event-queue.js";
import { ApiEventSink, apiUidResolver } from "./api-sink.js";
import { resolveKubeConfig, type KubeConfigSpec } from "./kubeconfig.js";
import { eventNamespace } from "./references.js";
import type { EventSink } from "./sink.js";
import type { UidResolver } from "./uid-resolver.js";
import {
  safeLogger,
  stderrLogger,
  systemClock,
  zeroCounters,
  type Clock,
  type EventCounters,
  type EventLogger,
  type EventSpec,
  type EventType,
  type ObjectRef,
} from "./types.js";

export interface EventRecorder {
  /** False for the no-op recorder (no cluster and no sink): events go nowhere. */
  readonly enabled: boolean;
  event(ref: ObjectRef, type: EventType, reason: string, message: string): void;
  /** Message formatted with node's util.format (%s %d %i %f %j %o %O %%). */
  eventf(ref: ObjectRef, type: EventType, reason: string, fmt: string, ...args: unknown[]): void;
  /** An event built by a reason catalogue helper, e.g. record(pvcRef(ns, n), staleMountDetected({...})). */
  record(ref: ObjectRef, spec: EventSpec): void;
  /** A snapshot of the counters. */
  counters(): EventCounters;
  /** Resolves once every event recorded so far is written (or given up). */
  flush(): Promise<void>;
  /** Stops accepting events, flushes for up to timeoutMs (default 5 s), abandons the rest. */
  shutdown(timeoutMs?: number): Promise<void>;
}

export interface EventRecorderOptions {
  /** The reporting component, e.g. "rds-nvme-csi-node" (source.component, reportingComponent). */
  component: string;
  /** The reporting instance, e.g. the node name (source.host, reportingInstance). */
  instance: string;
  /** Default "auto" (in-cluster, else $KUBECONFIG, else no cluster). Ignored for writes if `sink` is given. */
  kubeConfig?: KubeConfigSpec;
  /** Write here instead of the API server (tests: MemorySink). Correlation still runs in front. */
  sink?: EventSink;
  /** Fills missing PVC/Pod uids; default: a cached GET through the kubeconfig, if there is one. */
  uidResolver?: UidResolver;
  logger?: EventLogger;
  clock?: Clock;
  correlator?: Partial<CorrelatorOptions>;
  /** Writes waiting at most; when full the oldest is dropped (default 1000). */
  maxQueue?: number;
  retry?: Partial<RetryPolicy>;
  sleep?: SleepFn;
  /** Per API request (default 10 s); a request without an answer counts as a connection error. */
  requestTimeoutMs?: number;
  /** Longer messages are cut (with "...") to this many characters (default 1024). */
  maxMessageLength?: number;
}

const EVENT_TYPES: ReadonlySet<string> = new Set<EventType>(["Normal", "Warning"]);

export class CorrelatingEventRecorder implements EventRecorder {
  readonly enabled = true;
  private readonly counts = zeroCounters();
  private readonly clock: Clock;
  private readonly logger: EventLogger;
  private readonly correlator: EventCorrelator;
  private readonly namer: EventNamer;
  private readonly queue: EventQueue;
  private readonly maxMessageLength: number;
  private closed = false;

  constructor(private readonly opts: EventRecorderOptions & { sink: EventSink }) {
    this.clock = opts.clock ?? systemClock;
    this.logger = safeLogger(opts.logger ?? stderrLogger);
    this.namer = new EventNamer(this.clock);
    this.correlator = new EventCorrelator(this.clock, this.namer, opts.correlator);
    this.maxMessageLength = opts.maxMessageLength ?? 1024;
    this.queue = new EventQueue({
      sink: opts.sink,
      counters: this.counts,
      logger: this.logger,
      uidResolver: opts.uidResolver,
      ...(opts.maxQueue === undefined ? {} : { maxQueue: opts.maxQueue }),
      ...(opts.retry === undefined ? {} : { retry: opts.retry }),
      ...(opts.sleep === undefined ? {} : { sleep: opts.sleep }),
    });
  }

  event(ref: ObjectRef, type: EventType, reason: string, message: string): void {
    try {
      this.counts.received++;
      if (this.closed) {
        this.counts.failed++;
        return;
      }
      if (!EVENT_TYPES.has(type)) {
        this.counts.failed++;
        this.logger.error(
          { type, reason, object: ref.name },
          "unsupported event type; event ignored",
        );
        return;
      }
      const result = this.correlator.correlate(this.fresh(ref, type, reason, message));
      if (result.action === "drop") {
        this.counts.dropped++;
        this.logger.debug({ reason, object: ref.name }, "event dropped by the spam filter");
        return;
      }
      if (result.aggregated) this.counts.aggregated++;
      if (result.action === "patch") this.counts.deduplicated++;
      this.queue.enqueue({ op: result.action, event: result.event, ref });
    } catch (err) {
      // Never into the caller: an event is a side channel, the operation it reports matters more.
      this.counts.failed++;
      this.logger.error(
        { reason, err: err instanceof Error ? err.message : String(err) },
        "recording an event failed",
      );
    }
  }

  eventf(ref: ObjectRef, type: EventType, reason: string, fmt: string, ...args: unknown[]): void {
    let message: string;
    try {
      message = format(fmt, ...args);
    } catch (err) {
      message = `${fmt} (formatting failed: ${err instanceof Error ? err.message : String(err)})`;
    }
    this.event(ref, type, reason, message);
  }

  record(ref: ObjectRef, spec: EventSpec): void {
    this.event(ref, spec.type, spec.reason, spec.message);
  }

  counters(): EventCounters {
    return { ...this.counts };
  }

  flush(): Promise<void> {
    return this.queue.flush();
  }

  async shutdown(timeoutMs = 5000): Promise<void> {
    this.closed = true;
    await this.queue.shutdown(timeoutMs);
  }

  private fresh(ref: ObjectRef, type: EventType, reason: string, message: string): EventBody {
    const now = new Date(this.clock.now());
    const text =
      message.length > this.maxMessageLength
        ? message.slice(0, this.maxMessageLength - 3) + "..."
        : message;
    return {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: this.namer.next(ref.name), namespace: eventNamespace(ref) },
      involvedObject: involvedObjectOf(ref),
      type,
      reason,
      message: text,
      source: { component: this.opts.component, host: this.opts.instance },
      reportingComponent: this.opts.component,
      reportingInstance: this.opts.instance,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
  }
}

/** The recorder when there is no cluster: accepts everything, writes nothing. */
export class NoopEventRecorder implements EventRecorder {
  readonly enabled = false;
  private readonly counts = zeroCounters();

  event(): void {
    this.counts.received++;
  }
  eventf(): void {
    this.counts.received++;
  }
  record(): void {
    this.counts.received++;
  }
  counters(): EventCounters {
    return { ...this.counts };
  }
  async flush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

/**
 * Build the recorder. Never throws for a missing cluster: with no sink and no usable
 * kubeconfig it returns a NoopEventRecorder (and logs why, if a kubeconfig was asked for).
 */
export function createEventRecorder(opts: EventRecorderOptions): EventRecorder {
  if (!opts.component || !opts.instance)
    throw new TypeError("createEventRecorder: component and instance are required");
  const logger = safeLogger(opts.logger ?? stderrLogger);
  const clock = opts.clock ?? systemClock;
  let kubeConfig: KubeConfig | undefined;
  try {
    // With an injected sink, "auto" would only serve uid lookups; take a kubeconfig only if asked.
    const spec = opts.kubeConfig ?? (opts.sink ? "none" : "auto");
    const resolved = resolveKubeConfig(spec);
    kubeConfig = resolved?.kubeConfig;
    if (resolved) logger.info({ source: resolved.source }, "events: using kubeconfig");
  } catch (err) {
    logger.error(
      { err: err instanceof Error ? err.message : String(err) },
      "events: kubeconfig unusable; events disabled",
    );
  }
  const sink =
    opts.sink ?? (kubeConfig ? new ApiEventSink(kubeConfig, opts.requestTimeoutMs) : undefined);
  if (!sink) return new NoopEventRecorder();
  const uidResolver =
    opts.uidResolver ??
    (kubeConfig ? apiUidResolver(kubeConfig, clock, opts.requestTimeoutMs) : undefined);
  return new CorrelatingEventRecorder({
    ...opts,
    logger,
    clock,
    sink,
    ...(uidResolver ? { uidResolver } : {}),
  });
}
