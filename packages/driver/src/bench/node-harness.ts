// The whole driver on the simulated fabric, for the privileged integration tests and the node
// benchmarks: sim-nvme (target + host agent over real loop devices) in this process, the driver
// as its own process (`node dist/main.js --mode all …`) over its real unix socket, Events written
// to a JSON-lines file (--events-file) so they can be checked from here.
//
// Needs root (loop devices, mounts) and should run inside a private mount namespace
// (`unshare --mount --propagation private`), which the spawned driver inherits.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { readMountTable, runCommand } from "@rds-nvme-csi/mountinfo";
import type { Sim } from "@rds-nvme-csi/sim-nvme";
import * as csi from "../gen/csi.js";
import { parseEventsFile, type FileEventLine } from "../events-file-sink.js";

export const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../main.js");
export const MAIN_FROM_SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dist/main.js");
export const GiB = 1024n ** 3n;
export const HOST_NQN = "nqn.2014-08.org.nvmexpress:uuid:5a1d2c3e-4b5f-4a6b-8c7d-9e0f1a2b3c4d";

const Mode = csi.VolumeCapability_AccessMode_Mode;

export function mountCap(fsType = "ext4", mode = Mode.SINGLE_NODE_WRITER): csi.VolumeCapability {
  return { accessType: { $case: "mount", value: { fsType, mountFlags: [], volumeMountGroup: "" } }, accessMode: { mode } };
}

export function blockCap(mode = Mode.SINGLE_NODE_WRITER): csi.VolumeCapability {
  return { accessType: { $case: "block", value: {} }, accessMode: { mode } };
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000, stepMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export function grpcCode(err: unknown): string {
  const code = (err as grpc.ServiceError | undefined)?.code;
  return code === undefined ? "?" : (grpc.status[code] ?? String(code));
}

/** Retries a call that fails with ABORTED (a concurrent operation on the volume), as the CO does. */
export async function retryAborted<T>(fn: () => Promise<T>, attempts = 100, delayMs = 200): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (grpcCode(err) !== "ABORTED" || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

export interface HarnessOptions {
  /** extra driver flags */
  driverArgs?: string[];
  healthIntervalMs?: number;
  multipath?: boolean;
  /** where dist/main.js is (tests run from src, benchmarks from dist) */
  main?: string;
}

export class NodeHarness {
  readonly dir: string;
  readonly sock: string;
  readonly eventsFile: string;
  readonly stateDir: string;
  readonly nvmeConfigDir: string;
  readonly mountRoot: string;
  sim!: Sim;
  proc?: ChildProcess;
  output = "";
  controller!: InstanceType<typeof csi.ControllerClient>;
  node!: InstanceType<typeof csi.NodeClient>;
  private clients: grpc.Client[] = [];

  private constructor(private readonly opts: HarnessOptions) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "rdsnvme-node-"));
    this.sock = path.join(this.dir, "csi.sock");
    this.eventsFile = path.join(this.dir, "events.jsonl");
    this.stateDir = path.join(this.dir, "node-state");
    this.nvmeConfigDir = path.join(this.dir, "etc-nvme");
    this.mountRoot = path.join(this.dir, "mnt");
    fs.mkdirSync(this.nvmeConfigDir);
    fs.mkdirSync(this.mountRoot);
    fs.writeFileSync(path.join(this.nvmeConfigDir, "hostnqn"), `${HOST_NQN}\n`);
  }

  static async start(opts: HarnessOptions = {}): Promise<NodeHarness> {
    const h = new NodeHarness(opts);
    try {
      // sim-nvme is a dev dependency of the driver: loaded only by tests and benchmarks.
      const { startSim } = await import("@rds-nvme-csi/sim-nvme");
      h.sim = await startSim({ stateDir: path.join(h.dir, "sim"), multipath: opts.multipath, capacityBytes: 512 * 1024 ** 3 });
      await h.startDriver();
    } catch (err) {
      await h.close();
      throw err;
    }
    return h;
  }

  get main(): string {
    return this.opts.main ?? (fs.existsSync(MAIN) ? MAIN : MAIN_FROM_SRC);
  }

  /**
   * Spawns the driver process and waits for its socket. `node` mode runs only Identity + Node
   * (no RDS connection), as a node DaemonSet pod does.
   */
  async startDriver(mode: "all" | "node" = "all"): Promise<void> {
    if (!fs.existsSync(this.main)) throw new Error(`${this.main} is missing: build the driver first`);
    fs.rmSync(this.sock, { force: true });
    const s = this.sim;
    const controllerArgs = [
      "--rds-address", s.ssh.host,
      "--rds-port", String(s.ssh.port),
      "--rds-user", s.ssh.user,
      "--rds-private-key", s.ssh.privateKeyPath,
      "--rds-host-key", s.ssh.hostPublicKey,
      "--rds-pool-dir", "/storage/csi",
      "--nvme-address", "127.0.0.1",
      "--nvme-port", String(s.exportPort),
    ];
    const args = [
      this.main,
      "--mode", mode,
      "--endpoint", `unix://${this.sock}`,
      "--node-id", "node-1",
      ...(mode === "all" ? controllerArgs : []),
      "--nvme-cli", s.nvmeCliPath,
      "--sysfs-root", s.sysfsRoot,
      "--dev-root", s.devRoot,
      "--state-dir", this.stateDir,
      "--nvme-config-dir", this.nvmeConfigDir,
      "--ctrl-loss-tmo", "30",
      "--reconnect-delay", "1",
      "--health-interval", String(this.opts.healthIntervalMs ?? 1000),
      "--kubeconfig", "none",
      "--events-file", this.eventsFile,
      "--log-level", "info",
      ...(this.opts.driverArgs ?? []),
    ];
    const proc = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, CSI_ENDPOINT: "", KUBECONFIG: "" } });
    this.proc = proc;
    const logFile = path.join(this.dir, "driver.log");
    const append = (d: Buffer) => {
      this.output += d.toString();
      fs.appendFileSync(logFile, d);
    };
    proc.stdout.on("data", append);
    proc.stderr.on("data", append);
    await waitFor(
      "the driver socket",
      () => {
        if (proc.exitCode !== null) throw new Error(`driver exited (${proc.exitCode}):\n${this.output.slice(-4000)}`);
        return fs.existsSync(this.sock);
      },
      30_000,
      25,
    );
    for (const c of this.clients) c.close();
    this.controller = new csi.ControllerClient(`unix://${this.sock}`, grpc.credentials.createInsecure());
    this.node = new csi.NodeClient(`unix://${this.sock}`, grpc.credentials.createInsecure());
    this.clients = [this.controller, this.node];
  }

  /** Ends the driver process (SIGKILL = a crash: no cleanup at all). */
  async stopDriver(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill(signal);
    await exited;
  }

  call<Res>(client: grpc.Client, method: string, req: unknown, timeoutMs = 60_000): Promise<Res> {
    return new Promise((resolve, reject) => {
      const fn = (client as unknown as Record<string, (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: Res) => void) => void>)[method];
      if (!fn) throw new Error(`no method ${method}`);
      fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res)));
    });
  }

  async createVolume(name: string, bytes = GiB, cap = mountCap(), pvc?: { namespace: string; name: string }): Promise<csi.Volume> {
    const parameters: Record<string, string> = pvc ? { "csi.storage.k8s.io/pvc/name": pvc.name, "csi.storage.k8s.io/pvc/namespace": pvc.namespace } : {};
    const res = await this.call<csi.CreateVolumeResponse>(
      this.controller,
      "createVolume",
      csi.CreateVolumeRequest.fromPartial({ name, capacityRange: { requiredBytes: bytes, limitBytes: 0n }, volumeCapabilities: [cap], parameters }),
    );
    return res.volume!;
  }

  deleteVolume(volumeId: string): Promise<unknown> {
    return this.call(this.controller, "deleteVolume", { volumeId, secrets: {} });
  }

  paths(volumeId: string): { staging: string; target: string } {
    const base = path.join(this.mountRoot, volumeId);
    fs.mkdirSync(path.join(base, "staging"), { recursive: true });
    fs.mkdirSync(path.join(base, "pod"), { recursive: true });
    return { staging: path.join(base, "staging"), target: path.join(base, "pod", "target") };
  }

  stage(vol: csi.Volume, staging: string, cap = mountCap()): Promise<unknown> {
    return this.call(this.node, "nodeStageVolume", csi.NodeStageVolumeRequest.fromPartial({ volumeId: vol.volumeId, stagingTargetPath: staging, volumeCapability: cap, volumeContext: vol.volumeContext }));
  }

  publish(vol: csi.Volume, staging: string, target: string, cap = mountCap(), readonly = false): Promise<unknown> {
    return this.call(
      this.node,
      "nodePublishVolume",
      csi.NodePublishVolumeRequest.fromPartial({ volumeId: vol.volumeId, stagingTargetPath: staging, targetPath: target, volumeCapability: cap, readonly, volumeContext: vol.volumeContext }),
    );
  }

  unpublish(volumeId: string, target: string): Promise<unknown> {
    return this.call(this.node, "nodeUnpublishVolume", { volumeId, targetPath: target });
  }

  unstage(volumeId: string, staging: string): Promise<unknown> {
    return this.call(this.node, "nodeUnstageVolume", { volumeId, stagingTargetPath: staging });
  }

  stats(volumeId: string, volumePath: string): Promise<csi.NodeGetVolumeStatsResponse> {
    return this.call(this.node, "nodeGetVolumeStats", { volumeId, volumePath, stagingTargetPath: "" });
  }

  events(): FileEventLine[] {
    if (!fs.existsSync(this.eventsFile)) return [];
    return parseEventsFile(fs.readFileSync(this.eventsFile, "utf8"));
  }

  /** Created events with this reason (optionally about this PVC name). */
  eventsWith(reason: string, pvcName?: string): FileEventLine[] {
    return this.events().filter((e) => e.op === "create" && e.body?.reason === reason && (pvcName === undefined || e.body.involvedObject.name === pvcName));
  }

  /** Events with this reason, counting dedup patches too (their count field). */
  eventCount(reason: string, pvcName?: string): number {
    const lines = this.events();
    const names = new Set(lines.filter((e) => e.op === "create" && e.body?.reason === reason && (pvcName === undefined || e.body.involvedObject.name === pvcName)).map((e) => e.name));
    let n = names.size;
    for (const l of lines) if (l.op === "patch" && names.has(l.name)) n = Math.max(n, l.patch?.count ?? 0);
    return n;
  }

  /** Every mount under our temp dir, deepest first (cleanup; also a leak check). */
  async ourMounts(): Promise<string[]> {
    const table = await readMountTable();
    return table.entries
      .map((e) => e.mountPoint)
      .filter((p) => p === this.dir || p.startsWith(this.dir + "/"))
      .sort((a, b) => b.length - a.length);
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.close();
    await this.stopDriver("SIGKILL").catch(() => undefined);
    for (let round = 0; round < 5; round++) {
      const left = await this.ourMounts().catch(() => [] as string[]);
      if (left.length === 0) break;
      for (const mp of left) await runCommand(["umount", "-l", mp], { timeoutMs: 10_000 }).catch(() => undefined);
    }
    await this.sim?.down().catch(() => undefined);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function sha256File(file: string): Promise<string> {
  const { createHash } = await import("node:crypto");
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}
