// ApiEventSink against a small HTTP server on 127.0.0.1: checks what we send (method, path,
// content type, body) and how HTTP answers map to EventSinkError. This is a unit test of our
// request/response handling; the real API server is exercised in recorder.cluster.test.ts.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KubeConfig } from "@kubernetes/client-node";
import { ApiEventSink, apiUidResolver } from "./api-sink.js";
import { EventSinkError } from "./sink.js";
import type { EventBody } from "./event-body.js";
import { pvcRef } from "./references.js";
import { ManualClock } from "./test-support/fakes.js";

interface Seen {
  method: string;
  url: string;
  contentType: string | undefined;
  body: unknown;
}
type Reply = { status: number; body: unknown; headers?: Record<string, string> };

let server: http.Server;
let seen: Seen[];
let replies: Reply[];
let kc: KubeConfig;

beforeEach(async () => {
  seen = [];
  replies = [];
  server = http.createServer((req, res) => {
    let data = "";
    req.on("data", (c: Buffer) => (data += c.toString()));
    req.on("end", () => {
      seen.push({
        method: req.method ?? "",
        url: req.url ?? "",
        contentType: req.headers["content-type"],
        body: data ? JSON.parse(data) : undefined,
      });
      const reply = replies.shift() ?? { status: 200, body: {} };
      res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
      res.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const when = new Date("2026-01-01T12:00:00.000Z");
const event: EventBody = {
  apiVersion: "v1",
  kind: "Event",
  metadata: { name: "data.1", namespace: "ns" },
  involvedObject: {
    kind: "PersistentVolumeClaim",
    apiVersion: "v1",
    namespace: "ns",
    name: "data",
    uid: "u1",
  },
  type: "Warning",
  reason: "R",
  message: "m",
  source: { component: "c", host: "h" },
  reportingComponent: "c",
  reportingInstance: "h",
  firstTimestamp: when,
  lastTimestamp: when,
  count: 1,
};

describe("ApiEventSink", () => {
  it("POSTs the Event into its namespace", async () => {
    await new ApiEventSink(kc).create(event);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: "POST", url: "/api/v1/namespaces/ns/events" });
    expect(seen[0]?.body).toMatchObject({
      metadata: { name: "data.1", namespace: "ns" },
      reason: "R",
      count: 1,
      firstTimestamp: "2026-01-01T12:00:00.000Z",
    });
  });

  it("PATCHes count, lastTimestamp and message as a strategic merge patch", async () => {
    await new ApiEventSink(kc).patch("ns", "data.1", {
      count: 3,
      lastTimestamp: new Date("2026-01-01T12:05:00.000Z"),
      message: "m",
    });
    expect(seen[0]).toEqual({
      method: "PATCH",
      url: "/api/v1/namespaces/ns/events/data.1",
      contentType: "application/strategic-merge-patch+json",
      body: { count: 3, lastTimestamp: "2026-01-01T12:05:00Z", message: "m" },
    });
  });

  it("maps HTTP errors to EventSinkError with status and Retry-After", async () => {
    const sink = new ApiEventSink(kc);
    replies.push({
      status: 429,
      body: { kind: "Status", message: "too many requests" },
      headers: { "retry-after": "2" },
    });
    const err = await sink.create(event).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EventSinkError);
    expect(err).toMatchObject({ status: 429, retryAfterMs: 2000, retryable: true });
    expect((err as Error).message).toContain("too many requests");

    replies.push({ status: 404, body: { kind: "Status", message: 'events "data.1" not found' } });
    const notFound = await sink
      .patch("ns", "data.1", { count: 2, lastTimestamp: when, message: "m" })
      .catch((e: unknown) => e);
    expect(notFound).toMatchObject({ status: 404, notFound: true, retryable: false });

    replies.push({ status: 403, body: { kind: "Status", message: "forbidden" } });
    expect(await sink.create(event).catch((e: unknown) => e)).toMatchObject({
      status: 403,
      retryable: false,
    });
  });

  it("maps a refused connection to a retryable error without status", async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    const err = await new ApiEventSink(kc).create(event).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EventSinkError);
    expect(err).toMatchObject({ status: undefined, retryable: true });
    // Let afterEach close it again without complaint.
    server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  });
});

describe("apiUidResolver", () => {
  it("GETs the PVC once and caches its uid", async () => {
    replies.push({
      status: 200,
      body: {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name: "data", namespace: "ns", uid: "uid-9" },
      },
    });
    const resolver = apiUidResolver(kc, new ManualClock());
    expect(await resolver.lookupUid(pvcRef("ns", "data"))).toBe("uid-9");
    expect(await resolver.lookupUid(pvcRef("ns", "data"))).toBe("uid-9");
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      "GET /api/v1/namespaces/ns/persistentvolumeclaims/data",
    ]);
  });

  it("answers null for a PVC that does not exist, and remembers that for a while", async () => {
    const clock = new ManualClock();
    replies.push({ status: 404, body: { kind: "Status", message: "not found" } });
    const resolver = apiUidResolver(kc, clock);
    expect(await resolver.lookupUid(pvcRef("ns", "gone"))).toBeNull();
    expect(await resolver.lookupUid(pvcRef("ns", "gone"))).toBeNull();
    expect(seen).toHaveLength(1);
    clock.advance(60_000);
    replies.push({
      status: 200,
      body: { metadata: { name: "gone", namespace: "ns", uid: "new" } },
    });
    expect(await resolver.lookupUid(pvcRef("ns", "gone"))).toBe("new");
  });

  it("throws other errors for the queue to retry or give up on", async () => {
    replies.push({ status: 503, body: { kind: "Status", message: "unavailable" } });
    await expect(
      apiUidResolver(kc, new ManualClock()).lookupUid(pvcRef("ns", "x")),
    ).rejects.toMatchObject({ status: 503 });
  });
});
