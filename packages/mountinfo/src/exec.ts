// The one exec helper of the project: argv only (never a shell), a hard timeout that kills the
// process group, bounded output capture, typed errors. The driver uses this too.
import { spawn } from "node:child_process";
import {
  CommandFailedError,
  CommandOutputTooLargeError,
  CommandSignalError,
  CommandSpawnError,
  CommandTimeoutError,
  InvalidArgumentError,
} from "./errors.js";

export interface RunOptions {
  /** Hard limit. On expiry: SIGTERM to the process group, SIGKILL after killGraceMs. */
  timeoutMs: number;
  /** Written to stdin, which is then closed. Without it stdin is /dev/null (no prompt can hang). */
  input?: string | Buffer;
  /** Full environment for the child (default: this process's environment). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Exit codes that count as success (default [0]); e.g. blkid's 2 = "nothing found". */
  allowedExitCodes?: readonly number[];
  /** Grace between SIGTERM and SIGKILL (default 2000 ms). */
  killGraceMs?: number;
  /** Per stream; beyond it the process is killed (default 16 MiB). */
  maxOutputBytes?: number;
  /** Abort kills the process like a timeout and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  durationMs: number;
}

const DEFAULT_GRACE_MS = 2000;
const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;

export function runCommand(argv: readonly string[], options: RunOptions): Promise<RunResult> {
  if (argv.length === 0 || !argv[0]) throw new InvalidArgumentError("runCommand: empty argv");
  if (!(options.timeoutMs > 0)) throw new InvalidArgumentError("runCommand: timeoutMs must be > 0");
  const allowed = options.allowedExitCodes ?? [0];
  const grace = options.killGraceMs ?? DEFAULT_GRACE_MS;
  const maxOut = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const started = performance.now();

  return new Promise<RunResult>((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(abortReason(options.signal));
      return;
    }
    // detached: the child leads its own process group, so a timeout kill also reaches whatever
    // it forked (mount helpers, fsck children) instead of leaving orphans holding our pipes.
    const child = spawn(argv[0], argv.slice(1), {
      shell: false,
      detached: true,
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });

    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let why: "timeout" | "abort" | "overflow" | undefined;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    let lastResort: NodeJS.Timeout | undefined;

    const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString("utf8");

    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      clearTimeout(lastResort);
      options.signal?.removeEventListener("abort", onAbort);
      fn();
    };

    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        try {
          child.kill(sig);
        } catch {
          // already gone
        }
      }
    };

    const terminate = (reason: "timeout" | "abort" | "overflow") => {
      if (why) return;
      why = reason;
      killGroup("SIGTERM");
      killTimer = setTimeout(() => killGroup("SIGKILL"), grace);
      // If a grandchild escaped the group and keeps a pipe open, 'close' never fires; do not
      // hang the caller forever because of it.
      lastResort = setTimeout(() => settleKilled(null), grace + 2000);
    };

    const settleKilled = (signal: NodeJS.Signals | null) => {
      finish(() => {
        const so = text(out);
        const se = text(err);
        if (why === "timeout") reject(new CommandTimeoutError(argv, options.timeoutMs, so, se));
        else if (why === "overflow") reject(new CommandOutputTooLargeError(argv, maxOut, so, se));
        else if (why === "abort") reject(abortReason(options.signal!));
        else reject(new CommandSignalError(argv, signal ?? "unknown", so, se));
      });
    };

    const timer = setTimeout(() => terminate("timeout"), options.timeoutMs);
    const onAbort = () => terminate("abort");
    options.signal?.addEventListener("abort", onAbort, { once: true });

    child.stdout!.on("data", (b: Buffer) => {
      outBytes += b.length;
      if (outBytes > maxOut) terminate("overflow");
      else out.push(b);
    });
    child.stderr!.on("data", (b: Buffer) => {
      errBytes += b.length;
      if (errBytes > maxOut) terminate("overflow");
      else err.push(b);
    });

    child.on("error", (e: NodeJS.ErrnoException) => {
      finish(() => reject(new CommandSpawnError(argv, e.code, e)));
    });

    child.on("close", (code, signal) => {
      if (why || code === null) {
        settleKilled(signal);
        return;
      }
      finish(() => {
        const result = {
          stdout: text(out),
          stderr: text(err),
          exitCode: code,
          durationMs: performance.now() - started,
        };
        if (allowed.includes(code)) resolve(result);
        else reject(new CommandFailedError(argv, code, result.stdout, result.stderr));
      });
    });

    if (options.input !== undefined && child.stdin) {
      // EPIPE when the child exits without reading stdin is not our failure.
      child.stdin.on("error", () => undefined);
      child.stdin.end(options.input);
    }
  });
}

function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  const e = new Error("the operation was aborted");
  e.name = "AbortError";
  return e;
}
