// The simulated RDS as one object: disk table, RouterOS CLI over SSH, export port, and the
// target-side faults (target-down/up, resize). Runs in-process (tests, startSim) or as its own
// process (`sim-nvme target`, e.g. a Deployment in kind).
import fs from "node:fs";
import type net from "node:net";
import path from "node:path";
import { ensureKeyPair } from "../keys.js";
import { closeServer, serveControlSocket } from "../control-socket.js";
import { DiskStore } from "./disk-store.js";
import { ExportServer } from "./export-server.js";
import { RouterOsInterpreter } from "./routeros.js";
import { SshFrontEnd } from "./ssh-server.js";

export interface TargetOptions {
  /** Keys, disk table and the target's control socket live here. */
  stateDir: string;
  /** Root of the RDS file namespace (default `<stateDir>/pool`). */
  poolDir?: string;
  /** Listen address; keep it on loopback in tests. Default 127.0.0.1. */
  address?: string;
  /** SSH port; 0 = ephemeral. Default 0. */
  sshPort?: number;
  /** Export port; 0 = ephemeral. Default 4420. */
  exportPort?: number;
  /** SSH user name the driver logs in as. Default `admin`. */
  user?: string;
  /** Pool mount points (first path components of file-path). Default storage-pool, storage. */
  mountPoints?: string[];
  /** Pool capacity limit in bytes (default: the pool filesystem's size). */
  capacityBytes?: number;
  /** Extra authorized_keys files besides the generated client key. */
  authorizedKeyPaths?: string[];
  /** Also serve `<stateDir>/target.sock` for the CLI's faults and status. */
  controlSocket?: boolean;
}

export interface SshInfo {
  host: string;
  port: number;
  user: string;
  privateKeyPath: string;
  /** The host key as an OpenSSH public key line, for host key verification. */
  hostPublicKey: string;
  hostPublicKeyPath: string;
}

export interface TargetStatus {
  up: boolean;
  ssh: { host: string; port: number; listening: boolean };
  exportPort: number;
  exportListening: boolean;
  disks: { slot: string; nqn: string; filePath: string; fileSize: number; exported: boolean }[];
  associations: Record<string, number>;
}

export class Target {
  readonly store: DiskStore;
  readonly interpreter: RouterOsInterpreter;
  readonly ssh: SshInfo;
  readonly stateDir: string;
  private readonly sshServer: SshFrontEnd;
  private readonly exportServer: ExportServer;
  private control: net.Server | undefined;

  constructor(private readonly opts: TargetOptions) {
    this.stateDir = path.resolve(opts.stateDir);
    const keysDir = path.join(this.stateDir, "keys");
    fs.mkdirSync(keysDir, { recursive: true });
    const hostKey = ensureKeyPair(keysDir, "ssh_host_ecdsa_key", "sim-nvme-host");
    const clientKey = ensureKeyPair(keysDir, "client_ecdsa_key", "sim-nvme-client");
    this.store = new DiskStore({
      stateDir: this.stateDir,
      poolDir: opts.poolDir ?? path.join(this.stateDir, "pool"),
      mountPoints: opts.mountPoints,
      capacityBytes: opts.capacityBytes,
    });
    const address = opts.address ?? "127.0.0.1";
    this.exportServer = new ExportServer(this.store, address, opts.exportPort ?? 4420);
    this.interpreter = new RouterOsInterpreter(this.store, {
      onGrow: (d) => this.exportServer.notifyResize(d.nvmeTcpServerNqn, d.fileSize),
      onRemove: (d) => this.exportServer.dropAssociations(d.nvmeTcpServerNqn),
    });
    const user = opts.user ?? "admin";
    this.sshServer = new SshFrontEnd({
      address,
      port: opts.sshPort ?? 0,
      hostKeyPath: hostKey.privateKeyPath,
      authorizedKeyPaths: [clientKey.publicKeyPath, ...(opts.authorizedKeyPaths ?? [])],
      user,
      interpreter: this.interpreter,
    });
    this.ssh = {
      host: address,
      port: 0,
      user,
      privateKeyPath: clientKey.privateKeyPath,
      hostPublicKey: hostKey.publicKey,
      hostPublicKeyPath: hostKey.publicKeyPath,
    };
  }

  get exportPort(): number {
    return this.exportServer.port;
  }

  get controlSocketPath(): string {
    return path.join(this.stateDir, "target.sock");
  }

  /** Fault: the SSH server and the export port go away (open associations drop). */
  async down(): Promise<void> {
    await Promise.all([this.sshServer.stop(), this.exportServer.stop()]);
  }

  /** Fault: both come back on the same ports. */
  async up(): Promise<void> {
    await this.sshServer.start();
    await this.exportServer.start();
    this.ssh.port = this.sshServer.port;
  }

  /** Fault / RDS-side grow: the backing file grows and attached hosts are told. */
  resize(slot: string, bytes: number): void {
    const disk = this.store.grow(slot, bytes);
    this.exportServer.notifyResize(disk.nvmeTcpServerNqn, disk.fileSize);
  }

  status(): TargetStatus {
    return {
      up: this.sshServer.listening && this.exportServer.listening,
      ssh: { host: this.ssh.host, port: this.ssh.port, listening: this.sshServer.listening },
      exportPort: this.exportServer.port,
      exportListening: this.exportServer.listening,
      disks: this.store.list().map((d) => ({
        slot: d.slot,
        nqn: d.nvmeTcpServerNqn,
        filePath: d.filePath,
        fileSize: d.fileSize,
        exported: d.nvmeTcpExport,
      })),
      associations: this.exportServer.counts(),
    };
  }

  async serveControl(): Promise<void> {
    this.control = await serveControlSocket(this.controlSocketPath, async (req) => {
      switch (req.op) {
        case "status":
          return this.status();
        case "target-down":
          await this.down();
          return this.status();
        case "target-up":
          await this.up();
          return this.status();
        case "resize":
          this.resize(String(req.slot), Number(req.bytes));
          return this.status();
        default:
          throw new Error(`unknown target request ${String(req.op)}`);
      }
    });
  }

  /** Stops everything (not a fault: the process is going away). */
  async close(): Promise<void> {
    await this.down();
    if (this.control) await closeServer(this.control);
    this.control = undefined;
    fs.rmSync(this.controlSocketPath, { force: true });
  }
}

/** Starts a target: SSH server, export port and (optionally) its control socket. */
export async function startTarget(opts: TargetOptions): Promise<Target> {
  const t = new Target(opts);
  await t.up();
  if (opts.controlSocket) await t.serveControl();
  return t;
}
