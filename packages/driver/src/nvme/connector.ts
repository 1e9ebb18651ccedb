// The NVMe connector: runs the configured `nvme` binary (nvme-cli on a host, sim-nvme's stand-in in
// tests — same code path) to connect, list, disconnect and rescan, and finds the resulting block
// device through the mountinfo package's DeviceResolver (sysfs + dev root, by device number).
import {
  CommandError,
  CommandFailedError,
  DeviceWaitTimeoutError,
  runCommand,
  type DeviceResolver,
  type ResolvedDevice,
  type RunResult,
} from "@rds-nvme-csi/mountinfo";
import path from "node:path";
import { buildConnectArgs, validateNqn, type ConnectParams, type HostIdentity } from "./connect-params.js";
import { classifyConnect, classifyDisconnect, listSubsysMeansEmpty } from "./cli-results.js";
import { NvmeCliError, NvmeConnectError } from "./errors.js";
import { parseListSubsys, type ListedSubsystem } from "./list-subsys.js";

export interface ConnectorTimeouts {
  connectMs: number;
  disconnectMs: number;
  listMs: number;
  rescanMs: number;
  /** how long an already-listed subsystem may take to show its namespace before it is treated as orphaned */
  orphanGraceMs: number;
}

export const DEFAULT_CONNECTOR_TIMEOUTS: ConnectorTimeouts = {
  connectMs: 30_000,
  disconnectMs: 15_000,
  listMs: 10_000,
  rescanMs: 10_000,
  orphanGraceMs: 2_000,
};

export interface NvmeConnectorOptions {
  /** path of the nvme binary */
  nvmeCli: string;
  host: HostIdentity;
  resolver: DeviceResolver;
  timeouts?: Partial<ConnectorTimeouts>;
}

export interface ConnectOptions {
  /** absolute time (Date.now() ms) by which the device must exist; the RPC deadline */
  deadline: number;
  signal?: AbortSignal;
}

export interface ConnectResult {
  device: ResolvedDevice;
  /** what happened: a fresh connect, an existing connection reused, or an orphan replaced */
  how: "connected" | "reused" | "reconnected-orphan";
}

export class NvmeConnector {
  readonly nvmeCli: string;
  readonly host: HostIdentity;
  readonly resolver: DeviceResolver;
  private readonly t: ConnectorTimeouts;

  constructor(opts: NvmeConnectorOptions) {
    this.nvmeCli = opts.nvmeCli;
    this.host = opts.host;
    this.resolver = opts.resolver;
    this.t = { ...DEFAULT_CONNECTOR_TIMEOUTS, ...opts.timeouts };
  }

  /** Runs nvme with exit codes 0 and 1 allowed (nvme-cli's only failure code; the text says why). */
  private async run(args: string[], timeoutMs: number, signal?: AbortSignal): Promise<RunResult> {
    try {
      return await runCommand([this.nvmeCli, ...args], { timeoutMs, allowedExitCodes: [0, 1], signal });
    } catch (err) {
      if (err instanceof CommandFailedError) {
        throw new NvmeCliError(args[0] ?? "", err.message, err.exitCode, err.stderr);
      }
      if (err instanceof CommandError) throw new NvmeCliError(args[0] ?? "", err.message, null, err.stderr);
      throw err;
    }
  }

  async listSubsystems(signal?: AbortSignal): Promise<ListedSubsystem[]> {
    const r = await this.run(["list-subsys", "-o", "json"], this.t.listMs, signal);
    if (r.exitCode !== 0) {
      if (listSubsysMeansEmpty(r.exitCode, r.stderr)) return [];
      throw new NvmeCliError("list-subsys", r.stderr.trim() || `exit ${r.exitCode}`, r.exitCode, r.stderr);
    }
    return parseListSubsys(r.stdout);
  }

  /** Subsystems with this exact NQN (any host). */
  async listed(nqn: string, signal?: AbortSignal): Promise<ListedSubsystem[]> {
    return (await this.listSubsystems(signal)).filter((s) => s.nqn === nqn);
  }

  private remaining(o: ConnectOptions, cap: number): number {
    return Math.max(1, Math.min(cap, o.deadline - Date.now()));
  }

  /**
   * Makes sure `p.nqn` is connected and returns its block device, waiting for it until the
   * deadline. Idempotent: an existing connection with a device is reused. The common case costs one
   * `nvme connect`; only when nvme-cli says "already connected" but no device shows up within the
   * orphan grace is `list-subsys` consulted: a subsystem whose controllers are reconnecting is
   * waited for, one that is live without a namespace (orphaned, rds-routeros.md §3.5) is
   * disconnected and connected again — only that NQN is ever touched.
   */
  async connect(p: ConnectParams, o: ConnectOptions): Promise<ConnectResult> {
    validateNqn(p.nqn);
    const existing = await this.resolver.resolve(p.nqn);
    if (existing) return { device: existing, how: "reused" };

    const first = await this.runConnect(p, o);
    if (first === "connected") return { device: await this.waitDevice(p.nqn, o), how: "connected" };

    // already connected: give a slow namespace a moment before calling the subsystem orphaned
    const dev = await this.waitQuietly(p.nqn, this.remaining(o, this.t.orphanGraceMs), o.signal);
    if (dev) return { device: dev, how: "reused" };
    const listed = await this.listed(p.nqn, o.signal);
    const reconnecting = listed.some((s) => s.paths.some((x) => x.state === "connecting" || x.state === "resetting"));
    if (reconnecting) return { device: await this.waitDevice(p.nqn, o), how: "reused" };
    await this.disconnect(p.nqn, o.signal);
    const again = await this.runConnect(p, o);
    if (again !== "connected") throw new NvmeConnectError(p.nqn, "unknown", 1, "still reported as already connected after disconnecting the orphaned subsystem");
    return { device: await this.waitDevice(p.nqn, o), how: "reconnected-orphan" };
  }

  private async runConnect(p: ConnectParams, o: ConnectOptions): Promise<"connected" | "already-connected"> {
    const r = await this.run(buildConnectArgs(p, this.host), this.remaining(o, this.t.connectMs), o.signal);
    const outcome = classifyConnect(r.exitCode, r.stdout, r.stderr);
    if (outcome.kind === "failed") throw new NvmeConnectError(p.nqn, outcome.reason, r.exitCode, r.stderr);
    return outcome.kind;
  }

  private waitDevice(nqn: string, o: ConnectOptions): Promise<ResolvedDevice> {
    return this.resolver.waitFor(nqn, { timeoutMs: this.remaining(o, Number.MAX_SAFE_INTEGER), signal: o.signal });
  }

  private async waitQuietly(nqn: string, timeoutMs: number, signal?: AbortSignal): Promise<ResolvedDevice | undefined> {
    try {
      return await this.resolver.waitFor(nqn, { timeoutMs, signal });
    } catch (err) {
      if (err instanceof DeviceWaitTimeoutError) return undefined;
      throw err;
    }
  }

  /** `nvme disconnect -n <nqn>`: every controller of that subsystem. Returns how many; 0 is fine. */
  async disconnect(nqn: string, signal?: AbortSignal): Promise<number> {
    validateNqn(nqn);
    const r = await this.run(["disconnect", "-n", nqn], this.t.disconnectMs, signal);
    this.resolver.invalidate(nqn);
    const outcome = classifyDisconnect(r.exitCode, r.stdout, r.stderr);
    if (outcome.kind === "failed") {
      throw new NvmeCliError("disconnect", r.stderr.trim() || `exit ${r.exitCode}`, r.exitCode, r.stderr);
    }
    return outcome.count;
  }

  /**
   * `nvme ns-rescan <dev root>/nvme<C>` on every controller of the device, so the kernel re-reads
   * the namespace size after the target grew it.
   */
  async rescan(device: ResolvedDevice, signal?: AbortSignal): Promise<void> {
    if (device.controllers.length === 0) throw new NvmeCliError("ns-rescan", `${device.name} has no controller`);
    for (const c of device.controllers) {
      const r = await this.run(["ns-rescan", path.join(this.resolver.devRoot, c.name)], this.t.rescanMs, signal);
      if (r.exitCode !== 0) throw new NvmeCliError("ns-rescan", r.stderr.trim() || `exit ${r.exitCode}`, r.exitCode, r.stderr);
    }
    this.resolver.invalidate(device.subsysnqn);
  }
}
