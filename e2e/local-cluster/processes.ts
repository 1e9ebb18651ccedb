// Long-running upstream processes (etcd, kube-apiserver, ...) as children we can always kill.
// Each child leads its own process group (detached), its output goes to a log file, and every
// live group is SIGKILLed when this Node process exits for any reason, so a crashed or
// interrupted test run leaves nothing behind.
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, closeSync, openSync, readFileSync } from "node:fs";

/**
 * When set, every started process's pid (= its process group id) is appended to this file, so a
 * supervisor (scripts/tiers/cluster.sh) can kill the groups even if this Node process was
 * SIGKILLed and its exit hook never ran. Inherited by test workers, so sidecars tests start are
 * covered too.
 */
export const PID_FILE_ENV = "RDS_LOCAL_CLUSTER_PID_FILE";

const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: a plain SIGKILL to every group still alive.
  process.on("exit", () => {
    for (const p of live) p.killNow();
  });
}

export interface StartOptions {
  name: string;
  argv: readonly string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export class ProcessExitedError extends Error {
  constructor(
    readonly processName: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly logTail: string,
  ) {
    super(`${processName} exited (code ${String(exitCode)}, signal ${String(signal)}); last log lines:\n${logTail}`);
    this.name = "ProcessExitedError";
  }
}

export class ManagedProcess {
  readonly name: string;
  readonly logFile: string;
  readonly pid: number;
  /** Resolves when the child has exited, whoever ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  private constructor(options: StartOptions, child: ChildProcess, pid: number) {
    this.name = options.name;
    this.logFile = options.logFile;
    this.child = child;
    this.pid = pid;
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(this);
        resolve({ code, signal });
      });
    });
  }

  static async start(options: StartOptions): Promise<ManagedProcess> {
    installExitHook();
    const [command, ...args] = options.argv;
    if (!command) throw new Error(`${options.name}: empty argv`);
    const fd = openSync(options.logFile, "a");
    try {
      const child = spawn(command, args, {
        shell: false,
        detached: true,
        stdio: ["ignore", fd, fd],
        env: options.env ?? process.env,
        cwd: options.cwd,
      });
      const pid = await new Promise<number>((resolve, reject) => {
        child.once("spawn", () => resolve(child.pid!));
        child.once("error", reject);
      });
      const p = new ManagedProcess(options, child, pid);
      live.add(p);
      const pidFile = process.env[PID_FILE_ENV];
      if (pidFile) appendFileSync(pidFile, `${pid}\n`);
      return p;
    } finally {
      // The child holds its own copy of the descriptor.
      closeSync(fd);
    }
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** Throws ProcessExitedError (with the log's tail) if the process has already died. */
  assertRunning(): void {
    if (this.exitInfo) {
      throw new ProcessExitedError(this.name, this.exitInfo.code, this.exitInfo.signal, this.logTail());
    }
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }

  /** SIGTERM to the whole group, SIGKILL after graceMs; resolves once the child is gone. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.signalGroup("SIGTERM");
    const timer = setTimeout(() => this.signalGroup("SIGKILL"), graceMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
    // Anything the child forked into its group dies with it.
    this.signalGroup("SIGKILL");
  }

  /** Synchronous last resort (process exit hook). */
  killNow(): void {
    this.signalGroup("SIGKILL");
  }

  private signalGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      // group already gone
    }
  }
}

/** Polls `check` until it returns true, the process dies, or the deadline passes. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; process?: ManagedProcess },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    options.process?.assertRunning();
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const tail = options.process ? `\nlast log lines of ${options.process.name}:\n${options.process.logTail()}` : "";
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}${why}${tail}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 250));
  }
}
