import { describe, expect, it } from "vitest";
import { COMBINED_PREFIX, EventCorrelator } from "./correlator.js";
import { EventNamer, involvedObjectOf, type EventBody } from "./event-body.js";
import { nodeRef, pvcRef } from "./references.js";
import type { EventType, ObjectRef } from "./types.js";
import { ManualClock, MINUTE } from "./test-support/fakes.js";

function setup(options = {}) {
  const clock = new ManualClock();
  const namer = new EventNamer(clock);
  const correlator = new EventCorrelator(clock, namer, options);
  const fresh = (
    ref: ObjectRef,
    reason: string,
    message: string,
    type: EventType = "Warning",
    host = "node-a",
  ): EventBody => {
    const now = new Date(clock.now());
    return {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: namer.next(ref.name), namespace: ref.namespace ?? "default" },
      involvedObject: involvedObjectOf(ref),
      type,
      reason,
      message,
      source: { component: "rds-nvme-csi-node", host },
      reportingComponent: "rds-nvme-csi-node",
      reportingInstance: host,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
  };
  return { clock, correlator, fresh };
}

describe("EventCorrelator deduplication", () => {
  it("turns an identical event into a patch of the first one with count+1 and a new lastTimestamp", () => {
    const { clock, correlator, fresh } = setup();
    const pvc = pvcRef("ns", "data");
    const first = correlator.correlate(fresh(pvc, "MountFailure", "boom"));
    expect(first.action).toBe("create");
    expect(first.event.count).toBe(1);

    clock.advance(1000);
    const second = correlator.correlate(fresh(pvc, "MountFailure", "boom"));
    expect(second.action).toBe("patch");
    expect(second.event.metadata.name).toBe(first.event.metadata.name);
    expect(second.event.count).toBe(2);
    expect(second.event.firstTimestamp.getTime()).toBe(first.event.firstTimestamp.getTime());
    expect(second.event.lastTimestamp.getTime()).toBe(first.event.lastTimestamp.getTime() + 1000);
  });

  it("keeps events apart that differ in message, type, reason, object or source", () => {
    const { correlator, fresh } = setup();
    const pvc = pvcRef("ns", "data");
    const names = new Set(
      [
        fresh(pvc, "R", "m"),
        fresh(pvc, "R", "m2"),
        fresh(pvc, "R", "m", "Normal"),
        fresh(pvc, "R2", "m"),
        fresh(pvcRef("ns", "other"), "R", "m"),
        fresh(pvcRef("ns2", "data"), "R", "m"),
        fresh(pvc, "R", "m", "Warning", "node-b"),
      ].map((e) => {
        const c = correlator.correlate(e);
        expect(c.action).toBe("create");
        return c.event.metadata.name;
      }),
    );
    expect(names.size).toBe(7);
  });

  it("does not change the event it was given", () => {
    const { correlator, fresh } = setup();
    const pvc = pvcRef("ns", "data");
    correlator.correlate(fresh(pvc, "R", "m"));
    const input = fresh(pvc, "R", "m");
    const name = input.metadata.name;
    correlator.correlate(input);
    expect(input.count).toBe(1);
    expect(input.metadata.name).toBe(name);
  });
});

describe("EventCorrelator aggregation", () => {
  it("combines the 10th distinct similar message within 10 minutes, and keeps combining into one Event", () => {
    const { clock, correlator, fresh } = setup();
    const pvc = pvcRef("ns", "data");
    for (let i = 1; i <= 9; i++) {
      const c = correlator.correlate(fresh(pvc, "RecoveryFailed", `attempt ${i}`));
      expect(c.action).toBe("create");
      expect(c.aggregated).toBe(false);
      expect(c.event.message).toBe(`attempt ${i}`);
      clock.advance(MINUTE);
    }
    const tenth = correlator.correlate(fresh(pvc, "RecoveryFailed", "attempt 10"));
    expect(tenth.aggregated).toBe(true);
    expect(tenth.action).toBe("create");
    expect(tenth.event.message).toBe(COMBINED_PREFIX + "attempt 10");
    expect(tenth.event.count).toBe(1);

    clock.advance(MINUTE);
    const eleventh = correlator.correlate(fresh(pvc, "RecoveryFailed", "attempt 11"));
    expect(eleventh.aggregated).toBe(true);
    expect(eleventh.action).toBe("patch");
    expect(eleventh.event.metadata.name).toBe(tenth.event.metadata.name);
    expect(eleventh.event.count).toBe(2);
    expect(eleventh.event.message).toBe(COMBINED_PREFIX + "attempt 11");
  });

  it("does not combine when the similar events are more than 10 minutes apart", () => {
    const { clock, correlator, fresh } = setup();
    const pvc = pvcRef("ns", "data");
    for (let i = 1; i <= 30; i++) {
      const c = correlator.correlate(fresh(pvc, "RecoveryFailed", `attempt ${i}`));
      expect(c.aggregated).toBe(false);
      expect(c.event.message).toBe(`attempt ${i}`);
      clock.advance(10 * MINUTE + 1);
    }
  });

  it("starts counting again after a quiet gap longer than the window", () => {
    const { clock, correlator, fresh } = setup({ spamBurst: 1000 });
    const pvc = pvcRef("ns", "data");
    for (let i = 1; i <= 9; i++)
      expect(correlator.correlate(fresh(pvc, "R", `a${i}`)).aggregated).toBe(false);
    clock.advance(11 * MINUTE);
    // The group was reset: nine more distinct messages pass before combining starts.
    for (let i = 1; i <= 9; i++)
      expect(correlator.correlate(fresh(pvc, "R", `b${i}`)).aggregated).toBe(false);
    expect(correlator.correlate(fresh(pvc, "R", "b10")).aggregated).toBe(true);
  });

  it("groups by reason: other reasons on the same object are not combined", () => {
    const { correlator, fresh } = setup();
    const pvc = pvcRef("ns", "data");
    for (let i = 1; i <= 9; i++) correlator.correlate(fresh(pvc, "A", `m${i}`));
    const other = correlator.correlate(fresh(pvc, "B", "m10"));
    expect(other.aggregated).toBe(false);
    expect(correlator.correlate(fresh(pvc, "A", "m10")).aggregated).toBe(true);
  });
});

describe("EventCorrelator spam filter", () => {
  it("lets a burst of 25 events per object through, then one per 5 minutes", () => {
    const { clock, correlator, fresh } = setup();
    const node = nodeRef("node-a");
    const actions = Array.from(
      { length: 30 },
      (_, i) => correlator.correlate(fresh(node, "R", `m${i % 3}`)).action,
    );
    expect(actions.filter((a) => a !== "drop")).toHaveLength(25);
    expect(actions.slice(25)).toEqual(["drop", "drop", "drop", "drop", "drop"]);

    clock.advance(5 * MINUTE - 1);
    expect(correlator.correlate(fresh(node, "R", "m0")).action).toBe("drop");
    clock.advance(1);
    expect(correlator.correlate(fresh(node, "R", "m0")).action).toBe("patch");
    expect(correlator.correlate(fresh(node, "R", "m0")).action).toBe("drop");

    // Tokens refill up to the burst, not beyond it.
    clock.advance(24 * 60 * MINUTE);
    const after = Array.from(
      { length: 30 },
      () => correlator.correlate(fresh(node, "R", "m1")).action,
    );
    expect(after.filter((a) => a !== "drop")).toHaveLength(25);
  });

  it("keeps a separate bucket per object and per source", () => {
    const { correlator, fresh } = setup();
    for (let i = 0; i < 25; i++)
      expect(correlator.correlate(fresh(pvcRef("ns", "a"), "R", "m")).action).not.toBe("drop");
    expect(correlator.correlate(fresh(pvcRef("ns", "a"), "R", "m")).action).toBe("drop");
    expect(correlator.correlate(fresh(pvcRef("ns", "b"), "R", "m")).action).toBe("create");
    expect(
      correlator.correlate(fresh(pvcRef("ns", "a"), "R", "m", "Warning", "node-b")).action,
    ).toBe("create");
  });

  it("still counts dropped repeats, so the next patch carries the true number of occurrences", () => {
    const { clock, correlator, fresh } = setup();
    const pvc = pvcRef("ns", "data");
    for (let i = 0; i < 40; i++) correlator.correlate(fresh(pvc, "R", "same"));
    clock.advance(5 * MINUTE);
    const next = correlator.correlate(fresh(pvc, "R", "same"));
    expect(next.action).toBe("patch");
    expect(next.event.count).toBe(41);
  });
});
