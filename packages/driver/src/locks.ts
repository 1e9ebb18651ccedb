// Per-key in-flight locks. CSI allows ABORTED for "an operation is already pending for this
// volume"; the sidecars retry with backoff. So a second RPC on a busy key fails at once instead of
// queueing behind the first (which could stack up duplicates while the RDS is slow).
import { AbortedError } from "./errors.js";

export class KeyedLocks {
  private readonly held = new Map<string, string>();

  /** Keys currently held, with the operation holding each. */
  snapshot(): ReadonlyMap<string, string> {
    return new Map(this.held);
  }

  /**
   * Runs `fn` while holding every key in `keys` (deduplicated). If any key is held, throws
   * AbortedError without running `fn`. Keys are released when `fn` settles.
   */
  async withLock<T>(keys: string | readonly string[], op: string, fn: () => Promise<T>): Promise<T> {
    const list = [...new Set(typeof keys === "string" ? [keys] : keys)];
    for (const key of list) {
      const holder = this.held.get(key);
      if (holder !== undefined) {
        throw new AbortedError(`an operation (${holder}) is already in progress for ${key}`);
      }
    }
    for (const key of list) this.held.set(key, op);
    try {
      return await fn();
    } finally {
      for (const key of list) this.held.delete(key);
    }
  }
}
