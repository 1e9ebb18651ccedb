import { describe, expect, it } from "vitest";
import { createEventRecorder, NoopEventRecorder } from "./recorder.js";
import { MemorySink, EventSinkError, type EventSink } from "./sink.js";
import { StaticUidResolver } from "./uid-resolver.js";
import { nodeRef, podRef, pvcRef } from "./references.js";
import { COMBINED_PREFIX } from "./correlator.js";
import { staleMountDetected } from "./reasons.js";
import { silentLogger } from "./types.js";
import { ManualClock, recordingSleep } from "./test-support/fakes.js";

function setup(opts: { sink?: EventSink; resolver?: StaticUidResolver } = {}) {
  const clock = new ManualClock();
  const sink = new MemorySink();
  const resolver =
    opts.resolver ??
    new StaticUidResolver()
      .add(pvcRef("ns", "data"), "uid-data")
      .add(podRef("ns", "app"), "uid-app");
  const recorder = createEventRecorder({
    component: "rds-nvme-csi-node",
    instance: "node-a",
    sink: opts.sink ?? sink,
    uidResolver: resolver,
    clock,
    logger: silentLogger,
    sleep: recordingSleep().sleep,
  });
  return { clock, sink, recorder, resolver };
}

describe("EventRecorder", () => {
  it("writes a core/v1 Event with source, reporting fields, timestamps and the involved object", async () => {
    const { clock, sink, recorder } = setup();
    recorder.event(pvcRef("ns", "data"), "Warning", "MountFailure", "mount failed");
    await recorder.flush();
    const [event] = sink.events();
    expect(event).toMatchObject({
      apiVersion: "v1",
      kind: "Event",
      metadata: { namespace: "ns" },
      involvedObject: {
        kind: "PersistentVolumeClaim",
        apiVersion: "v1",
        namespace: "ns",
        name: "data",
        uid: "uid-data",
      },
      type: "Warning",
      reason: "MountFailure",
      message: "mount failed",
      source: { component: "rds-nvme-csi-node", host: "node-a" },
      reportingComponent: "rds-nvme-csi-node",
      reportingInstance: "node-a",
      count: 1,
    });
    expect(event?.metadata.name).toMatch(/^data\.[0-9a-f]+$/);
    expect(event?.firstTimestamp.getTime()).toBe(clock.now());
    expect(event?.lastTimestamp.getTime()).toBe(clock.now());
  });

  it("20 identical events become one Event with count 20", async () => {
    const { clock, sink, recorder } = setup();
    for (let i = 0; i < 20; i++) {
      recorder.event(pvcRef("ns", "data"), "Warning", "StaleMountDetected", "same");
      clock.advance(1000);
      // Flush every few events so both paths run: PATCHes and folding into a waiting write.
      if (i % 5 === 4) await recorder.flush();
    }
    await recorder.flush();
    const events = sink.events();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ count: 20, message: "same" });
    expect(events[0].lastTimestamp.getTime() - events[0].firstTimestamp.getTime()).toBe(19_000);
    expect(sink.writes.filter((w) => w.op === "create")).toHaveLength(1);
    expect(sink.writes.filter((w) => w.op === "patch").length).toBeGreaterThan(0);
    expect(recorder.counters()).toMatchObject({
      received: 20,
      deduplicated: 19,
      posted: 1,
      dropped: 0,
      failed: 0,
    });
  });

  it("combines the 10th similar event, and later ones into the same Event", async () => {
    const { sink, recorder } = setup();
    for (let i = 1; i <= 12; i++)
      recorder.event(pvcRef("ns", "data"), "Warning", "RecoveryFailed", `attempt ${i}`);
    await recorder.flush();
    const events = sink.events();
    expect(events).toHaveLength(10);
    const combined = events.filter((e) => e.message.startsWith(COMBINED_PREFIX));
    expect(combined).toHaveLength(1);
    expect(combined[0]).toMatchObject({ count: 3, message: COMBINED_PREFIX + "attempt 12" });
    expect(recorder.counters()).toMatchObject({ aggregated: 3, posted: 10 });
  });

  it("drops events about a PVC that does not exist, without troubling the caller", async () => {
    const { sink, recorder } = setup();
    expect(() =>
      recorder.event(pvcRef("ns", "gone"), "Warning", "MountFailure", "x"),
    ).not.toThrow();
    await recorder.flush();
    expect(sink.calls).toBe(0);
    expect(recorder.counters()).toMatchObject({ droppedMissingObject: 1, posted: 0 });
  });

  it("puts Node events into the default namespace with no involvedObject namespace", async () => {
    const { sink, recorder } = setup();
    recorder.record(
      nodeRef("node-a"),
      staleMountDetected({ volumeId: "pvc-1", node: "node-a", cause: "device_disappeared" }),
    );
    await recorder.flush();
    const [event] = sink.events();
    expect(event?.metadata.namespace).toBe("default");
    expect(event?.involvedObject).toEqual({
      kind: "Node",
      apiVersion: "v1",
      name: "node-a",
      uid: "node-a",
    });
    expect(event?.reason).toBe("StaleMountDetected");
    expect(event?.type).toBe("Warning");
  });

  it("puts Pod events into the Pod's namespace", async () => {
    const { sink, recorder } = setup();
    recorder.event(podRef("ns", "app"), "Normal", "VolumeResized", "ok");
    await recorder.flush();
    expect(sink.events()[0]).toMatchObject({
      metadata: { namespace: "ns" },
      involvedObject: { kind: "Pod", name: "app", uid: "uid-app" },
    });
  });

  it("formats eventf messages with util.format", async () => {
    const { sink, recorder } = setup();
    recorder.eventf(
      nodeRef("node-a"),
      "Warning",
      "ConnectionFailure",
      "volume %s: %d attempts, %j",
      "pvc-1",
      3,
      { a: 1 },
    );
    await recorder.flush();
    expect(sink.events()[0]?.message).toBe('volume pvc-1: 3 attempts, {"a":1}');
  });

  it("cuts very long messages", async () => {
    const { sink, recorder } = setup();
    recorder.event(nodeRef("node-a"), "Warning", "MountFailure", "x".repeat(5000));
    await recorder.flush();
    const message = sink.events()[0].message;
    expect(message).toHaveLength(1024);
    expect(message.endsWith("...")).toBe(true);
  });

  it("ignores an unsupported event type and counts it as failed", async () => {
    const { sink, recorder } = setup();
    recorder.event(nodeRef("node-a"), "Error" as "Warning", "R", "m");
    await recorder.flush();
    expect(sink.calls).toBe(0);
    expect(recorder.counters().failed).toBe(1);
  });

  it("never throws into the caller, even if the sink throws synchronously", async () => {
    const evil: EventSink = {
      create: () => {
        throw new TypeError("sink bug");
      },
      patch: () => {
        throw new TypeError("sink bug");
      },
    };
    const { recorder } = setup({ sink: evil });
    expect(() => recorder.event(nodeRef("node-a"), "Warning", "R", "m")).not.toThrow();
    await expect(recorder.flush()).resolves.toBeUndefined();
    expect(recorder.counters().posted).toBe(0);
  });

  it("survives a logger that throws", async () => {
    const throwing = {
      debug: () => {
        throw new Error("log");
      },
      info: () => {
        throw new Error("log");
      },
      warn: () => {
        throw new Error("log");
      },
      error: () => {
        throw new Error("log");
      },
    };
    const sink = new MemorySink();
    sink.failNext("create", EventSinkError.http(403));
    const recorder = createEventRecorder({
      component: "c",
      instance: "n",
      sink,
      logger: throwing,
      uidResolver: new StaticUidResolver(),
    });
    expect(() => recorder.event(pvcRef("ns", "gone"), "Warning", "R", "m")).not.toThrow();
    expect(() => recorder.event(nodeRef("n"), "Warning", "R", "m")).not.toThrow();
    expect(() => recorder.event(nodeRef("n"), "Bogus" as "Warning", "R", "m")).not.toThrow();
    await recorder.flush();
    expect(recorder.counters()).toMatchObject({ droppedMissingObject: 1, failed: 2 });
  });

  it("counts spam-filtered events as dropped", async () => {
    const { recorder } = setup();
    for (let i = 0; i < 30; i++) recorder.event(nodeRef("node-a"), "Warning", "R", `m${i % 2}`);
    await recorder.flush();
    expect(recorder.counters()).toMatchObject({
      received: 30,
      dropped: 5,
      posted: 2,
      deduplicated: 23,
    });
  });

  it("counts failed writes", async () => {
    const sink = new MemorySink();
    sink.failNext("create", EventSinkError.http(403, "forbidden"));
    const { recorder } = setup({ sink });
    recorder.event(nodeRef("node-a"), "Warning", "R", "m");
    await recorder.flush();
    expect(recorder.counters()).toMatchObject({ failed: 1, posted: 0 });
  });

  it("after shutdown, accepts calls but writes nothing", async () => {
    const { sink, recorder } = setup();
    await recorder.shutdown();
    recorder.event(nodeRef("node-a"), "Warning", "R", "m");
    await recorder.flush();
    expect(sink.calls).toBe(0);
  });
});

describe("createEventRecorder without a cluster", () => {
  it('returns a no-op recorder for kubeConfig "none" and no sink', async () => {
    const recorder = createEventRecorder({
      component: "c",
      instance: "n",
      kubeConfig: "none",
      logger: silentLogger,
    });
    expect(recorder).toBeInstanceOf(NoopEventRecorder);
    expect(recorder.enabled).toBe(false);
    recorder.event(nodeRef("n"), "Warning", "R", "m");
    await recorder.flush();
    expect(recorder.counters()).toMatchObject({ received: 1, posted: 0 });
  });

  it("returns a no-op recorder when the kubeconfig file cannot be loaded (the driver must still start)", () => {
    const recorder = createEventRecorder({
      component: "c",
      instance: "n",
      kubeConfig: "/nonexistent/kubeconfig",
      logger: silentLogger,
    });
    expect(recorder.enabled).toBe(false);
  });

  it("requires component and instance", () => {
    expect(() => createEventRecorder({ component: "", instance: "n" })).toThrow(TypeError);
  });
});
