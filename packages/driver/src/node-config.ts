// The node plugin's command-line flags (each with an environment variable) and their typed form.
// config.ts adds them to the program and calls nodeConfigFrom() in node mode.
import path from "node:path";
import { Option, type Command } from "commander";
import { validateDefaults, type ConnectDefaults } from "./nvme/connect-params.js";

export interface NodePluginConfig {
  nodeId: string;
  driverName: string;
  /** the nvme binary (nvme-cli, or sim-nvme's stand-in) */
  nvmeCli: string;
  sysfsRoot: string;
  devRoot: string;
  procRoot: string;
  /** volume records; survives plugin restarts */
  stateDir: string;
  /** explicit host NQN; default <nvmeConfigDir>/hostnqn */
  hostNqn: string | undefined;
  /** where hostnqn / hostid live (default /etc/nvme) */
  nvmeConfigDir: string;
  connectDefaults: ConnectDefaults;
  /** health monitor interval between passes when nothing wakes it */
  healthIntervalMs: number;
  /** "auto" (in-cluster, then $KUBECONFIG), "none", or a kubeconfig file */
  kubeconfig: string;
  /** write emitted Events as JSON lines here instead of the API server */
  eventsFile: string | undefined;
}

export interface RawNodeOptions {
  nodeId?: string;
  driverName: string;
  nvmeCli: string;
  sysfsRoot: string;
  devRoot: string;
  procRoot: string;
  stateDir?: string;
  hostNqn?: string;
  nvmeConfigDir: string;
  ctrlLossTmo: number;
  reconnectDelay: number;
  keepAliveTmo: number;
  healthInterval: number;
  kubeconfig: string;
  eventsFile?: string;
}

const int = (name: string, min: number) => (v: string) => {
  if (!/^-?\d+$/.test(v) || Number(v) < min) throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return Number(v);
};

export function addNodeFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option("--nvme-cli <path>", "nvme binary (nvme-cli; sim-nvme's stand-in on the simulator)").env("NVME_CLI").default("/usr/sbin/nvme"))
    .addOption(new Option("--sysfs-root <dir>", "sysfs root for NVMe devices").env("SYSFS_ROOT").default("/sys"))
    .addOption(new Option("--dev-root <dir>", "device node root").env("DEV_ROOT").default("/dev"))
    .addOption(new Option("--proc-root <dir>", "procfs root (mountinfo)").env("PROC_ROOT").default("/proc"))
    .addOption(new Option("--state-dir <dir>", "node volume records (default /var/lib/kubelet/plugins/<driver-name>/state)").env("STATE_DIR"))
    .addOption(new Option("--host-nqn <nqn>", "NVMe host NQN (default: <nvme-config-dir>/hostnqn)").env("HOST_NQN"))
    .addOption(new Option("--nvme-config-dir <dir>", "directory with hostnqn and hostid").env("NVME_CONFIG_DIR").default("/etc/nvme"))
    .addOption(
      new Option("--ctrl-loss-tmo <s>", "nvme connect -l: seconds before a lost controller is deleted (-1 = never)")
        .env("NVME_CTRL_LOSS_TMO")
        .default(600)
        .argParser(int("--ctrl-loss-tmo", -1)),
    )
    .addOption(new Option("--reconnect-delay <s>", "nvme connect -c").env("NVME_RECONNECT_DELAY").default(5).argParser(int("--reconnect-delay", 1)))
    .addOption(new Option("--keep-alive-tmo <s>", "nvme connect -k (0 = kernel default)").env("NVME_KEEP_ALIVE_TMO").default(0).argParser(int("--keep-alive-tmo", 0)))
    .addOption(
      new Option("--health-interval <ms>", "health monitor pass interval (dev root changes wake it at once)")
        .env("HEALTH_INTERVAL_MS")
        .default(1000)
        .argParser(int("--health-interval", 100)),
    )
    .addOption(new Option("--kubeconfig <path|auto|none>", "cluster access for Events and PV lookups").env("KUBECONFIG_MODE").default("auto"))
    .addOption(new Option("--events-file <path>", "append emitted Events as JSON lines to this file instead of the API server").env("EVENTS_FILE"));
}

export function nodeConfigFrom(o: RawNodeOptions): NodePluginConfig {
  if (!o.nodeId) throw new Error("--node-id is required in node mode");
  for (const [flag, value] of [
    ["--nvme-cli", o.nvmeCli],
    ["--sysfs-root", o.sysfsRoot],
    ["--dev-root", o.devRoot],
    ["--proc-root", o.procRoot],
    ["--nvme-config-dir", o.nvmeConfigDir],
  ] as const) {
    if (!path.isAbsolute(value)) throw new Error(`${flag} must be an absolute path, got ${JSON.stringify(value)}`);
  }
  const stateDir = o.stateDir ?? path.join("/var/lib/kubelet/plugins", o.driverName, "state");
  if (!path.isAbsolute(stateDir)) throw new Error(`--state-dir must be an absolute path, got ${JSON.stringify(stateDir)}`);
  const connectDefaults = { ctrlLossTmo: o.ctrlLossTmo, reconnectDelay: o.reconnectDelay, keepAliveTmo: o.keepAliveTmo };
  try {
    validateDefaults(connectDefaults);
  } catch (err) {
    throw new Error(`connect defaults: ${(err as Error).message}`, { cause: err });
  }
  return {
    nodeId: o.nodeId,
    driverName: o.driverName,
    nvmeCli: o.nvmeCli,
    sysfsRoot: o.sysfsRoot,
    devRoot: o.devRoot,
    procRoot: o.procRoot,
    stateDir,
    hostNqn: o.hostNqn || undefined,
    nvmeConfigDir: o.nvmeConfigDir,
    connectDefaults,
    healthIntervalMs: o.healthInterval,
    kubeconfig: o.kubeconfig,
    eventsFile: o.eventsFile || undefined,
  };
}
