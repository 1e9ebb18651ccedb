// Process configuration: command-line flags, each with a matching environment variable, turned
// into one typed DriverConfig. Flags win over env vars, env vars over defaults.
//
// Extending (node service): add the node flags in `addNodeOptions` and their typed form in
// `NodeConfig` / `nodeConfigFrom`; main.ts passes `config.node` to the node service.
import fs from "node:fs";
import { Command, Option } from "commander";
import { LOG_LEVELS } from "./logger.js";
import { addNodeFlags, nodeConfigFrom, type NodePluginConfig, type RawNodeOptions } from "./node-config.js";

export const DEFAULT_DRIVER_NAME = "rds-nvme.csi.dev";
export const DEFAULT_ENDPOINT = "unix:///csi/csi.sock";

export type DriverMode = "controller" | "node" | "all";

export interface RdsConfig {
  address: string;
  port: number;
  user: string;
  /** Contents of the private key file. */
  privateKey: string;
  privateKeyPath: string;
  /** Expected host key (OpenSSH line or SHA256 fingerprint); undefined only when verification is skipped. */
  hostKey: string | undefined;
  insecureSkipHostKeyVerification: boolean;
  poolSize: number;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
}

export interface ControllerConfig {
  /** Directory on the RDS for backing files; its first component is the pool's mount point. */
  poolDir: string;
  nvmeAddress: string;
  nvmePort: number;
}

/** Node-side settings: the node plugin's flags (node-config.ts). */
export type NodeConfig = NodePluginConfig;

export interface DriverConfig {
  endpoint: string;
  tcpEndpoint: string | undefined;
  mode: DriverMode;
  driverName: string;
  logLevel: string;
  metricsAddress: string | undefined;
  shutdownGraceMs: number;
  rds: RdsConfig | undefined;
  controller: ControllerConfig | undefined;
  node: NodeConfig | undefined;
}

const intArg = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v)) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return Number(v);
};

/** Adds the process, RDS and controller flags to `cmd`. */
export function addDriverOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--endpoint <endpoint>", "CSI endpoint (unix:///path.sock)").env("CSI_ENDPOINT").default(DEFAULT_ENDPOINT))
    .addOption(new Option("--tcp-endpoint <host:port>", "also serve gRPC on TCP (debugging, csi-sanity from outside)").env("CSI_TCP_ENDPOINT"))
    .addOption(new Option("--mode <mode>", "services to run").choices(["controller", "node", "all"]).env("CSI_MODE").default("all"))
    .addOption(new Option("--node-id <id>", "this node's ID (node mode)").env("CSI_NODE_ID"))
    .addOption(new Option("--driver-name <name>", "CSI driver name").env("CSI_DRIVER_NAME").default(DEFAULT_DRIVER_NAME))
    .addOption(new Option("--rds-address <host>", "RDS management address (SSH)").env("RDS_ADDRESS"))
    .addOption(new Option("--rds-port <port>", "RDS SSH port").env("RDS_PORT").default(22).argParser(intArg("--rds-port")))
    .addOption(new Option("--rds-user <user>", "RDS SSH user").env("RDS_USER").default("admin"))
    .addOption(new Option("--rds-private-key <file>", "SSH private key file for the RDS").env("RDS_PRIVATE_KEY"))
    .addOption(
      new Option("--rds-host-key <key-or-file>", "expected RDS host key: an OpenSSH public key line, a SHA256:… fingerprint, or a file holding either").env(
        "RDS_HOST_KEY",
      ),
    )
    .addOption(
      new Option("--rds-insecure-skip-host-key-verification", "connect without verifying the RDS host key (INSECURE)").env(
        "RDS_INSECURE_SKIP_HOST_KEY_VERIFICATION",
      ),
    )
    .addOption(new Option("--rds-pool-dir <dir>", "directory on the RDS for volume files").env("RDS_POOL_DIR").default("/storage/csi"))
    .addOption(
      new Option("--rds-pool-size <n>", "SSH connections kept open (0 = a new connection per command)").env("RDS_POOL_SIZE").default(4).argParser(intArg("--rds-pool-size")),
    )
    .addOption(
      new Option("--rds-command-timeout <ms>", "deadline of one RouterOS command").env("RDS_COMMAND_TIMEOUT_MS").default(30_000).argParser(intArg("--rds-command-timeout")),
    )
    .addOption(
      new Option("--rds-connect-timeout <ms>", "how long a command waits for an SSH connection (with reconnect backoff)")
        .env("RDS_CONNECT_TIMEOUT_MS")
        .default(10_000)
        .argParser(intArg("--rds-connect-timeout")),
    )
    .addOption(new Option("--nvme-address <host>", "NVMe/TCP address nodes connect to (default: --rds-address)").env("NVME_ADDRESS"))
    .addOption(new Option("--nvme-port <port>", "NVMe/TCP port exported for volumes").env("NVME_PORT").default(4420).argParser(intArg("--nvme-port")))
    .addOption(new Option("--metrics-address <host:port>", "serve Prometheus /metrics here (empty = off)").env("METRICS_ADDRESS"))
    .addOption(new Option("--log-level <level>", "log level").choices([...LOG_LEVELS, "silent"]).env("LOG_LEVEL").default("info"))
    .addOption(
      new Option("--shutdown-grace <ms>", "on SIGTERM/SIGINT, how long in-flight RPCs may run").env("SHUTDOWN_GRACE_MS").default(30_000).argParser(intArg("--shutdown-grace")),
    );
}

/** Node flags (node-config.ts). */
export function addNodeOptions(cmd: Command): Command {
  return addNodeFlags(cmd);
}

/** A file path → its contents; an inline value → itself. */
function inlineOrFile(value: string): string {
  if ((value.startsWith("/") || value.startsWith(".")) && fs.existsSync(value)) return fs.readFileSync(value, "utf8").trim();
  return value.trim();
}

export interface RawOptions extends Partial<Omit<RawNodeOptions, "nodeId" | "driverName">> {
  endpoint: string;
  tcpEndpoint?: string;
  mode: DriverMode;
  nodeId?: string;
  driverName: string;
  rdsAddress?: string;
  rdsPort: number;
  rdsUser: string;
  rdsPrivateKey?: string;
  rdsHostKey?: string;
  rdsInsecureSkipHostKeyVerification?: boolean | string;
  rdsPoolDir: string;
  rdsPoolSize: number;
  rdsCommandTimeout: number;
  rdsConnectTimeout: number;
  nvmeAddress?: string;
  nvmePort: number;
  metricsAddress?: string;
  logLevel: string;
  shutdownGrace: number;
}

/** Validates the parsed flags and reads the key files. Throws with a message for the user. */
export function configFromOptions(o: RawOptions): DriverConfig {
  const controller = o.mode === "controller" || o.mode === "all";
  const node = o.mode === "node" || o.mode === "all";
  if (!/^[A-Za-z]([A-Za-z0-9.\-_]{0,61}[A-Za-z])?$/.test(o.driverName)) {
    throw new Error(`--driver-name ${JSON.stringify(o.driverName)}: at most 63 characters, letters at both ends, letters/digits/.-_ inside`);
  }
  let rds: RdsConfig | undefined;
  let controllerConfig: ControllerConfig | undefined;
  if (controller) {
    if (!o.rdsAddress) throw new Error("--rds-address is required in controller mode");
    if (!o.rdsPrivateKey) throw new Error("--rds-private-key is required in controller mode");
    const insecure = o.rdsInsecureSkipHostKeyVerification === true || o.rdsInsecureSkipHostKeyVerification === "true";
    if (!o.rdsHostKey && !insecure) {
      throw new Error("--rds-host-key is required (host key verification is mandatory; --rds-insecure-skip-host-key-verification disables it)");
    }
    rds = {
      address: o.rdsAddress,
      port: o.rdsPort,
      user: o.rdsUser,
      privateKeyPath: o.rdsPrivateKey,
      privateKey: fs.readFileSync(o.rdsPrivateKey, "utf8"),
      hostKey: o.rdsHostKey ? inlineOrFile(o.rdsHostKey) : undefined,
      insecureSkipHostKeyVerification: insecure,
      poolSize: o.rdsPoolSize,
      commandTimeoutMs: o.rdsCommandTimeout,
      connectTimeoutMs: o.rdsConnectTimeout,
    };
    if (!/^\/[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(o.rdsPoolDir)) throw new Error(`--rds-pool-dir ${JSON.stringify(o.rdsPoolDir)} is not a plain absolute path`);
    const nvmeAddress = o.nvmeAddress ?? o.rdsAddress;
    if (!/^[A-Za-z0-9]([A-Za-z0-9.:-]{0,252})$/.test(nvmeAddress)) throw new Error(`--nvme-address ${JSON.stringify(nvmeAddress)} is not a host name or IP address`);
    if (o.nvmePort < 1 || o.nvmePort > 65535) throw new Error(`--nvme-port ${o.nvmePort} is not a TCP port`);
    controllerConfig = { poolDir: o.rdsPoolDir, nvmeAddress, nvmePort: o.nvmePort };
  }
  let nodeConfig: NodeConfig | undefined;
  if (node) {
    nodeConfig = nodeConfigFrom(o as RawNodeOptions);
  }
  return {
    endpoint: o.endpoint,
    tcpEndpoint: o.tcpEndpoint,
    mode: o.mode,
    driverName: o.driverName,
    logLevel: o.logLevel,
    metricsAddress: o.metricsAddress || undefined,
    shutdownGraceMs: o.shutdownGrace,
    rds,
    controller: controllerConfig,
    node: nodeConfig,
  };
}
