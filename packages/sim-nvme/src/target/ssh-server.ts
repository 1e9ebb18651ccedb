// The simulated RDS's SSH front end: public-key auth, one RouterOS command per exec request,
// and a line-by-line interactive shell.
import fs from "node:fs";
import type { AddressInfo } from "node:net";
import ssh2 from "ssh2";
import type { Connection, ParsedKey } from "ssh2";
import type { RouterOsInterpreter } from "./routeros.js";

const { Server, utils } = ssh2;

export interface SshServerOptions {
  address: string;
  port: number;
  hostKeyPath: string;
  /** Files with OpenSSH public key lines allowed to log in. */
  authorizedKeyPaths: string[];
  user: string;
  interpreter: RouterOsInterpreter;
}

function loadAuthorized(paths: string[]): ParsedKey[] {
  const keys: ParsedKey[] = [];
  for (const p of paths) {
    for (const line of fs.readFileSync(p, "utf8").split("\n")) {
      if (!line.trim()) continue;
      const k = utils.parseKey(line.trim());
      if (!(k instanceof Error)) keys.push(Array.isArray(k) ? (k[0] as ParsedKey) : k);
    }
  }
  return keys;
}

export class SshFrontEnd {
  private server: InstanceType<typeof Server> | undefined;
  private readonly conns = new Set<Connection>();
  port: number;

  constructor(private readonly opts: SshServerOptions) {
    this.port = opts.port;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const authorized = loadAuthorized(this.opts.authorizedKeyPaths);
    const server = new Server({ hostKeys: [fs.readFileSync(this.opts.hostKeyPath)] }, (conn) =>
      this.onConnection(conn, authorized),
    );
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, this.opts.address, () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", () => undefined);
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const c of this.conns) c.end();
    this.conns.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private onConnection(conn: Connection, authorized: ParsedKey[]): void {
    this.conns.add(conn);
    // Small request/response packets: without TCP_NODELAY every exec waits on delayed ACKs.
    (conn as Connection & { setNoDelay(v: boolean): void }).setNoDelay(true); // present at run time, missing from @types/ssh2
    conn.on("error", () => undefined);
    conn.on("close", () => this.conns.delete(conn));
    conn.on("authentication", (ctx) => {
      if (ctx.method !== "publickey" || ctx.username !== this.opts.user) {
        ctx.reject(["publickey"]);
        return;
      }
      const key = authorized.find(
        (k) => k.type === ctx.key.algo && k.getPublicSSH().equals(ctx.key.data),
      );
      if (!key) {
        ctx.reject(["publickey"]);
        return;
      }
      if (!ctx.signature) {
        ctx.accept(); // the client asks whether this key would do; it signs next
        return;
      }
      if (ctx.blob && key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) ctx.accept();
      else ctx.reject(["publickey"]);
    });
    conn.on("ready", () => {
      conn.on("session", (acceptSession) => {
        const session = acceptSession();
        session.on("pty", (accept) => accept?.());
        session.on("env", (accept) => accept?.());
        session.on("exec", (accept, _reject, info) => {
          const ch = accept();
          this.opts.interpreter
            .run(info.command)
            .then((r) => {
              ch.write(r.output);
              ch.exit(r.exitCode);
              ch.end();
            })
            .catch(() => {
              ch.exit(1);
              ch.end();
            });
        });
        session.on("shell", (accept) => {
          const ch = accept();
          const prompt = `[${this.opts.user}@RDS] > `;
          let buf = "";
          let chain = Promise.resolve();
          ch.write(prompt);
          ch.on("data", (data: Buffer) => {
            buf += data.toString("utf8");
            let nl: number;
            while ((nl = buf.search(/\r?\n|\r/)) >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + (buf[nl] === "\r" && buf[nl + 1] === "\n" ? 2 : 1));
              chain = chain.then(async () => {
                if (line.trim() === "/quit" || line.trim() === "quit") {
                  ch.exit(0);
                  ch.end();
                  return;
                }
                if (line.trim()) ch.write((await this.opts.interpreter.run(line)).output);
                ch.write(prompt);
              });
            }
          });
        });
      });
    });
  }
}
