#!/usr/bin/env node
// The plugin process: `rds-nvme-csi [flags]` serves CSI; `demo` starts a simulated RDS and a
// controller against it (what `npm start` runs); `call` sends one CSI RPC (a tiny grpcurl).
//
// Composition lives in startDriver(): config → logger, metrics, RDS client → services → server.
// The node service plugs in at createNodeService() (helper N).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { Command } from "commander";
import { RouterOSBackend } from "./backend/routeros/backend.js";
import { RouterOSClient } from "./backend/routeros/client.js";
import { addDriverOptions, addNodeOptions, configFromOptions, type DriverConfig, type RawOptions } from "./config.js";
import { createControllerService } from "./controller.js";
import * as csi from "./gen/csi.js";
import { createIdentityService, DRIVER_VERSION } from "./identity.js";
import { createLogger, stderrDestination, type Logger } from "./logger.js";
import { Metrics, serveMetrics, type MetricsServer } from "./metrics.js";
import { startNodePlugin, type NodePlugin } from "./node-plugin.js";
import { CsiServer } from "./server.js";

export interface RunningDriver {
  config: DriverConfig;
  server: CsiServer;
  /** Bound gRPC addresses (`unix:///…`, `127.0.0.1:port`). */
  addresses: string[];
  metricsServer: MetricsServer | undefined;
  metrics: Metrics;
  logger: Logger;
  /** Graceful stop: in-flight RPCs finish (up to the grace period), then everything closes. */
  stop(): Promise<void>;
}

/** The node plugin for this process (node-plugin.ts), or undefined when it does not run one. */
async function createNodeService(config: DriverConfig, deps: { logger: Logger; metrics: Metrics }): Promise<NodePlugin | undefined> {
  if (!config.node) return undefined;
  return startNodePlugin(config.node, deps);
}

export async function startDriver(config: DriverConfig, options: { logger?: Logger } = {}): Promise<RunningDriver> {
  const logger = options.logger ?? createLogger({ level: config.logLevel, base: { mode: config.mode } });
  const metrics = new Metrics({ defaultMetrics: true });
  const server = new CsiServer({ logger, metrics, quietMethods: ["Probe"] });

  let backend: RouterOSBackend | undefined;
  if (config.controller && config.rds) {
    const rds = config.rds;
    const client = new RouterOSClient({
      host: rds.address,
      port: rds.port,
      username: rds.user,
      privateKey: rds.privateKey,
      hostKey: rds.hostKey,
      insecureSkipHostKeyVerification: rds.insecureSkipHostKeyVerification,
      poolSize: rds.poolSize,
      commandTimeoutMs: rds.commandTimeoutMs,
      acquireTimeoutMs: rds.connectTimeoutMs,
      logger: logger.child({ component: "routeros" }),
      onCommand: metrics.onBackendCommand,
    });
    if (rds.insecureSkipHostKeyVerification) logger.warn("RDS host key verification is DISABLED (--rds-insecure-skip-host-key-verification)");
    metrics.trackBackendConnections(() => client.openConnections);
    backend = new RouterOSBackend(client);
    server.addService(
      "Controller",
      csi.ControllerService,
      createControllerService({
        backend,
        poolDir: config.controller.poolDir,
        nvmeAddress: config.controller.nvmeAddress,
        nvmePort: config.controller.nvmePort,
      }),
    );
  }
  const probeBackend = backend;
  server.addService(
    "Identity",
    csi.IdentityService,
    createIdentityService({
      driverName: config.driverName,
      controller: config.controller !== undefined,
      probe: probeBackend ? () => probeBackend.probe() : undefined,
    }),
  );
  const node = await createNodeService(config, { logger, metrics });
  if (node) server.addService("Node", csi.NodeService, node.service);

  const endpoints = [config.endpoint, ...(config.tcpEndpoint ? [config.tcpEndpoint] : [])];
  let metricsServer: MetricsServer | undefined;
  try {
    metricsServer = config.metricsAddress ? await serveMetrics(metrics, config.metricsAddress) : undefined;
    if (metricsServer) logger.info({ address: `${metricsServer.address.host}:${metricsServer.address.port}` }, "metrics listening");
    const addresses = await server.listen(endpoints);
    logger.info({ driver: config.driverName, version: DRIVER_VERSION, mode: config.mode }, "CSI driver started");
    let stopping: Promise<void> | undefined;
    return {
      config,
      server,
      addresses,
      metricsServer,
      metrics,
      logger,
      stop: () =>
        (stopping ??= (async () => {
          await server.shutdown(config.shutdownGraceMs);
          await node?.stop();
          await backend?.close();
          await metricsServer?.close();
          logger.info("CSI driver stopped");
          logger.flush();
        })()),
    };
  } catch (err) {
    await server.shutdown(0);
    await node?.stop();
    await backend?.close();
    await metricsServer?.close();
    throw err;
  }
}

/** Stops `stop` once on SIGTERM/SIGINT, then exits. A second signal exits at once. */
function onSignals(stop: () => Promise<void>, logger: Logger): void {
  let signalled = false;
  const handler = (signal: NodeJS.Signals) => {
    if (signalled) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    signalled = true;
    logger.info({ signal }, "signal received, shutting down");
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
}

async function serve(opts: RawOptions): Promise<void> {
  const config = configFromOptions(opts);
  const driver = await startDriver(config);
  onSignals(() => driver.stop(), driver.logger);
}

/** `npm start`: a simulated RDS target plus this driver in controller mode, no root needed. */
async function demo(opts: { logLevel: string; socket?: string }): Promise<void> {
  // sim-nvme is a dev dependency: imported only here, so production installs never need it.
  const { startTarget } = await import("@rds-nvme-csi/sim-nvme");
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "rdsnvme-demo-"));
  const target = await startTarget({ stateDir, address: "127.0.0.1", sshPort: 0, exportPort: 0 });
  const socket = opts.socket ?? path.join(stateDir, "csi.sock");
  const config: DriverConfig = {
    endpoint: `unix://${socket}`,
    tcpEndpoint: undefined,
    mode: "controller",
    driverName: "rds-nvme.csi.dev",
    logLevel: opts.logLevel,
    metricsAddress: "127.0.0.1:0",
    shutdownGraceMs: 10_000,
    rds: {
      address: target.ssh.host,
      port: target.ssh.port,
      user: target.ssh.user,
      privateKey: fs.readFileSync(target.ssh.privateKeyPath, "utf8"),
      privateKeyPath: target.ssh.privateKeyPath,
      hostKey: target.ssh.hostPublicKey,
      insecureSkipHostKeyVerification: false,
      poolSize: 4,
      commandTimeoutMs: 30_000,
      connectTimeoutMs: 10_000,
    },
    controller: { poolDir: "/storage/csi", nvmeAddress: "127.0.0.1", nvmePort: target.exportPort },
    node: undefined,
  };
  const logger = createLogger({ level: opts.logLevel, destination: stderrDestination() });
  const driver = await startDriver(config, { logger });
  const me = path.relative(process.cwd(), fileURLPathOfThisModule()) || "packages/driver/dist/main.js";
  const ep = `unix://${socket}`;
  const volume = JSON.stringify({
    name: "demo-volume",
    capacityRange: { requiredBytes: "1073741824" },
    volumeCapabilities: [{ mount: { fsType: "ext4" }, accessMode: { mode: "SINGLE_NODE_WRITER" } }],
  });
  process.stdout.write(
    [
      "",
      "rds-nvme-csi demo: simulated RDS + CSI controller (Identity + Controller; Node is not served here)",
      `  CSI endpoint     ${ep}`,
      `  simulated RDS    ssh ${target.ssh.user}@${target.ssh.host} -p ${target.ssh.port} -i ${target.ssh.privateKeyPath}`,
      `  NVMe/TCP export  127.0.0.1:${target.exportPort}`,
      `  metrics          http://127.0.0.1:${driver.metricsServer?.address.port ?? "?"}/metrics`,
      `  state directory  ${stateDir}`,
      "",
      "Try (another terminal):",
      `  node ${me} call --endpoint ${ep} Identity.GetPluginInfo`,
      `  node ${me} call --endpoint ${ep} Controller.CreateVolume '${volume}'`,
      `  node ${me} call --endpoint ${ep} Controller.ListVolumes`,
      `  node ${me} call --endpoint ${ep} Controller.DeleteVolume '{"volumeId":"demo-volume"}'`,
      "",
      "Ctrl-C stops the driver and the simulated RDS.",
      "",
    ].join("\n"),
  );
  onSignals(async () => {
    await driver.stop();
    await target.close();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }, logger);
}

function fileURLPathOfThisModule(): string {
  return new URL(import.meta.url).pathname;
}

const SERVICES: Record<string, grpc.ServiceDefinition> = {
  Identity: csi.IdentityService,
  Controller: csi.ControllerService,
  Node: csi.NodeService,
};

/** `call Service.Method [json]`: one unary RPC with a JSON request, JSON response on stdout. */
async function call(target: string, json: string | undefined, opts: { endpoint: string; timeout: number }): Promise<void> {
  const m = /^(Identity|Controller|Node)\.([A-Za-z]+)$/.exec(target);
  if (!m) throw new Error(`want Service.Method (Identity|Controller|Node), got ${JSON.stringify(target)}`);
  const [, service, method] = m as unknown as [string, string, string];
  const messages = csi as unknown as Record<string, { fromJSON(o: unknown): unknown; toJSON(v: unknown): unknown } | undefined>;
  const reqType = messages[`${method}Request`];
  const resType = messages[`${method}Response`];
  const key = method[0].toLowerCase() + method.slice(1);
  if (!reqType || !resType || !(key in SERVICES[service])) throw new Error(`unknown RPC ${target}`);
  const Client = grpc.makeGenericClientConstructor(SERVICES[service], service);
  const address = opts.endpoint.startsWith("unix://") || !opts.endpoint.startsWith("tcp://") ? opts.endpoint : opts.endpoint.slice(6);
  const client = new Client(address, grpc.credentials.createInsecure());
  const request = reqType.fromJSON(json ? JSON.parse(json) : {});
  try {
    const response = await new Promise<unknown>((resolve, reject) => {
      const fn = (client as unknown as Record<string, (r: unknown, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: unknown) => void) => void>)[key];
      fn.call(client, request, new grpc.Metadata(), { deadline: Date.now() + opts.timeout }, (err, value) => (err ? reject(err) : resolve(value)));
    });
    process.stdout.write(JSON.stringify(resType.toJSON(response), null, 2) + "\n");
  } catch (err) {
    const e = err as grpc.ServiceError;
    process.stderr.write(`${grpc.status[e.code] ?? e.code}: ${e.details}\n`);
    process.exitCode = 1;
  } finally {
    client.close();
  }
}

export function buildProgram(): Command {
  const program = new Command("rds-nvme-csi")
    .description("CSI driver for NVMe/TCP volumes on a MikroTik ROSE Data Server")
    .version(DRIVER_VERSION)
    .showHelpAfterError()
    .enablePositionalOptions();
  addNodeOptions(addDriverOptions(program)).action(async (opts: RawOptions) => serve(opts));
  program
    .command("demo")
    .description("start a simulated RDS and the controller against it (no root needed)")
    .option("--log-level <level>", "log level", "warn")
    .option("--socket <path>", "unix socket path (default: in the demo's temp dir)")
    .action(async (opts: { logLevel: string; socket?: string }) => demo(opts));
  program
    .command("call <rpc> [json]")
    .description("call one CSI RPC, e.g. `call Controller.ListVolumes` or `call Identity.Probe`")
    .requiredOption("--endpoint <endpoint>", "CSI endpoint (unix:///path.sock or tcp://host:port)")
    .option("--timeout <ms>", "deadline", (v) => Number(v), 30_000)
    .action(async (rpc: string, json: string | undefined, opts: { endpoint: string; timeout: number }) => call(rpc, json, opts));
  return program;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href;
if (invokedDirectly) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      process.stderr.write(`rds-nvme-csi: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(2);
    });
}
