// Per-key in-flight locks. CSI allows ABORTED for "an operation is already pending for this
// volume"; the sidecars retry with backoff. So a conflicting RPC fails at once instead of
// queueing behind the first (which could stack up duplicates while the RDS is slow).
//
// Two modes: exclusive (the operation changes the key's object: create, delete, expand) and
// shared (the operation only reads it, e.g. the source of a clone or restore). Shared holders
// coexist, so many volumes can be restored from one snapshot at once, while a delete of that
// snapshot conflicts with all of them.
import { AbortedError } from "./errors.js";

type Hold = { mode: "exclusive"; op: string } | { mode: "shared"; ops: string[] };

export interface LockKeys {
  exclusive?: readonly string[];
  shared?: readonly string[];
}

export class KeyedLocks {
  private readonly held = new Map<string, Hold>();

  /** Keys currently held, with the operation(s) holding each. */
  snapshot(): ReadonlyMap<string, string> {
    return new Map([...this.held].map(([k, h]) => [k, h.mode === "exclusive" ? h.op : h.ops.join(",")]));
  }

  /**
   * Runs `fn` while holding every key in `keys` exclusively (deduplicated). If any key is held,
   * throws AbortedError without running `fn`. Keys are released when `fn` settles.
   */
  withLock<T>(keys: string | readonly string[], op: string, fn: () => Promise<T>): Promise<T> {
    return this.withLocks({ exclusive: typeof keys === "string" ? [keys] : keys }, op, fn);
  }

  /** Like withLock, with some keys held shared (a key in both lists is held exclusively). */
  async withLocks<T>(keys: LockKeys, op: string, fn: () => Promise<T>): Promise<T> {
    const exclusive = [...new Set(keys.exclusive ?? [])];
    const shared = [...new Set(keys.shared ?? [])].filter((k) => !exclusive.includes(k));
    for (const key of exclusive) {
      const h = this.held.get(key);
      if (h) throw new AbortedError(`an operation (${h.mode === "exclusive" ? h.op : h.ops.join(", ")}) is already in progress for ${key}`);
    }
    for (const key of shared) {
      const h = this.held.get(key);
      if (h?.mode === "exclusive") throw new AbortedError(`an operation (${h.op}) is already in progress for ${key}`);
    }
    for (const key of exclusive) this.held.set(key, { mode: "exclusive", op });
    for (const key of shared) {
      const h = this.held.get(key);
      if (h?.mode === "shared") h.ops.push(op);
      else this.held.set(key, { mode: "shared", ops: [op] });
    }
    try {
      return await fn();
    } finally {
      for (const key of exclusive) this.held.delete(key);
      for (const key of shared) {
        const h = this.held.get(key);
        if (h?.mode !== "shared") continue;
        h.ops.splice(h.ops.indexOf(op), 1);
        if (h.ops.length === 0) this.held.delete(key);
      }
    }
  }
}
