// ManagedProcess: a child and everything it forks die together on stop(), and a dead child is
// reported with its log.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ManagedProcess, ProcessExitedError, waitUntil } from "./processes.js";

const dir = mkdtempSync(join(tmpdir(), "rds-proc-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("ManagedProcess", () => {
  it("stop() ends the whole process group, grandchildren included", async () => {
    const pidFile = join(dir, "grandchild.pid");
    // The shell forks a grandchild, records its pid, and ignores SIGTERM itself.
    const p = await ManagedProcess.start({
      name: "sh",
      logFile: join(dir, "group.log"),
      argv: ["sh", "-c", `trap '' TERM; sleep 300 & echo $! > ${pidFile}; wait`],
    });
    await waitUntil("grandchild pid", async () => readFileSync(pidFile, "utf8").trim() !== "", { timeoutMs: 10_000 });
    const grandchild = Number(readFileSync(pidFile, "utf8"));
    expect(alive(grandchild)).toBe(true);
    await p.stop(500);
    expect(p.running).toBe(false);
    await waitUntil("grandchild gone", async () => !alive(grandchild), { timeoutMs: 10_000 });
  });

  it("reports a process that died, with its log", async () => {
    const p = await ManagedProcess.start({
      name: "failing",
      logFile: join(dir, "failing.log"),
      argv: ["sh", "-c", "echo 'bad flag --nope' >&2; exit 3"],
    });
    await p.exited;
    expect(() => p.assertRunning()).toThrow(ProcessExitedError);
    expect(() => p.assertRunning()).toThrow(/bad flag --nope/);
  });

  it("waitUntil gives up on a dead process instead of waiting out the deadline", async () => {
    const p = await ManagedProcess.start({ name: "short", logFile: join(dir, "short.log"), argv: ["true"] });
    await p.exited;
    await expect(waitUntil("never", async () => false, { timeoutMs: 60_000, process: p })).rejects.toThrow(/short exited/);
  });
});
