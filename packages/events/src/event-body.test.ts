import { describe, expect, it } from "vitest";
import { EventNamer } from "./event-body.js";
import { ManualClock } from "./test-support/fakes.js";

describe("EventNamer", () => {
  it("makes <object name>.<hex nanoseconds> names, like client-go", () => {
    const clock = new ManualClock(1_700_000_000_123);
    expect(new EventNamer(clock).next("pvc-1")).toBe(
      "pvc-1." + (1_700_000_000_123n * 1_000_000n).toString(16),
    );
  });

  it("never repeats a name, even within one millisecond or when the clock steps back", () => {
    const clock = new ManualClock();
    const namer = new EventNamer(clock);
    const names = new Set<string>();
    for (let i = 0; i < 1000; i++) names.add(namer.next("pvc"));
    clock.advance(-5000);
    for (let i = 0; i < 1000; i++) names.add(namer.next("pvc"));
    expect(names.size).toBe(2000);
  });

  it("keeps names within 253 characters and ending the prefix on an alphanumeric", () => {
    const namer = new EventNamer(new ManualClock());
    // The cut lands right after the "-", which must not end the prefix.
    const name = namer.next("a".repeat(235) + "-" + "b".repeat(40));
    expect(name.startsWith("a".repeat(235) + ".")).toBe(true);
    expect(name.length).toBeLessThanOrEqual(253);
    expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\.[0-9a-f]+$/);
  });
});
