// startSim: the whole simulated fabric in one process — target (SSH + export port) and host
// agent (sysfs, dev nodes, loop devices, `nvme` stand-in) sharing one state dir.
import path from "node:path";
import { startHost, type Host } from "./host/host.js";
import type { HostStatus } from "./host/agent.js";
import { startTarget, type SshInfo, type Target, type TargetStatus } from "./target/target.js";

export interface SimOptions {
  stateDir: string;
  /** Default `<stateDir>/sys`. */
  sysfsRoot?: string;
  /** Default `<stateDir>/dev`. */
  devRoot?: string;
  /** Default `<stateDir>/pool`. */
  poolDir?: string;
  /** Default 127.0.0.1 (tests stay on loopback). */
  address?: string;
  /** Default 0 (ephemeral). */
  sshPort?: number;
  /** Default 0 here (ephemeral); the standalone target defaults to 4420. */
  exportPort?: number;
  /** Native multipath layout (default true). */
  multipath?: boolean;
  capacityBytes?: number;
  mountPoints?: string[];
}

export interface SimFaults {
  rename(nqn: string): Promise<string[]>;
  drop(nqn: string): Promise<number>;
  orphan(nqn: string): Promise<number>;
  slowAppear(ms: number): void;
  targetDown(): Promise<void>;
  targetUp(): Promise<void>;
  resize(slot: string, bytes: number): Promise<void>;
}

export interface SimStatus {
  target: TargetStatus;
  host: HostStatus;
}

export interface Sim {
  ssh: SshInfo;
  address: string;
  exportPort: number;
  nvmeCliPath: string;
  sysfsRoot: string;
  devRoot: string;
  poolDir: string;
  stateDir: string;
  target: Target;
  host: Host;
  faults: SimFaults;
  status(): SimStatus;
  down(): Promise<void>;
}

export async function startSim(opts: SimOptions): Promise<Sim> {
  const stateDir = path.resolve(opts.stateDir);
  const address = opts.address ?? "127.0.0.1";
  const poolDir = path.resolve(opts.poolDir ?? path.join(stateDir, "pool"));
  const target = await startTarget({
    stateDir,
    poolDir,
    address,
    sshPort: opts.sshPort ?? 0,
    exportPort: opts.exportPort ?? 0,
    capacityBytes: opts.capacityBytes,
    mountPoints: opts.mountPoints,
  });
  let host: Host;
  try {
    host = await startHost({
      stateDir,
      sysfsRoot: opts.sysfsRoot ?? path.join(stateDir, "sys"),
      devRoot: opts.devRoot ?? path.join(stateDir, "dev"),
      multipath: opts.multipath,
    });
  } catch (e) {
    await target.close();
    throw e;
  }
  const faults: SimFaults = {
    rename: (nqn) => host.agent.rename(nqn),
    drop: (nqn) => host.agent.drop(nqn),
    orphan: (nqn) => host.agent.orphan(nqn),
    slowAppear: (ms) => host.agent.setSlowAppear(ms),
    targetDown: () => target.down(),
    targetUp: () => target.up(),
    resize: async (slot, bytes) => {
      const nqn = target.store.bySlot(slot)?.nvmeTcpServerNqn;
      target.resize(slot, bytes);
      // The host hears about it over the association; wait until its devices show the size.
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        await host.agent.settle();
        const views = host.agent
          .subsystemsView()
          .filter((s) => s.nqn === nqn)
          .flatMap((s) => s.controllers);
        if (views.every((c) => !c.namespace || c.namespace.sizeBytes === bytes)) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
  return {
    ssh: target.ssh,
    address,
    exportPort: target.exportPort,
    nvmeCliPath: host.nvmeCliPath,
    sysfsRoot: host.agent.sysfs.root,
    devRoot: host.agent.devRoot,
    poolDir,
    stateDir,
    target,
    host,
    faults,
    status: () => ({ target: target.status(), host: host.status() }),
    down: async () => {
      await host.close();
      await target.close();
    },
  };
}
