// The NVMe/TCP-like export port. Our own small protocol, one JSON object per line:
//   host -> target  {"op":"connect","nqn":"<subsystem nqn>","hostnqn":"<host nqn>"}
//   target -> host  {"ok":true,"nqn","file","size","cntlid","serial","model"}
//                or {"ok":false,"error":"unknown subsystem"|"host not allowed"|...} and close
//   target -> host  {"event":"resize","size":<bytes>} while the association is open
// The association (the TCP connection) stays open; its loss is what the host sees as the
// controller losing its connection.
import net from "node:net";
import crypto from "node:crypto";
import type { DiskStore } from "./disk-store.js";

export interface ExportGrant {
  ok: true;
  nqn: string;
  file: string;
  size: number;
  cntlid: number;
  serial: string;
  model: string;
}
export interface ExportRefusal {
  ok: false;
  error: string;
}
export type ExportReply = ExportGrant | ExportRefusal;

export class ExportServer {
  private server: net.Server | undefined;
  private readonly associations = new Map<net.Socket, string>();
  private nextCntlid = 1;
  port: number;

  constructor(
    private readonly store: DiskStore,
    private readonly address: string,
    port: number,
  ) {
    this.port = port;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((sock) => this.onSocket(sock));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, this.address, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const s of this.associations.keys()) s.destroy();
    this.associations.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Number of open associations per NQN (status output). */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const nqn of this.associations.values()) out[nqn] = (out[nqn] ?? 0) + 1;
    return out;
  }

  /** Tells every host attached to `nqn` that the namespace changed size. */
  notifyResize(nqn: string, size: number): void {
    for (const [s, n] of this.associations)
      if (n === nqn) s.write(`${JSON.stringify({ event: "resize", size })}\n`);
  }

  /** Drops every association of `nqn` (the export went away). */
  dropAssociations(nqn: string): void {
    for (const [s, n] of this.associations) if (n === nqn) s.destroy();
  }

  private onSocket(sock: net.Socket): void {
    sock.setNoDelay(true);
    sock.on("error", () => undefined);
    sock.on("close", () => this.associations.delete(sock));
    let buf = "";
    const onData = (data: Buffer): void => {
      buf += data.toString("utf8");
      if (buf.length > 64 * 1024) {
        sock.destroy();
        return;
      }
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      sock.off("data", onData);
      const reply = this.answer(buf.slice(0, nl));
      sock.write(`${JSON.stringify(reply)}\n`);
      if (reply.ok) this.associations.set(sock, reply.nqn);
      else sock.end();
    };
    sock.on("data", onData);
  }

  private answer(line: string): ExportReply {
    let req: { op?: unknown; nqn?: unknown; hostnqn?: unknown };
    try {
      req = JSON.parse(line) as typeof req;
    } catch {
      return { ok: false, error: "malformed request" };
    }
    if (req.op !== "connect" || typeof req.nqn !== "string" || typeof req.hostnqn !== "string") {
      return { ok: false, error: "malformed request" };
    }
    const disk = this.store.byNqn(req.nqn);
    if (!disk) return { ok: false, error: "unknown subsystem" };
    if (disk.allowHostName && !disk.allowHostName.split(",").includes(req.hostnqn)) {
      return { ok: false, error: "host not allowed" };
    }
    const serial = crypto.createHash("sha256").update(disk.slot).digest("hex").slice(0, 20);
    return {
      ok: true,
      nqn: disk.nvmeTcpServerNqn,
      file: this.store.hostPath(disk.filePath),
      size: disk.fileSize,
      cntlid: this.nextCntlid++,
      serial,
      model: "RDS NVMe/TCP file disk",
    };
  }
}
