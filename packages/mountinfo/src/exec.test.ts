import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  CommandFailedError,
  CommandOutputTooLargeError,
  CommandSignalError,
  CommandSpawnError,
  CommandTimeoutError,
  InvalidArgumentError,
  runCommand,
} from "./index.js";

describe("runCommand", () => {
  it("captures stdout, stderr and the exit code, argv passed verbatim (no shell)", async () => {
    const r = await runCommand(
      ["node", "-e", "process.stdout.write(process.argv[1]); console.error('e')", "$HOME; echo x"],
      {
        timeoutMs: 10_000,
      },
    );
    expect(r).toMatchObject({ stdout: "$HOME; echo x", stderr: "e\n", exitCode: 0 });
  });

  it("rejects a non-allowed exit code with CommandFailedError carrying the output", async () => {
    const p = runCommand(
      ["node", "-e", "console.log('out'); console.error('bad thing'); process.exit(3)"],
      {
        timeoutMs: 10_000,
      },
    );
    await expect(p).rejects.toBeInstanceOf(CommandFailedError);
    await p.catch((e: CommandFailedError) => {
      expect(e.exitCode).toBe(3);
      expect(e.stdout).toBe("out\n");
      expect(e.stderr).toBe("bad thing\n");
      expect(e.message).toContain("bad thing");
    });
  });

  it("accepts allowed exit codes", async () => {
    const r = await runCommand(["node", "-e", "process.exit(2)"], {
      timeoutMs: 10_000,
      allowedExitCodes: [0, 2],
    });
    expect(r.exitCode).toBe(2);
  });

  it("feeds stdin input", async () => {
    const r = await runCommand(["node", "-e", "process.stdin.pipe(process.stdout)"], {
      timeoutMs: 10_000,
      input: "hello\nworld",
    });
    expect(r.stdout).toBe("hello\nworld");
  });

  // sh starts in milliseconds even on a loaded machine, so the output before the kill is certain
  it("kills on timeout, escalating to SIGKILL when SIGTERM is ignored", async () => {
    const script = "trap '' TERM; echo started; while :; do sleep 0.1; done";
    const p = runCommand(["sh", "-c", script], { timeoutMs: 1500, killGraceMs: 300 });
    const e = (await p.catch((x: unknown) => x)) as CommandTimeoutError;
    expect(e).toBeInstanceOf(CommandTimeoutError);
    expect(e.timeoutMs).toBe(1500);
    expect(e.stdout).toBe("started\n");
  });

  it("kills the whole process group on timeout (a forked grandchild dies too)", async () => {
    const e = (await runCommand(["sh", "-c", "sleep 30 & echo $!; wait"], {
      timeoutMs: 1500,
      killGraceMs: 200,
    }).catch((x: unknown) => x)) as CommandTimeoutError;
    expect(e).toBeInstanceOf(CommandTimeoutError);
    const grandchild = Number(e.stdout.trim());
    expect(grandchild).toBeGreaterThan(0);
    expect(await gone(grandchild)).toBe(true);
  });

  it("reports a signal it did not send", async () => {
    const p = runCommand(["node", "-e", "process.kill(process.pid, 'SIGSEGV')"], {
      timeoutMs: 10_000,
    });
    const e = (await p.catch((x: unknown) => x)) as CommandSignalError;
    expect(e).toBeInstanceOf(CommandSignalError);
    expect(e.signal).toBe("SIGSEGV");
  });

  it("kills a process that prints more than maxOutputBytes", async () => {
    const p = runCommand(
      ["node", "-e", "setInterval(() => process.stdout.write('x'.repeat(4096)), 1)"],
      {
        timeoutMs: 10_000,
        maxOutputBytes: 64 * 1024,
      },
    );
    await expect(p).rejects.toBeInstanceOf(CommandOutputTooLargeError);
  });

  it("gives CommandSpawnError for a missing binary", async () => {
    const e = (await runCommand(["/nonexistent/bin/x"], { timeoutMs: 1000 }).catch(
      (x: unknown) => x,
    )) as CommandSpawnError;
    expect(e).toBeInstanceOf(CommandSpawnError);
    expect(e.code).toBe("ENOENT");
  });

  it("aborts through an AbortSignal", async () => {
    const ac = new AbortController();
    const p = runCommand(["sleep", "30"], { timeoutMs: 60_000, signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    const e = (await p.catch((x: unknown) => x)) as Error;
    expect(e.name).toBe("AbortError");
  });

  it("refuses an empty argv or a missing timeout", () => {
    expect(() => runCommand([], { timeoutMs: 10 })).toThrow(InvalidArgumentError);
    expect(() => runCommand(["true"], { timeoutMs: 0 })).toThrow(InvalidArgumentError);
  });
});

/** True once `pid` no longer runs (absent, or a zombie waiting for a reaper). */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return true;
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
