// Shared helpers for this package's tests (excluded from the build).
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ssh2 from "ssh2";
import type { ParsedKey } from "ssh2";
import type { SshInfo } from "../target/target.js";

const { Client, utils } = ssh2;

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "rdsnvme-"));
}

/** The built CLI (its tests run after `npm run build`). */
export const SIM_CLI = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "dist",
  "cli.js",
);

/** The fields of `sim-nvme up --json` that tests read. */
export interface CliUp {
  target: { pid: number; ssh: SshInfo; exportPort: number; poolDir: string };
  host: { pid: number; nvmeCliPath: string; devRoot: string; sysfsRoot: string };
}

/** `sim-nvme up` on an ephemeral export port; `extra` goes before `--json`. */
export async function cliUp(stateDir: string, ...extra: string[]): Promise<CliUp> {
  const out = await mustRun(process.execPath, [
    SIM_CLI,
    "up",
    "--state-dir",
    stateDir,
    "--export-port",
    "0",
    ...extra,
    "--json",
  ]);
  return JSON.parse(out) as CliUp;
}

/** argv of `nvme connect` to a target on loopback; `extra` is appended. */
export function nvmeConnectArgs(port: number, nqn: string, ...extra: string[]): string[] {
  return ["connect", "-t", "tcp", "-a", "127.0.0.1", "-s", String(port), "-n", nqn, ...extra];
}

export interface Proc {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs a program asynchronously (the in-process agent must keep serving meanwhile). */
export function runProc(cmd: string, args: string[], timeoutMs = 60_000): Promise<Proc> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { timeout: timeoutMs, killSignal: "SIGKILL", encoding: "utf8" },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === "number"
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ stdout, stderr, code });
      },
    );
  });
}

export async function mustRun(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const r = await runProc(cmd, args, timeoutMs);
  if (r.code !== 0)
    throw new Error(`${cmd} ${args.join(" ")} failed (${String(r.code)}): ${r.stderr}`);
  return r.stdout;
}

export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** An ssh2 client that verifies the sim's host key, as the driver must. */
export async function sshConnect(info: SshInfo): Promise<InstanceType<typeof Client>> {
  const want = utils.parseKey(info.hostPublicKey);
  if (want instanceof Error) throw want;
  const wantKey: ParsedKey | undefined = Array.isArray(want) ? (want as ParsedKey[])[0] : want;
  if (!wantKey) throw new Error("no host key");
  const c = new Client();
  await new Promise<void>((resolve, reject) => {
    c.on("ready", () => resolve())
      .on("error", reject)
      .connect({
        host: info.host,
        port: info.port,
        username: info.user,
        privateKey: fs.readFileSync(info.privateKeyPath),
        hostVerifier: (key: Buffer) => wantKey.getPublicSSH().equals(key),
      });
  });
  return c;
}

export function sshExec(c: InstanceType<typeof Client>, command: string): Promise<Proc> {
  return new Promise((resolve, reject) => {
    c.exec(command, (err, ch) => {
      if (err) {
        reject(err);
        return;
      }
      let stdout = "";
      let stderr = "";
      let code = -1;
      ch.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
      ch.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
      ch.on("exit", (c2: number | null) => (code = c2 ?? -1));
      ch.on("close", () => resolve({ stdout, stderr, code }));
    });
  });
}

export function readAttr(root: string, rel: string): string | undefined {
  try {
    return fs.readFileSync(path.join(root, rel), "utf8");
  } catch {
    return undefined;
  }
}

/** Loop devices attached to `file` (from the real /sys). */
export function loopsBacking(file: string): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync("/sys/block")) {
    if (!name.startsWith("loop")) continue;
    try {
      const back = fs.readFileSync(`/sys/block/${name}/loop/backing_file`, "utf8").trim();
      if (back === file || back === `${file} (deleted)`) out.push(`/dev/${name}`);
    } catch {
      /* not attached */
    }
  }
  return out;
}

export function loopDevNumber(dev: string): string {
  return fs.readFileSync(`/sys/block/${path.basename(dev)}/dev`, "utf8").trim();
}

/** major:minor of a block node, from its rdev. */
export function nodeNumber(node: string): string {
  const rdev = fs.statSync(node).rdev;
  const major = (rdev >> 8) & 0xfff;
  const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
  return `${String(major)}:${String(minor)}`;
}

export function mountsWithDev(devNum: string): string[] {
  return fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((l) => l.split(" ")[2] === devNum)
    .map((l) => l.split(" ")[4] ?? "");
}

export async function unmountQuietly(dir: string): Promise<void> {
  for (;;) {
    const mounted = fs
      .readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .some((l) => l.split(" ")[4] === dir);
    if (!mounted) return;
    const r = await runProc("umount", [dir]);
    if (r.code !== 0) await runProc("umount", ["--lazy", dir]);
  }
}
