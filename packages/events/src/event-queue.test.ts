import { describe, expect, it } from "vitest";
import { EventQueue, type QueuedWrite } from "./event-queue.js";
import { EventNamer, involvedObjectOf, type EventBody } from "./event-body.js";
import { EventSinkError, MemorySink } from "./sink.js";
import { StaticUidResolver } from "./uid-resolver.js";
import { pvcRef, nodeRef } from "./references.js";
import { silentLogger, zeroCounters, type ObjectRef } from "./types.js";
import { ManualClock, recordingSleep } from "./test-support/fakes.js";

const clock = new ManualClock();
const namer = new EventNamer(clock);

function write(
  op: "create" | "patch",
  ref: ObjectRef,
  opts: { name?: string; count?: number; message?: string } = {},
): QueuedWrite {
  const now = new Date(clock.now());
  const event: EventBody = {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: opts.name ?? namer.next(ref.name), namespace: ref.namespace ?? "default" },
    involvedObject: involvedObjectOf(ref),
    type: "Warning",
    reason: "R",
    message: opts.message ?? "m",
    source: { component: "c", host: "h" },
    reportingComponent: "c",
    reportingInstance: "h",
    firstTimestamp: now,
    lastTimestamp: now,
    count: opts.count ?? 1,
  };
  return { op, event, ref };
}

function setup(extra: { maxQueue?: number; uidResolver?: StaticUidResolver } = {}) {
  const sink = new MemorySink();
  const counters = zeroCounters();
  const { sleep, delays } = recordingSleep();
  const queue = new EventQueue({
    sink,
    counters,
    logger: silentLogger,
    sleep,
    retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1000 },
    ...extra,
  });
  return { sink, counters, delays, queue };
}

const node = nodeRef("node-a");

describe("EventQueue retries", () => {
  it.each([
    ["500", EventSinkError.http(500)],
    ["503", EventSinkError.http(503)],
    ["429", EventSinkError.http(429)],
    ["a connection error", EventSinkError.connection("connect ECONNREFUSED 127.0.0.1:6443")],
    ["a non-sink error (transport)", new Error("socket hang up")],
  ])("retries a create after %s with exponential backoff", async (_, error) => {
    const { sink, counters, delays, queue } = setup();
    sink.failNext("create", error, error);
    queue.enqueue(write("create", node));
    await queue.flush();
    expect(sink.events()).toHaveLength(1);
    expect(sink.calls).toBe(3);
    expect(delays).toEqual([100, 200]);
    expect(counters).toMatchObject({ posted: 1, retries: 2, failed: 0 });
  });

  it("honours Retry-After of a 429 when it is longer than the backoff", async () => {
    const { sink, delays, queue } = setup();
    sink.failNext("create", EventSinkError.http(429, "slow down", 700));
    queue.enqueue(write("create", node));
    await queue.flush();
    expect(delays).toEqual([700]);
    expect(sink.events()).toHaveLength(1);
  });

  it.each([403, 400, 422, 409])("does not retry a %d", async (status) => {
    const { sink, counters, delays, queue } = setup();
    sink.failNext("create", EventSinkError.http(status));
    queue.enqueue(write("create", node));
    await queue.flush();
    expect(sink.calls).toBe(1);
    expect(delays).toEqual([]);
    expect(sink.events()).toHaveLength(0);
    expect(counters).toMatchObject({ posted: 0, failed: 1, retries: 0 });
  });

  it("gives up after maxAttempts and counts a failure", async () => {
    const { sink, counters, delays, queue } = setup();
    sink.failNext("create", ...Array.from({ length: 4 }, () => EventSinkError.http(500)));
    queue.enqueue(write("create", node));
    await queue.flush();
    expect(sink.calls).toBe(4);
    expect(delays).toEqual([100, 200, 400]);
    expect(counters).toMatchObject({ posted: 0, failed: 1, retries: 3 });
  });

  it("caps the backoff at maxDelayMs", async () => {
    const sink = new MemorySink();
    const { sleep, delays } = recordingSleep();
    const queue = new EventQueue({
      sink,
      counters: zeroCounters(),
      logger: silentLogger,
      sleep,
      retry: { maxAttempts: 8, baseDelayMs: 100, maxDelayMs: 1000 },
    });
    sink.failNext("create", ...Array.from({ length: 7 }, () => EventSinkError.http(502)));
    queue.enqueue(write("create", node));
    await queue.flush();
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    expect(sink.events()).toHaveLength(1);
  });

  it("falls back to a create with the full event when the PATCH answers 404", async () => {
    const { sink, counters, queue } = setup();
    queue.enqueue(write("patch", node, { name: "node-a.gone", count: 7, message: "latest" }));
    await queue.flush();
    expect(sink.writes.map((w) => w.op)).toEqual(["create"]);
    const [event] = sink.events();
    expect(event).toMatchObject({
      metadata: { name: "node-a.gone", namespace: "default" },
      count: 7,
      message: "latest",
    });
    expect(counters).toMatchObject({ posted: 1, patched: 0, failed: 0 });
  });

  it("retries a PATCH on 5xx and then patches", async () => {
    const { sink, counters, queue } = setup();
    queue.enqueue(write("create", node, { name: "node-a.1" }));
    await queue.flush();
    sink.failNext("patch", EventSinkError.http(500));
    queue.enqueue(write("patch", node, { name: "node-a.1", count: 2 }));
    await queue.flush();
    expect(sink.writes.map((w) => w.op)).toEqual(["create", "patch"]);
    expect(sink.events()[0]?.count).toBe(2);
    expect(counters).toMatchObject({ posted: 1, patched: 1, retries: 1 });
  });

  it("does not create after a PATCH fails with 403", async () => {
    const { sink, counters, queue } = setup();
    sink.failNext("patch", EventSinkError.http(403));
    queue.enqueue(write("patch", node, { name: "node-a.1", count: 2 }));
    await queue.flush();
    expect(sink.calls).toBe(1);
    expect(sink.writes).toEqual([]);
    expect(counters.failed).toBe(1);
  });
});

describe("EventQueue bounding and folding", () => {
  it("drops the oldest write when full and counts it", async () => {
    const { sink, counters, queue } = setup({ maxQueue: 3 });
    const refs = ["a", "b", "c", "d", "e"].map((n) => pvcRef("ns", n));
    for (const ref of refs) queue.enqueue(write("create", ref));
    expect(queue.length).toBe(3);
    await queue.flush();
    expect(sink.events().map((e) => e.involvedObject.name)).toEqual(["c", "d", "e"]);
    expect(counters).toMatchObject({ droppedQueueFull: 2, posted: 3 });
  });

  it("folds updates of an Event that is still waiting into the waiting write", async () => {
    const { sink, counters, queue } = setup();
    queue.enqueue(write("create", node, { name: "node-a.x" }));
    for (let count = 2; count <= 20; count++)
      queue.enqueue(write("patch", node, { name: "node-a.x", count, message: `m${count}` }));
    expect(queue.length).toBe(1);
    await queue.flush();
    expect(sink.calls).toBe(1);
    expect(sink.events()).toEqual([expect.objectContaining({ count: 20, message: "m20" })]);
    expect(counters.posted).toBe(1);
  });

  it("sends a new PATCH for an update that arrives while the first write is in flight", async () => {
    const { sink, queue } = setup();
    queue.enqueue(write("create", node, { name: "node-a.y" }));
    // Let the worker take the create, then queue the update.
    await new Promise((r) => setImmediate(r));
    queue.enqueue(write("patch", node, { name: "node-a.y", count: 2 }));
    await queue.flush();
    expect(sink.writes.map((w) => w.op)).toEqual(["create", "patch"]);
    expect(sink.events()[0]?.count).toBe(2);
  });

  it("after shutdown, abandons what is left and refuses new writes", async () => {
    const sink = new MemorySink();
    const counters = zeroCounters();
    // A sleep that never ends unless aborted: the retry keeps the queue busy.
    const queue = new EventQueue({
      sink,
      counters,
      logger: silentLogger,
      retry: { maxAttempts: 100, baseDelayMs: 60_000 },
      sleep: (_ms, signal) =>
        new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true })),
    });
    sink.failNext("create", EventSinkError.http(503));
    queue.enqueue(write("create", pvcRef("ns", "a")));
    queue.enqueue(write("create", pvcRef("ns", "b")));
    await queue.shutdown(20);
    queue.enqueue(write("create", pvcRef("ns", "c")));
    expect(sink.events()).toEqual([]);
    // a: given up mid-retry; b: abandoned in the queue; c: refused after shutdown.
    expect(counters.failed).toBe(3);
  });
});

describe("EventQueue uid lookup", () => {
  it("fills the uid of a PVC before the create", async () => {
    const pvc = pvcRef("ns", "data");
    const resolver = new StaticUidResolver().add(pvc, "uid-123");
    const { sink, queue } = setup({ uidResolver: resolver });
    queue.enqueue(write("create", pvc));
    await queue.flush();
    expect(sink.events()[0]?.involvedObject).toEqual({
      kind: "PersistentVolumeClaim",
      apiVersion: "v1",
      namespace: "ns",
      name: "data",
      uid: "uid-123",
    });
  });

  it("drops the event and counts it when the PVC does not exist", async () => {
    const { sink, counters, queue } = setup({ uidResolver: new StaticUidResolver() });
    queue.enqueue(write("create", pvcRef("ns", "gone")));
    await queue.flush();
    expect(sink.calls).toBe(0);
    expect(counters).toMatchObject({ droppedMissingObject: 1, posted: 0, failed: 0 });
  });

  it("posts without a uid when the lookup is refused (403)", async () => {
    const resolver = {
      lookupUid: async () => Promise.reject(EventSinkError.http(403, "forbidden")),
    };
    const sink = new MemorySink();
    const queue = new EventQueue({
      sink,
      counters: zeroCounters(),
      logger: silentLogger,
      uidResolver: resolver,
      sleep: recordingSleep().sleep,
    });
    queue.enqueue(write("create", pvcRef("ns", "data")));
    await queue.flush();
    expect(sink.events()[0]?.involvedObject.uid).toBeUndefined();
  });

  it("does not look up Nodes (their uid is the node name, as the kubelet does)", async () => {
    const resolver = new StaticUidResolver();
    const { sink, queue } = setup({ uidResolver: resolver });
    queue.enqueue(write("create", node));
    await queue.flush();
    expect(resolver.lookups).toBe(0);
    expect(sink.events()[0]?.involvedObject.uid).toBe("node-a");
  });
});
