// The recorder against a REAL kube-apiserver (the local control plane of e2e/local-cluster,
// started by scripts/tiers/cluster.sh, which hands over its admin kubeconfig in
// RDS_TEST_KUBECONFIG). Without that variable every test here fails: this tier never passes by
// not running.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoreV1Api, KubeConfig, type CoreV1Event } from "@kubernetes/client-node";
import {
  COMBINED_PREFIX,
  createEventRecorder,
  nodeRef,
  pvcRef,
  staleMountDetected,
  type EventLogger,
  type EventRecorder,
} from "./index.js";

const KUBECONFIG_ENV = "RDS_TEST_KUBECONFIG";
const COMPONENT = "rds-nvme-csi-events-test";

function kubeconfigPath(): string {
  const path = process.env[KUBECONFIG_ENV];
  if (!path) {
    throw new Error(
      `${KUBECONFIG_ENV} is not set: the events cluster tests need the local control plane (run scripts/tiers/cluster.sh, see e2e/README.md)`,
    );
  }
  return path;
}

const suffix = randomBytes(4).toString("hex");
const namespace = `events-test-${suffix}`;
const instance = `node-${suffix}`;
let coreApi: CoreV1Api | undefined;
const pvcUids = new Map<string, string>();
const recorders: EventRecorder[] = [];
const warnings: string[] = [];

/** Keeps warnings (e.g. "involved object not found") for the assertions; silent otherwise. */
const logger: EventLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (obj, msg) => warnings.push(`${msg} ${JSON.stringify(obj)}`),
  error: (obj, msg) => warnings.push(`${msg} ${JSON.stringify(obj)}`),
};

function recorder(): EventRecorder {
  // A fresh recorder per test: its own spam-filter budget and correlation caches.
  const r = createEventRecorder({
    component: COMPONENT,
    instance,
    kubeConfig: kubeconfigPath(),
    logger,
    retry: { baseDelayMs: 200, maxAttempts: 5 },
  });
  recorders.push(r);
  return r;
}

async function createPvc(name: string): Promise<string> {
  const pvc = await api().createNamespacedPersistentVolumeClaim({
    namespace,
    body: {
      metadata: { name, namespace },
      // A class that does not exist: the claim stays Pending, which is all these tests need.
      spec: {
        accessModes: ["ReadWriteOnce"],
        storageClassName: "events-test-none",
        resources: { requests: { storage: "1Gi" } },
      },
    },
  });
  const uid = pvc.metadata?.uid;
  if (!uid) throw new Error(`PVC ${name} came back without a uid`);
  pvcUids.set(name, uid);
  return uid;
}

/** Our Events about `objectName` in `ns` (the PV controller may post its own on the PVC). */
async function ourEvents(ns: string, objectName: string): Promise<CoreV1Event[]> {
  const list = await api().listNamespacedEvent({
    namespace: ns,
    fieldSelector: `involvedObject.name=${objectName}`,
  });
  return list.items.filter(
    (e) => e.reportingComponent === COMPONENT && e.source?.host === instance,
  );
}

/** The API client; throws (failing the test that asks) when there is no control plane. */
function api(): CoreV1Api {
  kubeconfigPath();
  if (!coreApi) throw new Error("the test namespace could not be set up; see the beforeAll error");
  return coreApi;
}

beforeAll(async () => {
  // Without a kubeconfig, set nothing up: every test then fails on its own with the reason.
  const path = process.env[KUBECONFIG_ENV];
  if (!path) return;
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  coreApi = core;
});

afterAll(async () => {
  await Promise.all(recorders.map((r) => r.shutdown(2000)));
  const core = coreApi;
  if (!core) return;
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  const leftovers = await core
    .listNamespacedEvent({ namespace: "default", fieldSelector: `involvedObject.name=${instance}` })
    .catch(() => undefined);
  for (const e of leftovers?.items ?? []) {
    if (e.metadata.name)
      await core
        .deleteNamespacedEvent({ namespace: "default", name: e.metadata.name })
        .catch(() => undefined);
  }
});

describe("EventRecorder against a real kube-apiserver", () => {
  it("has a control plane to talk to", async () => {
    const version = await api().listNamespace({ fieldSelector: `metadata.name=${namespace}` });
    expect(version.items.map((n) => n.metadata?.name)).toEqual([namespace]);
  });

  it("posts an Event about a PVC that reads back with namespace, involvedObject and uid right", async () => {
    const uid = await createPvc("data-post");
    const r = recorder();
    expect(r.enabled).toBe(true);
    r.event(
      pvcRef(namespace, "data-post"),
      "Warning",
      "MountFailure",
      "mount of pvc-x failed: wrong fs type",
    );
    await r.flush();

    const events = await ourEvents(namespace, "data-post");
    expect(events).toHaveLength(1);
    const [e] = events;
    expect(e?.metadata.namespace).toBe(namespace);
    expect(e?.metadata.name).toMatch(/^data-post\.[0-9a-f]+$/);
    expect(e?.involvedObject).toMatchObject({
      kind: "PersistentVolumeClaim",
      apiVersion: "v1",
      namespace,
      name: "data-post",
      uid,
    });
    expect(e).toMatchObject({
      type: "Warning",
      reason: "MountFailure",
      message: "mount of pvc-x failed: wrong fs type",
      count: 1,
      source: { component: COMPONENT, host: instance },
      reportingComponent: COMPONENT,
      reportingInstance: instance,
    });
    expect(e?.firstTimestamp).toBeInstanceOf(Date);
    expect(e?.lastTimestamp).toBeInstanceOf(Date);
    expect(r.counters()).toMatchObject({ posted: 1, failed: 0 });
  });

  it("turns 20 identical events into one Event with count 20 (PATCHes accepted by the server)", async () => {
    await createPvc("data-dedupe");
    const r = recorder();
    for (let i = 0; i < 20; i++) {
      r.event(pvcRef(namespace, "data-dedupe"), "Warning", "StaleMountDetected", "same message");
      // Wait for each write so every repeat is a real PATCH against the server.
      await r.flush();
    }
    const events = await ourEvents(namespace, "data-dedupe");
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      count: 20,
      message: "same message",
      reason: "StaleMountDetected",
    });
    expect(r.counters()).toMatchObject({ posted: 1, patched: 19, deduplicated: 19, failed: 0 });
  });

  it("folds a burst of 20 identical events recorded back to back into one Event with count 20", async () => {
    await createPvc("data-burst");
    const r = recorder();
    for (let i = 0; i < 20; i++)
      r.event(pvcRef(namespace, "data-burst"), "Warning", "StaleMountDetected", "burst message");
    await r.flush();
    const events = await ourEvents(namespace, "data-burst");
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ count: 20, message: "burst message" });
    // The repeats were folded into the waiting create: one API call instead of twenty.
    expect(r.counters()).toMatchObject({ posted: 1, patched: 0, deduplicated: 19, failed: 0 });
  });

  it("combines similar events after 10 distinct messages into one '(combined from similar events)' Event", async () => {
    await createPvc("data-aggregate");
    const r = recorder();
    for (let i = 1; i <= 12; i++) {
      r.event(
        pvcRef(namespace, "data-aggregate"),
        "Warning",
        "RecoveryFailed",
        `attempt ${i} failed`,
      );
      await r.flush();
    }
    const events = await ourEvents(namespace, "data-aggregate");
    // Nine Events with their own message, one combined Event for messages 10..12.
    expect(events).toHaveLength(10);
    const combined = events.filter((e) => e.message?.startsWith(COMBINED_PREFIX));
    expect(combined).toHaveLength(1);
    expect(combined[0]).toMatchObject({ count: 3, message: `${COMBINED_PREFIX}attempt 12 failed` });
    expect(
      events
        .filter((e) => !e.message?.startsWith(COMBINED_PREFIX))
        .map((e) => e.message)
        .sort(),
    ).toEqual(Array.from({ length: 9 }, (_, i) => `attempt ${i + 1} failed`).sort());
    expect(r.counters()).toMatchObject({ aggregated: 3, posted: 10, failed: 0 });
  });

  it("drops an event about a PVC that does not exist, without troubling the caller", async () => {
    const r = recorder();
    warnings.length = 0;
    expect(() =>
      r.event(pvcRef(namespace, "never-existed"), "Warning", "MountFailure", "x"),
    ).not.toThrow();
    await r.flush();
    expect(await ourEvents(namespace, "never-existed")).toEqual([]);
    expect(r.counters()).toMatchObject({ droppedMissingObject: 1, posted: 0, failed: 0 });
    expect(
      warnings.some((w) => w.includes("involved object not found") && w.includes("never-existed")),
    ).toBe(true);
  });

  it("puts a Node event into the default namespace, with the node name as uid", async () => {
    const r = recorder();
    r.record(
      nodeRef(instance),
      staleMountDetected({
        volumeId: "pvc-1",
        node: instance,
        cause: "device_mismatch",
        mountedDevice: { name: "nvme1n1", major: 259, minor: 1 },
        currentDevice: { name: "nvme2n1", major: 259, minor: 4 },
      }),
    );
    await r.flush();
    const events = await ourEvents("default", instance);
    expect(events).toHaveLength(1);
    expect(events[0]?.metadata.namespace).toBe("default");
    expect(events[0]?.involvedObject).toMatchObject({
      kind: "Node",
      name: instance,
      uid: instance,
    });
    expect(events[0]?.involvedObject.namespace ?? "").toBe("");
    expect(events[0]?.message).toContain("nvme1n1 (259:1)");
  });

  it("re-creates an Event that was deleted when the next repeat's PATCH gets 404", async () => {
    await createPvc("data-recreate");
    const r = recorder();
    r.event(pvcRef(namespace, "data-recreate"), "Normal", "VolumeResized", "grown");
    await r.flush();
    const [first] = await ourEvents(namespace, "data-recreate");
    const name = first?.metadata.name;
    expect(name).toBeTruthy();
    await api().deleteNamespacedEvent({ namespace, name: name! });

    r.event(pvcRef(namespace, "data-recreate"), "Normal", "VolumeResized", "grown");
    await r.flush();
    const after = await ourEvents(namespace, "data-recreate");
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ metadata: { name }, count: 2 });
    expect(r.counters()).toMatchObject({ posted: 2, patched: 0, failed: 0 });
  });
});
