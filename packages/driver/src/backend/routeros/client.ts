// SSH transport to the RDS: a small pool of ssh2 connections, each command in its own exec
// channel with a hard timeout.
//
// What the Go driver got wrong and this does instead (rds-routeros.md §2.4, W7-W9):
//   - several connections, not one serialized client; pool size 0 = a new connection per
//     command (the benchmark's baseline);
//   - every command has a deadline; on expiry its connection is destroyed (its state is unknown);
//   - connecting retries with exponential backoff and jitter up to an acquire deadline, then
//     fails with BackendUnavailableError (→ gRPC UNAVAILABLE) instead of a generic error;
//   - a command whose channel could not even be opened never ran, so it is retried on a fresh
//     connection (a pooled connection may have died while idle, e.g. the RDS rebooted);
//   - errors carry stdout AND stderr (RouterOS prints `failure: …` on stdout);
//   - host key verification is mandatory unless explicitly disabled.
import { createHash } from "node:crypto";
import ssh2 from "ssh2";
import type { ClientChannel, ConnectConfig, ParsedKey } from "ssh2";
import type { Logger } from "pino";
import { BackendUnavailableError } from "../../errors.js";

const { Client, utils } = ssh2;
type SshClient = InstanceType<typeof Client>;

export interface RouterOSClientOptions {
  host: string;
  port: number;
  username: string;
  /** Private key (PEM / OpenSSH text). */
  privateKey: string | Buffer;
  /**
   * Expected host key: an OpenSSH public key line (`ecdsa-sha2-nistp256 AAAA… [comment]`, also
   * accepted with a leading known_hosts host field) or a `SHA256:<base64>` fingerprint.
   */
  hostKey?: string;
  /** Must be set explicitly to connect without verifying the host key. */
  insecureSkipHostKeyVerification?: boolean;
  /** Maximum open connections; 0 = open a new connection for every command and close it after. */
  poolSize?: number;
  /** Deadline of one command, from channel open to exit. */
  commandTimeoutMs?: number;
  /** SSH handshake timeout of one connection attempt. */
  connectTimeoutMs?: number;
  /** How long a command may wait for a connection (including connect retries with backoff). */
  acquireTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  /** First reconnect delay; doubles per consecutive failure up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  logger?: Logger;
  /** Called once per command (for metrics). */
  onCommand?: (event: CommandEvent) => void;
}

export interface CommandEvent {
  /** `/disk add`, `/system resource`, … (never values). */
  verb: string;
  durationMs: number;
  outcome: "ok" | "timeout" | "unavailable";
}

export interface CommandResult {
  command: string;
  stdout: string;
  stderr: string;
  exitCode: number | null;
}

export interface RunOptions {
  timeoutMs?: number;
  /**
   * The command only reads: if the connection is lost while it runs, run it once more on a new
   * connection. Never set for commands that change state (they may have been applied).
   */
  readOnly?: boolean;
}

/** The interface the backend needs; the pool implements it, tests may wrap it. */
export interface CommandRunner {
  run(command: string, options?: RunOptions): Promise<CommandResult>;
  close(): Promise<void>;
}

/** Verb of a command line for logs and metric labels: the menu path and the command word. */
export function commandVerb(command: string): string {
  const words = command.trim().split(/\s+/);
  return words.slice(0, 2).join(" ");
}

const MAX_OUTPUT_BYTES = 8 * 1024 * 1024;

/** Builds ssh2's host key check from the configured expectation. */
export function hostKeyVerifier(expected: string): (key: Buffer) => boolean {
  const text = expected.trim();
  if (text.startsWith("SHA256:")) {
    const want = text.slice("SHA256:".length).replace(/=+$/, "");
    return (key) => createHash("sha256").update(key).digest("base64").replace(/=+$/, "") === want;
  }
  // Accept `type base64 [comment]` and known_hosts `host type base64 [comment]`.
  const fields = text.split(/\s+/);
  const at = fields.findIndex((f) => /^(ssh-|ecdsa-sha2-|sk-)/.test(f));
  const line = at >= 0 ? fields.slice(at, at + 2).join(" ") : text;
  const parsed = utils.parseKey(line);
  if (parsed instanceof Error) throw new Error(`cannot parse RDS host key: ${parsed.message}`);
  const keys: ParsedKey[] = Array.isArray(parsed) ? (parsed as ParsedKey[]) : [parsed];
  const key = keys[0];
  if (!key) throw new Error("cannot parse RDS host key: empty");
  const want: Buffer = key.getPublicSSH();
  return (presented) => Buffer.compare(presented, want) === 0;
}

interface PooledConnection {
  client: SshClient;
  dead: boolean;
  id: number;
}

class ChannelOpenError extends Error {}
class ConnectionLostError extends Error {}

export class RouterOSClient implements CommandRunner {
  private readonly opts: Required<Omit<RouterOSClientOptions, "hostKey" | "logger" | "onCommand">> &
    Pick<RouterOSClientOptions, "logger" | "onCommand">;
  private readonly verify: ((key: Buffer) => boolean) | undefined;
  private readonly idle: PooledConnection[] = [];
  private readonly waiters: ((c: PooledConnection | undefined) => void)[] = [];
  private open = 0;
  private closed = false;
  private failures = 0;
  private lastConnectError: Error | undefined;
  private seq = 0;

  constructor(options: RouterOSClientOptions) {
    this.opts = {
      poolSize: 4,
      commandTimeoutMs: 30_000,
      connectTimeoutMs: 10_000,
      acquireTimeoutMs: 10_000,
      keepaliveIntervalMs: 10_000,
      backoffMs: 200,
      maxBackoffMs: 5_000,
      insecureSkipHostKeyVerification: false,
      ...options,
    };
    if (options.hostKey) {
      this.verify = hostKeyVerifier(options.hostKey);
    } else if (!options.insecureSkipHostKeyVerification) {
      throw new Error("an RDS host key is required (or explicitly skip verification, which is insecure)");
    }
  }

  /** Open connections (idle + busy). */
  get openConnections(): number {
    return this.open;
  }

  async run(command: string, options: RunOptions = {}): Promise<CommandResult> {
    const started = Date.now();
    const verb = commandVerb(command);
    const timeoutMs = options.timeoutMs ?? this.opts.commandTimeoutMs;
    // Channel-open failures are always retried (the command never ran); a lost connection only
    // for read-only commands.
    let attempts = 0;
    for (;;) {
      attempts++;
      const conn = await this.acquire(started + this.opts.acquireTimeoutMs).catch((err: unknown) => {
        this.report(verb, started, "unavailable");
        throw err;
      });
      try {
        const result = await this.exec(conn, command, timeoutMs);
        this.release(conn);
        this.report(verb, started, "ok");
        return result;
      } catch (err) {
        this.discard(conn);
        const retry =
          attempts < 3 &&
          !this.closed &&
          (err instanceof ChannelOpenError || (err instanceof ConnectionLostError && options.readOnly === true && attempts < 2));
        if (retry) {
          this.opts.logger?.debug({ verb, err: (err).message, attempt: attempts }, "RouterOS command retried on a new connection");
          continue;
        }
        if (err instanceof CommandTimeoutError) {
          this.report(verb, started, "timeout");
          throw new BackendUnavailableError(`RouterOS command ${verb} timed out after ${timeoutMs} ms`, { cause: err });
        }
        this.report(verb, started, "unavailable");
        throw new BackendUnavailableError(`RouterOS connection failed during ${verb}: ${(err as Error).message}`, { cause: err });
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w(undefined);
    for (const c of this.idle.splice(0)) this.destroy(c);
  }

  private report(verb: string, started: number, outcome: CommandEvent["outcome"]): void {
    this.opts.onCommand?.({ verb, durationMs: Date.now() - started, outcome });
  }

  private async acquire(deadline: number): Promise<PooledConnection> {
    for (;;) {
      if (this.closed) throw new BackendUnavailableError("RouterOS client is closed");
      const reusable = this.idle.pop();
      if (reusable) {
        if (!reusable.dead) return reusable;
        this.discard(reusable);
        continue;
      }
      const limit = Math.max(1, this.opts.poolSize);
      if (this.open < limit) {
        this.open++;
        try {
          return await this.connectWithBackoff(deadline);
        } catch (err) {
          this.open--;
          this.wakeOne();
          throw err;
        }
      }
      const handed = await this.waitForRelease(deadline);
      if (handed) return handed;
    }
  }

  private waitForRelease(deadline: number): Promise<PooledConnection | undefined> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new BackendUnavailableError("no RouterOS connection became free in time"));
      }, Math.max(0, deadline - Date.now()));
      const waiter = (c: PooledConnection | undefined) => {
        clearTimeout(timer);
        resolve(c);
      };
      this.waiters.push(waiter);
    });
  }

  /** Hands a connection to a waiter, or wakes one to open its own (a slot became free). */
  private wakeOne(conn?: PooledConnection): boolean {
    const w = this.waiters.shift();
    if (!w) return false;
    w(conn);
    return true;
  }

  private release(conn: PooledConnection): void {
    if (this.closed || conn.dead || this.opts.poolSize === 0) {
      this.discard(conn);
      return;
    }
    if (!this.wakeOne(conn)) this.idle.push(conn);
  }

  private discard(conn: PooledConnection): void {
    this.destroy(conn);
    this.open--;
    this.wakeOne();
  }

  private destroy(conn: PooledConnection): void {
    conn.dead = true;
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    conn.client.end();
    conn.client.destroy();
  }

  /**
   * Connects, retrying with exponential backoff (with jitter) until `deadline`. The first attempt
   * of every acquire is immediate, so a command never fails without trying once (the RDS may be
   * back); `failures` is shared, so the delays keep growing while the RDS stays away.
   */
  private async connectWithBackoff(deadline: number): Promise<PooledConnection> {
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        const base = Math.min(this.opts.maxBackoffMs, this.opts.backoffMs * 2 ** Math.max(0, this.failures - 1));
        const delay = base * (0.8 + Math.random() * 0.4);
        if (Date.now() + delay >= deadline) {
          throw new BackendUnavailableError(
            `RDS ${this.opts.host}:${this.opts.port} unreachable: ${this.lastConnectError?.message ?? "connect failed"}`,
            { cause: this.lastConnectError },
          );
        }
        await new Promise((r) => setTimeout(r, delay));
      }
      if (this.closed) throw new BackendUnavailableError("RouterOS client is closed");
      try {
        const conn = await this.connectOnce(Math.min(this.opts.connectTimeoutMs, Math.max(1, deadline - Date.now())));
        this.failures = 0;
        return conn;
      } catch (err) {
        this.lastConnectError = err as Error;
        this.failures++;
        this.opts.logger?.warn({ err: (err as Error).message, failures: this.failures }, "RDS SSH connect failed");
        if (Date.now() >= deadline) {
          throw new BackendUnavailableError(`RDS ${this.opts.host}:${this.opts.port} unreachable: ${(err as Error).message}`, { cause: err });
        }
      }
    }
  }

  private connectOnce(timeoutMs: number): Promise<PooledConnection> {
    return new Promise((resolve, reject) => {
      const client = new Client();
      const conn: PooledConnection = { client, dead: false, id: ++this.seq };
      let settled = false;
      const config: ConnectConfig = {
        host: this.opts.host,
        port: this.opts.port,
        username: this.opts.username,
        privateKey: this.opts.privateKey,
        readyTimeout: timeoutMs,
        keepaliveInterval: this.opts.keepaliveIntervalMs,
        keepaliveCountMax: 3,
      };
      if (this.verify) {
        const verify = this.verify;
        config.hostVerifier = (key: Buffer) => {
          const ok = verify(key);
          if (!ok) this.opts.logger?.error({ host: this.opts.host }, "RDS host key mismatch: refusing to connect");
          return ok;
        };
      }
      client.on("ready", () => {
        // Small request/response exchanges: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms
        // to every command.
        client.setNoDelay(true);
        settled = true;
        resolve(conn);
      });
      client.on("error", (err) => {
        conn.dead = true;
        if (!settled) {
          settled = true;
          client.destroy();
          reject(err);
        }
      });
      client.on("close", () => {
        conn.dead = true;
        const i = this.idle.indexOf(conn);
        if (i >= 0) {
          this.idle.splice(i, 1);
          this.open--;
        }
        if (!settled) {
          settled = true;
          reject(new Error("connection closed during handshake"));
        }
      });
      client.connect(config);
    });
  }

  private exec(conn: PooledConnection, command: string, timeoutMs: number): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
      let stream: ClientChannel | undefined;
      let stdout = "";
      let stderr = "";
      let bytes = 0;
      let exitCode: number | null = null;
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        conn.client.removeListener("close", onClose);
        if (err) reject(err);
        else resolve({ command, stdout, stderr, exitCode });
      };
      const onClose = () => finish(new ConnectionLostError("SSH connection closed while the command ran"));
      const timer = setTimeout(() => {
        stream?.destroy();
        finish(new CommandTimeoutError(`timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      conn.client.once("close", onClose);
      try {
        conn.client.exec(command, (err, ch) => {
          if (err) {
            finish(new ChannelOpenError(err.message));
            return;
          }
          stream = ch;
          const add = (chunk: Buffer, to: "out" | "err") => {
            bytes += chunk.length;
            if (bytes > MAX_OUTPUT_BYTES) {
              ch.destroy();
              finish(new ConnectionLostError(`output larger than ${MAX_OUTPUT_BYTES} bytes`));
              return;
            }
            if (to === "out") stdout += chunk.toString("utf8");
            else stderr += chunk.toString("utf8");
          };
          ch.on("data", (c: Buffer) => add(c, "out"));
          ch.stderr.on("data", (c: Buffer) => add(c, "err"));
          ch.on("exit", (code: number | null) => {
            exitCode = typeof code === "number" ? code : null;
          });
          ch.on("close", () => finish());
        });
      } catch (err) {
        finish(new ChannelOpenError((err as Error).message));
      }
    });
  }
}

class CommandTimeoutError extends Error {}
