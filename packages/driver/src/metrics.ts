// Prometheus metrics (prom-client) on a registry of our own, served over HTTP on the metrics
// address. Per RPC: a call counter by final gRPC code, an error counter by code, a latency
// histogram. The RouterOS backend reports its commands and the pool size here too.
import http from "node:http";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export class Metrics {
  readonly registry = new Registry();
  readonly rpcTotal: Counter<"service" | "method" | "code">;
  readonly rpcErrors: Counter<"service" | "method" | "code">;
  readonly rpcDuration: Histogram<"service" | "method">;
  readonly rpcInFlight: Gauge<"service" | "method">;
  readonly backendCommands: Counter<"verb" | "outcome">;
  readonly backendDuration: Histogram<"verb">;
  readonly backendConnections: Gauge;
  private connectionsProvider: (() => number) | undefined;

  /** Reports the RDS client's open connection count at every scrape. */
  trackBackendConnections(provider: () => number): void {
    this.connectionsProvider = provider;
  }

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.rpcTotal = new Counter({
      name: "rdsnvme_csi_rpc_total",
      help: "CSI RPCs handled, by final gRPC status code",
      labelNames: ["service", "method", "code"],
      registers,
    });
    this.rpcErrors = new Counter({
      name: "rdsnvme_csi_rpc_errors_total",
      help: "CSI RPCs that failed, by gRPC status code",
      labelNames: ["service", "method", "code"],
      registers,
    });
    this.rpcDuration = new Histogram({
      name: "rdsnvme_csi_rpc_duration_seconds",
      help: "CSI RPC latency",
      labelNames: ["service", "method"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.rpcInFlight = new Gauge({
      name: "rdsnvme_csi_rpc_in_flight",
      help: "CSI RPCs currently running",
      labelNames: ["service", "method"],
      registers,
    });
    this.backendCommands = new Counter({
      name: "rdsnvme_routeros_commands_total",
      help: "RouterOS commands sent over SSH, by outcome",
      labelNames: ["verb", "outcome"],
      registers,
    });
    this.backendDuration = new Histogram({
      name: "rdsnvme_routeros_command_duration_seconds",
      help: "RouterOS command latency including waiting for a pooled connection",
      labelNames: ["verb"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    this.backendConnections = new Gauge({
      name: "rdsnvme_routeros_connections_open",
      help: "SSH connections to the RDS currently open (pooled and busy)",
      registers,
      collect() {
        if (self.connectionsProvider) this.set(self.connectionsProvider());
      },
    });
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: "rdsnvme_" });
  }

  /** Hook for RouterOSClient's onCommand. */
  readonly onBackendCommand = (e: { verb: string; durationMs: number; outcome: string }): void => {
    this.backendCommands.inc({ verb: e.verb, outcome: e.outcome });
    this.backendDuration.observe({ verb: e.verb }, e.durationMs / 1000);
  };
}

/** Parses `host:port`, `:port` or `[v6]:port`. */
export function parseHostPort(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address);
  if (!m) throw new Error(`invalid address ${JSON.stringify(address)} (want host:port)`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid port in ${JSON.stringify(address)}`);
  return { host: m[1] ?? (m[2] || "0.0.0.0"), port };
}

export interface MetricsServer {
  /** The bound address (port resolved when 0 was asked for). */
  address: { host: string; port: number };
  close(): Promise<void>;
}

/** Serves GET /metrics (Prometheus text) and GET /healthz on `address`. */
export async function serveMetrics(metrics: Metrics, address: string): Promise<MetricsServer> {
  const { host, port } = parseHostPort(address);
  const server = http.createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && url === "/metrics") {
      metrics.registry.metrics().then(
        (body) => {
          res.writeHead(200, { "content-type": metrics.registry.contentType });
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        },
      );
      return;
    }
    if (req.method === "GET" && url === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok\n");
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  const actualPort = typeof bound === "object" && bound ? bound.port : port;
  return {
    address: { host, port: actualPort },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
