import { describe, expect, it } from "vitest";
import { CachedUidResolver } from "./uid-resolver.js";
import { LruMap } from "./lru.js";
import { pvcRef } from "./references.js";
import type { ObjectRef } from "./types.js";
import { ManualClock, MINUTE } from "./test-support/fakes.js";

describe("CachedUidResolver", () => {
  it("asks once per object, and again after the TTL (a re-created PVC gets a new uid)", async () => {
    const clock = new ManualClock();
    const asked: string[] = [];
    let generation = 1;
    const resolver = new CachedUidResolver(async (ref: ObjectRef) => {
      asked.push(ref.name);
      return `${ref.name}-uid-${generation}`;
    }, clock);
    expect(await resolver.lookupUid(pvcRef("ns", "a"))).toBe("a-uid-1");
    expect(await resolver.lookupUid(pvcRef("ns", "a"))).toBe("a-uid-1");
    expect(await resolver.lookupUid(pvcRef("ns", "b"))).toBe("b-uid-1");
    expect(asked).toEqual(["a", "b"]);
    generation = 2;
    clock.advance(10 * MINUTE);
    expect(await resolver.lookupUid(pvcRef("ns", "a"))).toBe("a-uid-2");
    expect(asked).toEqual(["a", "b", "a"]);
  });

  it("does not cache failures", async () => {
    let fail = true;
    const resolver = new CachedUidResolver(async () => {
      if (fail) throw new Error("503");
      return "uid";
    }, new ManualClock());
    await expect(resolver.lookupUid(pvcRef("ns", "a"))).rejects.toThrow("503");
    fail = false;
    expect(await resolver.lookupUid(pvcRef("ns", "a"))).toBe("uid");
  });
});

describe("LruMap", () => {
  it("evicts the least recently used entry", () => {
    const lru = new LruMap<string, number>(2);
    lru.set("a", 1);
    lru.set("b", 2);
    expect(lru.get("a")).toBe(1);
    lru.set("c", 3);
    expect(lru.get("b")).toBeUndefined();
    expect(lru.get("a")).toBe(1);
    expect(lru.get("c")).toBe(3);
    expect(lru.size).toBe(2);
  });
});
