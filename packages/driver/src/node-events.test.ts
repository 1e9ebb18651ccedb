import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createEventRecorder, MemorySink, NoopEventRecorder, staleMountDetected, silentLogger } from "@rds-nvme-csi/events";
import { pino } from "pino";
import { FileEventSink, parseEventsFile } from "./events-file-sink.js";
import { NodeEvents, pvcFromContext } from "./node-events.js";

const log = pino({ level: "silent" });
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "events-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const spec = staleMountDetected({ volumeId: "pvc-1", node: "n1", cause: "device_mismatch" });

describe("NodeEvents", () => {
  it("reads the PVC from the volume context keys", () => {
    expect(pvcFromContext({ "csi.storage.k8s.io/pvc/name": "data", "csi.storage.k8s.io/pvc/namespace": "apps" })).toEqual({
      namespace: "apps",
      name: "data",
    });
    expect(pvcFromContext({ "csi.storage.k8s.io/pvc/name": "data" })).toBeUndefined();
    expect(pvcFromContext(undefined)).toBeUndefined();
  });

  it("records on the known PVC; falls back to the claimRef lookup; logs only without a PVC", async () => {
    const sink = new MemorySink();
    const recorder = createEventRecorder({ component: "rds-nvme-csi-node", instance: "n1", sink, logger: silentLogger });
    const lookups: string[] = [];
    const events = new NodeEvents(recorder, "n1", log, async (id) => {
      lookups.push(id);
      return id === "pvc-2" ? { namespace: "ns2", name: "claim2" } : undefined;
    });
    await events.emit("pvc-1", { namespace: "apps", name: "data" }, spec);
    await events.emit("pvc-2", undefined, spec);
    await events.emit("pvc-3", undefined, spec);
    await events.flush();
    expect(lookups).toEqual(["pvc-2", "pvc-3"]);
    expect(sink.events().map((e) => [e.involvedObject.kind, e.involvedObject.namespace, e.involvedObject.name, e.reason])).toEqual([
      ["PersistentVolumeClaim", "apps", "data", "StaleMountDetected"],
      ["PersistentVolumeClaim", "ns2", "claim2", "StaleMountDetected"],
    ]);
  });

  it("a failing lookup never fails the caller", async () => {
    const events = new NodeEvents(createEventRecorder({ component: "c", instance: "n1", sink: new MemorySink(), logger: silentLogger }), "n1", log, async () => {
      throw new Error("apiserver down");
    });
    await expect(events.emit("pvc-1", undefined, spec)).resolves.toBeUndefined();
  });

  it("is a no-op without a cluster", async () => {
    const events = new NodeEvents(new NoopEventRecorder(), "n1", log);
    expect(events.enabled).toBe(false);
    await events.emit("pvc-1", { namespace: "a", name: "b" }, spec);
  });
});

describe("FileEventSink", () => {
  it("writes what the recorder emits as JSON lines, including dedup patches", async () => {
    const file = path.join(dir, "events.jsonl");
    const recorder = createEventRecorder({ component: "rds-nvme-csi-node", instance: "n1", sink: new FileEventSink(file), logger: silentLogger });
    const events = new NodeEvents(recorder, "n1", log);
    await events.emit("pvc-1", { namespace: "apps", name: "data" }, spec);
    await events.flush();
    await events.emit("pvc-1", { namespace: "apps", name: "data" }, spec);
    await events.flush();
    const lines = parseEventsFile(readFileSync(file, "utf8") + '{"op":"create","trunc');
    expect(lines.map((l) => l.op)).toEqual(["create", "patch"]);
    expect(lines[0]?.body).toMatchObject({ reason: "StaleMountDetected", involvedObject: { name: "data", namespace: "apps" } });
    expect(lines[1]?.patch?.count).toBe(2);
  });
});
