// Event correlation with the semantics of client-go's tools/record (events_cache.go):
//   1. aggregation: similar events (same source, object, type and reason) with 10 distinct
//      messages within 10 minutes of each other become one "(combined from similar events): ..."
//      Event;
//   2. deduplication: an event identical to an earlier one (same source, object, type, reason,
//      message) raises count/lastTimestamp of the existing Event by PATCH instead of a new one;
//   3. spam filter: a token bucket per source+object (burst 25, one token per 5 minutes); an
//      event without a token is dropped.
// The order (aggregate, observe, filter) is client-go's: an event dropped by the spam filter is
// still counted, so the next PATCH that gets through carries the true number of occurrences.
import { LruMap } from "./lru.js";
import { TokenBucket } from "./token-bucket.js";
import { cloneEvent, type EventBody, type EventNamer } from "./event-body.js";
import type { Clock } from "./types.js";

export interface CorrelatorOptions {
  /** Distinct messages of similar events before they are combined (client-go: 10). */
  maxSimilar: number;
  /** Similar events further apart than this start a new group (client-go: 10 minutes). */
  similarWindowMs: number;
  /** Spam filter burst per source+object (client-go: 25). */
  spamBurst: number;
  /** One spam-filter token per this many ms (client-go: 5 minutes). */
  spamRefillMs: number;
  /** Entries per LRU cache (client-go: 4096). */
  cacheSize: number;
}

export const DEFAULT_CORRELATOR_OPTIONS: CorrelatorOptions = {
  maxSimilar: 10,
  similarWindowMs: 10 * 60_000,
  spamBurst: 25,
  spamRefillMs: 5 * 60_000,
  cacheSize: 4096,
};

export const COMBINED_PREFIX = "(combined from similar events): ";

export type Correlation =
  | { action: "create" | "patch"; event: EventBody; aggregated: boolean }
  | { action: "drop"; event: EventBody; aggregated: boolean };

interface SimilarGroup {
  /** Distinct messages seen, oldest first (a Set keeps insertion order). */
  messages: Set<string>;
  last: number;
}

interface Observation {
  name: string;
  count: number;
  firstTimestamp: Date;
}

const SEP = "\u0000";

function objectKey(e: EventBody): string {
  const o = e.involvedObject;
  return [
    e.source.component,
    e.source.host,
    o.kind,
    o.namespace ?? "",
    o.name,
    o.uid ?? "",
    o.apiVersion,
    o.fieldPath ?? "",
  ].join(SEP);
}

function similarKey(e: EventBody): string {
  return [objectKey(e), e.type, e.reason, e.reportingComponent, e.reportingInstance].join(SEP);
}

function identicalKey(e: EventBody): string {
  return [similarKey(e), e.message].join(SEP);
}

export class EventCorrelator {
  private readonly opts: CorrelatorOptions;
  private readonly groups: LruMap<string, SimilarGroup>;
  private readonly observations: LruMap<string, Observation>;
  private readonly buckets: LruMap<string, TokenBucket>;

  constructor(
    private readonly clock: Clock,
    private readonly namer: EventNamer,
    options: Partial<CorrelatorOptions> = {},
  ) {
    this.opts = { ...DEFAULT_CORRELATOR_OPTIONS, ...options };
    this.groups = new LruMap(this.opts.cacheSize);
    this.observations = new LruMap(this.opts.cacheSize);
    this.buckets = new LruMap(this.opts.cacheSize);
  }

  /**
   * Decide what to do with a fresh event (count 1, its own new name, both timestamps = now).
   * The returned event is a copy; the input is not changed.
   */
  correlate(fresh: EventBody): Correlation {
    const { event: aggregatedEvent, key, aggregated } = this.aggregate(fresh);
    const event = this.observe(aggregatedEvent, key);
    const allowed = this.spamBucket(event).tryTake();
    if (!allowed) return { action: "drop", event, aggregated };
    return { action: event.count > 1 ? "patch" : "create", event, aggregated };
  }

  private aggregate(fresh: EventBody): { event: EventBody; key: string; aggregated: boolean } {
    const now = this.clock.now();
    const groupKey = similarKey(fresh);
    let group = this.groups.get(groupKey);
    if (!group || now - group.last > this.opts.similarWindowMs) {
      group = { messages: new Set(), last: now };
    }
    group.messages.add(fresh.message);
    group.last = now;
    this.groups.set(groupKey, group);

    if (group.messages.size < this.opts.maxSimilar) {
      return { event: cloneEvent(fresh), key: identicalKey(fresh), aggregated: false };
    }
    // Keep the set at most maxSimilar-1 so every further new message is combined too.
    // (client-go removes an arbitrary member; we remove the oldest, deterministically.)
    const oldest = group.messages.values().next();
    if (!oldest.done) group.messages.delete(oldest.value);

    const combined = cloneEvent(fresh);
    combined.message = COMBINED_PREFIX + fresh.message;
    combined.metadata.name = this.namer.next(fresh.involvedObject.name);
    combined.count = 1;
    combined.firstTimestamp = new Date(now);
    combined.lastTimestamp = new Date(now);
    // Keyed by the group, so every later combined event updates this same Event.
    return { event: combined, key: groupKey, aggregated: true };
  }

  private observe(event: EventBody, key: string): EventBody {
    const last = this.observations.get(key);
    if (last) {
      event.metadata.name = last.name;
      event.firstTimestamp = new Date(last.firstTimestamp.getTime());
      event.count = last.count + 1;
    }
    this.observations.set(key, {
      name: event.metadata.name,
      count: event.count,
      firstTimestamp: event.firstTimestamp,
    });
    return event;
  }

  private spamBucket(event: EventBody): TokenBucket {
    const key = objectKey(event);
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.opts.spamBurst, this.opts.spamRefillMs, this.clock);
      this.buckets.set(key, bucket);
    }
    return bucket;
  }
}
