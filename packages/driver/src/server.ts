// gRPC plumbing: one server, every CSI service registered through the same wrapper, so the
// cross-cutting concerns live in exactly one place:
//   request ID (from `x-request-id` metadata or fresh) · structured logs with secrets redacted ·
//   Prometheus count / errors by code / latency · typed error → gRPC status (errors.ts) ·
//   graceful shutdown that lets in-flight RPCs finish.
// Services are written as `async (request, ctx) => response`; a method a service does not
// implement answers UNIMPLEMENTED through the same path (so it is logged and counted too).
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { UnimplementedError, statusName, toGrpcStatus } from "./errors.js";
import type { Metrics } from "./metrics.js";
import { redactSecrets, requestMessageName } from "./secret-fields.js";

export interface RpcContext {
  requestId: string;
  /** `CreateVolume`, `Probe`, … */
  method: string;
  service: string;
  /** Child logger with requestId, op (and volumeId when the request names one). */
  log: Logger;
  /** Aborted when the client cancels or the deadline passes. */
  signal: AbortSignal;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type UnaryHandler<Req = any, Res = any> = (request: Req, ctx: RpcContext) => Promise<Res>;

/** A ts-proto `XService` definition: method name → { path, (de)serializers, … }. */
interface MethodDef {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  requestDeserialize: (b: Buffer) => any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  responseSerialize: (v: any) => Buffer;
}
type ServiceDef = Record<string, MethodDef>;

/** Typed implementation of a ts-proto service definition; every method optional. */
export type ServiceImplementation<D extends ServiceDef> = {
  [K in keyof D]?: UnaryHandler<ReturnType<D[K]["requestDeserialize"]>, Parameters<D[K]["responseSerialize"]>[0]>;
};

export interface CsiServerOptions {
  logger: Logger;
  metrics?: Metrics;
  /** Methods logged at debug instead of info (Probe is polled constantly by the liveness probe). */
  quietMethods?: readonly string[];
}

export interface ParsedEndpoint {
  kind: "unix" | "tcp";
  /** Socket path (unix) or host:port (tcp). */
  address: string;
}

/** `unix:///abs/path.sock`, `unix:/abs`, `/abs/path.sock` → unix; `tcp://host:port`, `host:port` → tcp. */
export function parseEndpoint(endpoint: string): ParsedEndpoint {
  if (endpoint.startsWith("unix://")) return { kind: "unix", address: endpoint.slice("unix://".length) };
  if (endpoint.startsWith("unix:")) return { kind: "unix", address: endpoint.slice("unix:".length) };
  if (endpoint.startsWith("/")) return { kind: "unix", address: endpoint };
  if (endpoint.startsWith("tcp://")) return { kind: "tcp", address: endpoint.slice("tcp://".length) };
  if (/^(\[[^\]]+\]|[^/:]+):\d+$/.test(endpoint)) return { kind: "tcp", address: endpoint };
  throw new Error(`unsupported endpoint ${JSON.stringify(endpoint)} (want unix:///path.sock or tcp://host:port)`);
}

/**
 * Removes a socket file left by a previous process (grpc-js cannot bind over it: EADDRINUSE).
 * Anything that is not a socket is left alone and reported.
 */
export function removeStaleSocket(socketPath: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(socketPath);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new Error(`${socketPath} exists and is not a socket; refusing to remove it`);
  fs.rmSync(socketPath, { force: true });
}

/** Fields worth putting on every log line of a call. */
function logFields(request: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (request && typeof request === "object") {
    const r = request as Record<string, unknown>;
    for (const k of ["volumeId", "snapshotId", "sourceVolumeId", "name", "nodeId"]) {
      if (typeof r[k] === "string" && r[k] !== "") out[k] = r[k];
    }
  }
  return out;
}

export class CsiServer {
  private readonly server: grpc.Server;
  private readonly log: Logger;
  private inFlight = 0;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly sockets: string[] = [];
  private shuttingDown = false;
  readonly boundAddresses: string[] = [];

  constructor(private readonly options: CsiServerOptions) {
    this.log = options.logger;
    this.server = new grpc.Server({ "grpc.max_receive_message_length": 16 * 1024 * 1024 });
  }

  get activeCalls(): number {
    return this.inFlight;
  }

  /** Registers a CSI service; `serviceName` is `Identity`, `Controller` or `Node`. */
  addService<D extends ServiceDef>(serviceName: string, definition: D, implementation: ServiceImplementation<D>): void {
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const [key, def] of Object.entries(definition)) {
      if (def.requestStream || def.responseStream) continue; // CSI's only streams: SnapshotMetadata, not served
      const method = def.path.slice(def.path.lastIndexOf("/") + 1);
      const impl = (implementation as Record<string, UnaryHandler | undefined>)[key];
      handlers[key] = this.wrap(serviceName, method, impl);
    }
    this.server.addService(definition as unknown as grpc.ServiceDefinition, handlers);
  }

  private wrap(service: string, method: string, impl: UnaryHandler | undefined): grpc.handleUnaryCall<unknown, unknown> {
    const quiet = this.options.quietMethods?.includes(method) ?? false;
    const metrics = this.options.metrics;
    return (call, callback) => {
      const started = process.hrtime.bigint();
      const fromClient = call.metadata.get("x-request-id")[0];
      const requestId = typeof fromClient === "string" && /^[\w.:-]{1,64}$/.test(fromClient) ? fromClient : randomUUID();
      const log = this.log.child({ requestId, op: method, ...logFields(call.request) });
      const abort = new AbortController();
      call.on("cancelled", () => abort.abort(new Error("call cancelled by the client")));
      const ctx: RpcContext = { requestId, method, service, log, signal: abort.signal };
      this.inFlight++;
      metrics?.rpcInFlight.inc({ service, method });
      log[quiet ? "debug" : "info"]({ request: redactSecrets(call.request, requestMessageName(method)) }, `${method} called`);
      const handler: UnaryHandler = impl ?? (async () => Promise.reject(new UnimplementedError(`${service}.${method} is not implemented`)));
      let settled: Promise<unknown>;
      try {
        settled = handler(call.request, ctx);
      } catch (err) {
        settled = Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      settled
        .then(
          (response) => {
            const seconds = Number(process.hrtime.bigint() - started) / 1e9;
            metrics?.rpcTotal.inc({ service, method, code: "OK" });
            metrics?.rpcDuration.observe({ service, method }, seconds);
            log[quiet ? "debug" : "info"](
              { code: "OK", durationMs: Math.round(seconds * 1000), ...(log.isLevelEnabled("debug") ? { response } : {}) },
              `${method} succeeded`,
            );
            callback(null, response);
          },
          (err: unknown) => {
            const seconds = Number(process.hrtime.bigint() - started) / 1e9;
            const st = toGrpcStatus(err);
            const code = statusName(st.code);
            metrics?.rpcTotal.inc({ service, method, code });
            metrics?.rpcErrors.inc({ service, method, code });
            metrics?.rpcDuration.observe({ service, method }, seconds);
            const level = st.code === grpc.status.INTERNAL || st.code === grpc.status.UNKNOWN ? "error" : "warn";
            log[level]({ code, durationMs: Math.round(seconds * 1000), err }, `${method} failed: ${st.details}`);
            callback({ code: st.code, details: st.details });
          },
        )
        .finally(() => {
          this.inFlight--;
          metrics?.rpcInFlight.dec({ service, method });
          if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
        });
    };
  }

  /** Binds every endpoint (removing a stale unix socket first) and starts serving. */
  async listen(endpoints: readonly string[]): Promise<string[]> {
    for (const endpoint of endpoints) {
      const ep = parseEndpoint(endpoint);
      let target: string;
      if (ep.kind === "unix") {
        const abs = path.resolve(ep.address);
        if (Buffer.byteLength(abs) > 107) throw new Error(`socket path too long for a unix socket (max 107 bytes): ${abs}`);
        fs.mkdirSync(path.dirname(abs), { recursive: true, mode: 0o750 });
        removeStaleSocket(abs);
        target = `unix://${abs}`;
        this.sockets.push(abs);
      } else {
        target = ep.address;
      }
      const port = await new Promise<number>((resolve, reject) => {
        this.server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
      });
      const bound = ep.kind === "unix" ? target : target.replace(/:\d+$/, `:${port}`);
      this.boundAddresses.push(bound);
      this.log.info({ endpoint: bound }, "gRPC server listening");
    }
    return [...this.boundAddresses];
  }

  /**
   * Stops accepting new calls, lets in-flight calls finish (up to `graceMs`), then closes. Calls
   * still running after the grace period are cancelled.
   */
  async shutdown(graceMs = 30_000): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.log.info({ inFlight: this.inFlight, graceMs }, "shutting down gRPC server");
    const graceful = new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    const idle = this.inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<"expired">((resolve) => {
      timer = setTimeout(() => resolve("expired"), graceMs);
    });
    const outcome = await Promise.race([Promise.all([graceful, idle]), expired]);
    clearTimeout(timer);
    if (outcome === "expired") {
      this.log.warn({ inFlight: this.inFlight }, "grace period over, cancelling remaining calls");
      this.server.forceShutdown();
    }
    for (const s of this.sockets) fs.rmSync(s, { force: true });
  }
}
