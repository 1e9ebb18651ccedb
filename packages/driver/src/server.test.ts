// The gRPC plumbing over a real unix socket: stale socket handling, request IDs, redacted
// structured logs, metrics, error → status mapping, UNIMPLEMENTED, graceful shutdown.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NotFoundError } from "./errors.js";
import * as csi from "./gen/csi.js";
import { createIdentityService } from "./identity.js";
import { Metrics, serveMetrics } from "./metrics.js";
import { CsiServer, parseEndpoint } from "./server.js";

let dir: string;
let logs: Record<string, unknown>[];
let server: CsiServer | undefined;
const clients: grpc.Client[] = [];

function logger() {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return pino({ level: "debug" }, sink);
}

function unary<Req, Res>(client: grpc.Client, method: string, req: Req, md = new grpc.Metadata()): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (r: Req, m: grpc.Metadata, cb: (e: grpc.ServiceError | null, v: Res) => void) => void>)[method];
    fn.call(client, req, md, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

async function code(p: Promise<unknown>): Promise<grpc.status> {
  try {
    await p;
  } catch (e) {
    return (e as grpc.ServiceError).code;
  }
  throw new Error("expected a failure");
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "rdsnvme-server-"));
  logs = [];
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server?.shutdown(1000);
  server = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

function controllerClient(sock: string) {
  const c = new csi.ControllerClient(`unix://${sock}`, grpc.credentials.createInsecure());
  clients.push(c);
  return c;
}
function identityClient(sock: string) {
  const c = new csi.IdentityClient(`unix://${sock}`, grpc.credentials.createInsecure());
  clients.push(c);
  return c;
}

describe("CsiServer", () => {
  it("replaces a stale socket file left by a killed process, but refuses to delete a regular file", async () => {
    const sock = path.join(dir, "csi.sock");
    // A process that dies by SIGKILL leaves its socket file behind.
    const child = spawn(process.execPath, ["-e", `require("net").createServer().listen(${JSON.stringify(sock)}, () => console.log("up"))`], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expect(fs.lstatSync(sock).isSocket()).toBe(true);

    server = new CsiServer({ logger: logger() });
    server.addService("Identity", csi.IdentityService, createIdentityService({ driverName: "rds-nvme.csi.dev", controller: false }));
    await server.listen([`unix://${sock}`]);
    const info = await unary<csi.GetPluginInfoRequest, csi.GetPluginInfoResponse>(identityClient(sock), "getPluginInfo", {});
    expect(info.name).toBe("rds-nvme.csi.dev");

    const file = path.join(dir, "not-a-socket");
    fs.writeFileSync(file, "precious");
    const other = new CsiServer({ logger: logger() });
    await expect(other.listen([file])).rejects.toThrow(/not a socket/);
    expect(fs.readFileSync(file, "utf8")).toBe("precious");
  });

  it("logs every call with its request ID, redacts secrets, counts and times it, maps typed errors", async () => {
    const sock = path.join(dir, "csi.sock");
    const metrics = new Metrics();
    server = new CsiServer({ logger: logger(), metrics });
    server.addService("Controller", csi.ControllerService, {
      createVolume: async (req, ctx) => {
        ctx.log.info({ seen: Object.keys(req.secrets) }, "inside handler");
        throw new NotFoundError(`no source for ${req.name}`);
      },
    });
    await server.listen([`unix://${sock}`]);
    const md = new grpc.Metadata();
    md.set("x-request-id", "req-42");
    const c = controllerClient(sock);
    const req = csi.CreateVolumeRequest.fromPartial({ name: "v1", secrets: { password: "hunter2", token: "s3cr3t" } });
    expect(await code(unary(c, "createVolume", req, md))).toBe(grpc.status.NOT_FOUND);
    // Not implemented by the service → UNIMPLEMENTED through the same wrapper.
    expect(await code(unary(c, "deleteVolume", csi.DeleteVolumeRequest.fromPartial({ volumeId: "v1" })))).toBe(grpc.status.UNIMPLEMENTED);

    const text = JSON.stringify(logs);
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain("s3cr3t");
    const called = logs.find((l) => l.msg === "CreateVolume called");
    expect(called).toMatchObject({ requestId: "req-42", op: "CreateVolume", name: "v1", request: { secrets: { password: "***", token: "***" } } });
    expect(logs.find((l) => l.msg === "inside handler")).toMatchObject({ requestId: "req-42", seen: ["password", "token"] });
    expect(logs.find((l) => String(l.msg).startsWith("CreateVolume failed"))).toMatchObject({ requestId: "req-42", code: "NOT_FOUND" });
    const other = logs.find((l) => l.op === "DeleteVolume");
    expect(other?.requestId).toMatch(/^[0-9a-f-]{36}$/);

    const ms = await serveMetrics(metrics, "127.0.0.1:0");
    try {
      const body = await (await fetch(`http://127.0.0.1:${ms.address.port}/metrics`)).text();
      expect(body).toContain('rdsnvme_csi_rpc_total{service="Controller",method="CreateVolume",code="NOT_FOUND"} 1');
      expect(body).toContain('rdsnvme_csi_rpc_errors_total{service="Controller",method="DeleteVolume",code="UNIMPLEMENTED"} 1');
      expect(body).toContain('rdsnvme_csi_rpc_duration_seconds_count{service="Controller",method="CreateVolume"} 1');
      expect((await fetch(`http://127.0.0.1:${ms.address.port}/healthz`)).status).toBe(200);
    } finally {
      await ms.close();
    }
  });

  it("graceful shutdown lets an in-flight call finish, then refuses new calls and removes the socket", async () => {
    const sock = path.join(dir, "csi.sock");
    let release!: () => void;
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    server = new CsiServer({ logger: logger() });
    server.addService("Controller", csi.ControllerService, {
      listVolumes: async () => {
        entered();
        await new Promise<void>((r) => (release = r));
        return { entries: [], nextToken: "done" };
      },
    });
    await server.listen([`unix://${sock}`]);
    const c = controllerClient(sock);
    const slow = unary<csi.ListVolumesRequest, csi.ListVolumesResponse>(c, "listVolumes", { maxEntries: 0, startingToken: "" });
    await inside;
    const stopping = server.shutdown(10_000);
    setTimeout(() => release(), 200);
    expect((await slow).nextToken).toBe("done");
    await stopping;
    expect(fs.existsSync(sock)).toBe(false);
    const late = new csi.ControllerClient(`unix://${sock}`, grpc.credentials.createInsecure());
    clients.push(late);
    expect(await code(new Promise((resolve, reject) => late.listVolumes({ maxEntries: 0, startingToken: "" }, new grpc.Metadata(), { deadline: Date.now() + 2000 }, (e, v) => (e ? reject(e) : resolve(v)))))).toBe(
      grpc.status.UNAVAILABLE,
    );
  });

  it("serves TCP too when asked (loopback)", async () => {
    server = new CsiServer({ logger: logger() });
    server.addService("Identity", csi.IdentityService, createIdentityService({ driverName: "rds-nvme.csi.dev", controller: true }));
    const [addr] = await server.listen(["tcp://127.0.0.1:0"]);
    expect(addr).toMatch(/^127\.0\.0\.1:\d+$/);
    const c = new csi.IdentityClient(addr, grpc.credentials.createInsecure());
    clients.push(c);
    const caps = await unary<csi.GetPluginCapabilitiesRequest, csi.GetPluginCapabilitiesResponse>(c, "getPluginCapabilities", {});
    expect(caps.capabilities.map((x) => x.type?.$case)).toEqual(["service", "volumeExpansion"]);
  });

  it("parses endpoints", () => {
    expect(parseEndpoint("unix:///csi/csi.sock")).toEqual({ kind: "unix", address: "/csi/csi.sock" });
    expect(parseEndpoint("/csi/csi.sock")).toEqual({ kind: "unix", address: "/csi/csi.sock" });
    expect(parseEndpoint("tcp://127.0.0.1:10000")).toEqual({ kind: "tcp", address: "127.0.0.1:10000" });
    expect(parseEndpoint("[::1]:5")).toEqual({ kind: "tcp", address: "[::1]:5" });
    expect(() => parseEndpoint("http://x")).toThrow();
  });
});

describe("Identity", () => {
  it("GetPluginCapabilities: CONTROLLER_SERVICE only with the controller; Probe → FAILED_PRECONDITION when the RDS does not answer", async () => {
    const ctx = { requestId: "t", method: "Probe", service: "Identity", log: pino({ level: "silent" }), signal: new AbortController().signal };
    const nodeOnly = createIdentityService({ driverName: "rds-nvme.csi.dev", controller: false });
    expect((await nodeOnly.getPluginCapabilities!({}, ctx)).capabilities.map((c) => c.type?.$case)).toEqual(["volumeExpansion"]);
    expect(await nodeOnly.probe!({}, ctx)).toEqual({ ready: true });
    const failing = createIdentityService({ driverName: "rds-nvme.csi.dev", controller: true, probe: () => Promise.reject(new Error("ssh: connection refused")) });
    await expect(failing.probe!({}, ctx)).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
    const info = await failing.getPluginInfo!({}, ctx);
    const pkg = JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    expect(info.vendorVersion).toBe(pkg.version);
    // csi-sanity's name rule: letters at both ends.
    expect(info.name).toMatch(/^[A-Za-z][A-Za-z0-9.\-_]{0,61}[A-Za-z]$/);
  });
});
