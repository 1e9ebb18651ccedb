// Filling in the uid of an involved object given by namespace/name (PVC, Pod).
import { LruMap } from "./lru.js";
import type { Clock, ObjectRef } from "./types.js";

export interface UidResolver {
  /** The object's uid, or null if it does not exist. Throws EventSinkError on other failures. */
  lookupUid(ref: ObjectRef): Promise<string | null>;
}

function refKey(ref: ObjectRef): string {
  return `${ref.kind}/${ref.namespace ?? ""}/${ref.name}`;
}

/**
 * Caches another lookup: a found uid for `ttlMs` (a PVC deleted and re-created under the same
 * name gets a new uid, so the cache must not live forever), "not found" for `missingTtlMs` so a
 * burst of events about a deleted PVC costs one GET, not one per event.
 */
export class CachedUidResolver implements UidResolver {
  private readonly cache = new LruMap<string, { uid: string | null; expires: number }>(4096);

  constructor(
    private readonly lookup: (ref: ObjectRef) => Promise<string | null>,
    private readonly clock: Clock,
    private readonly ttlMs = 10 * 60_000,
    private readonly missingTtlMs = 30_000,
  ) {}

  async lookupUid(ref: ObjectRef): Promise<string | null> {
    const key = refKey(ref);
    const now = this.clock.now();
    const hit = this.cache.get(key);
    if (hit && hit.expires > now) return hit.uid;
    const uid = await this.lookup(ref);
    this.cache.set(key, { uid, expires: now + (uid === null ? this.missingTtlMs : this.ttlMs) });
    return uid;
  }
}

/** A fixed table of objects for tests: `add(ref, uid)`; anything not added does not exist. */
export class StaticUidResolver implements UidResolver {
  private readonly uids = new Map<string, string>();
  lookups = 0;

  add(ref: ObjectRef, uid: string): this {
    this.uids.set(refKey(ref), uid);
    return this;
  }

  remove(ref: ObjectRef): void {
    this.uids.delete(refKey(ref));
  }

  async lookupUid(ref: ObjectRef): Promise<string | null> {
    this.lookups++;
    return this.uids.get(refKey(ref)) ?? null;
  }
}
