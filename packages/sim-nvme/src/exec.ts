// Runs a host command: argv array (never a shell), a hard timeout that kills it, output captured.
import { execFile } from "node:child_process";

export class HostCommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    reason: string,
  ) {
    super(`${argv.join(" ")}: ${reason}${stderr ? `: ${stderr.trim()}` : ""}`);
    this.name = "HostCommandError";
  }
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export function run(argv: readonly string[], timeoutMs = 15_000): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (!cmd) return Promise.reject(new Error("empty argv"));
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { timeout: timeoutMs, killSignal: "SIGKILL", encoding: "utf8", maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (!err) {
          resolve({ stdout, stderr });
          return;
        }
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
        const reason = e.killed ? `timed out after ${timeoutMs} ms` : e.message;
        reject(
          new HostCommandError(argv, typeof e.code === "number" ? e.code : null, stderr, reason),
        );
      },
    );
  });
}
