#!/usr/bin/env node
// sim-nvme: run the simulated fabric from a shell.
//   up      target + host agent as background processes sharing one state dir
//   down    stop both; undo every loop device, mount and dev node (also after a crash)
//   status  what both report
//   fault   rename | drop | orphan | slow-appear | target-down | target-up | resize
//   target  run the target in the foreground (e.g. a Deployment in kind)
//   host    run the host agent in the foreground (e.g. one per node in kind)
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError } from "commander";
import { callControlSocket } from "./control-socket.js";
import { startHost } from "./host/host.js";
import { cleanupFromJournal } from "./host/journal.js";
import { startTarget } from "./target/target.js";
import { parseSize } from "./units.js";

interface Common {
  stateDir: string;
  json?: boolean;
}
interface TargetFlags extends Common {
  address: string;
  sshPort: string;
  exportPort: string;
  poolDir?: string;
  capacity?: string;
  user: string;
}
interface HostFlags extends Common {
  sysfsRoot?: string;
  devRoot?: string;
  multipath: boolean;
}

const targetInfoFile = (d: string): string => path.join(d, "target.json");
const hostInfoFile = (d: string): string => path.join(d, "host.json");

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError("not a port number");
  return n;
}

function print(json: boolean | undefined, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function alive(pid: unknown): boolean {
  if (typeof pid !== "number") return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function onSignals(stop: () => Promise<void>): void {
  let stopping = false;
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
}

async function runTarget(f: TargetFlags): Promise<void> {
  const stateDir = path.resolve(f.stateDir);
  const capacity = f.capacity === undefined ? undefined : parseSize(f.capacity);
  if (f.capacity !== undefined && capacity === undefined)
    throw new InvalidArgumentError(`bad --capacity ${f.capacity}`);
  const t = await startTarget({
    stateDir,
    poolDir: f.poolDir,
    address: f.address,
    sshPort: port(f.sshPort),
    exportPort: port(f.exportPort),
    capacityBytes: capacity,
    user: f.user,
    controlSocket: true,
  });
  const info = {
    pid: process.pid,
    ssh: t.ssh,
    exportPort: t.exportPort,
    controlSocket: t.controlSocketPath,
    poolDir: t.store.poolDir,
  };
  fs.writeFileSync(targetInfoFile(stateDir), JSON.stringify(info, null, 2));
  onSignals(async () => {
    await t.close();
    fs.rmSync(targetInfoFile(stateDir), { force: true });
  });
  print(
    f.json,
    info,
    `target up: ssh ${t.ssh.host}:${String(t.ssh.port)}, export port ${String(t.exportPort)}`,
  );
}

async function runHost(f: HostFlags): Promise<void> {
  const stateDir = path.resolve(f.stateDir);
  const h = await startHost({
    stateDir,
    sysfsRoot: f.sysfsRoot ?? path.join(stateDir, "sys"),
    devRoot: f.devRoot ?? path.join(stateDir, "dev"),
    multipath: f.multipath,
  });
  const info = {
    pid: process.pid,
    socketPath: h.socketPath,
    nvmeCliPath: h.nvmeCliPath,
    sysfsRoot: h.agent.sysfs.root,
    devRoot: h.agent.devRoot,
    hostnqn: h.agent.hostnqn,
  };
  fs.writeFileSync(hostInfoFile(stateDir), JSON.stringify(info, null, 2));
  onSignals(async () => {
    await h.close();
    fs.rmSync(hostInfoFile(stateDir), { force: true });
  });
  print(
    f.json,
    info,
    `host agent up: nvme stand-in ${h.nvmeCliPath}, sysfs ${info.sysfsRoot}, dev ${info.devRoot}`,
  );
}

async function waitForFile(
  file: string,
  pid: number,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const info = readJson(file);
    if (info && info.pid === pid) return info;
    if (!alive(pid))
      throw new Error(
        `process ${String(pid)} exited before it was ready (see the .log next to ${file})`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${file}`);
}

function spawnDetached(stateDir: string, args: string[], log: string): number {
  const out = fs.openSync(path.join(stateDir, log), "a");
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args], {
    detached: true,
    stdio: ["ignore", out, out],
  });
  fs.closeSync(out);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${args[0] ?? ""}`);
  return child.pid;
}

async function up(f: TargetFlags & HostFlags): Promise<void> {
  const stateDir = path.resolve(f.stateDir);
  fs.mkdirSync(stateDir, { recursive: true });
  for (const file of [targetInfoFile(stateDir), hostInfoFile(stateDir)]) {
    if (alive(readJson(file)?.pid))
      throw new Error(`already running (${file}); run sim-nvme down first`);
    fs.rmSync(file, { force: true });
  }
  const common = ["--state-dir", stateDir, "--json"];
  const tArgs = [
    "target",
    ...common,
    "--address",
    f.address,
    "--ssh-port",
    f.sshPort,
    "--export-port",
    f.exportPort,
    "--user",
    f.user,
  ];
  if (f.poolDir) tArgs.push("--pool-dir", f.poolDir);
  if (f.capacity) tArgs.push("--capacity", f.capacity);
  const hArgs = ["host", ...common];
  if (f.sysfsRoot) hArgs.push("--sysfs-root", f.sysfsRoot);
  if (f.devRoot) hArgs.push("--dev-root", f.devRoot);
  if (!f.multipath) hArgs.push("--no-multipath");
  const tPid = spawnDetached(stateDir, tArgs, "target.log");
  const target = await waitForFile(targetInfoFile(stateDir), tPid, 20_000);
  const hPid = spawnDetached(stateDir, hArgs, "host.log");
  let host: Record<string, unknown>;
  try {
    host = await waitForFile(hostInfoFile(stateDir), hPid, 20_000);
  } catch (e) {
    process.kill(tPid, "SIGTERM");
    throw e;
  }
  const info = { stateDir, target, host };
  const ssh = target.ssh as { host: string; port: number };
  print(
    f.json,
    info,
    `sim-nvme up in ${stateDir}\n  ssh ${ssh.host}:${String(ssh.port)} (key ${path.join(stateDir, "keys", "client_ecdsa_key")})\n  export port ${String(target.exportPort)}\n  nvme stand-in ${String(host.nvmeCliPath)}`,
  );
}

async function stopPid(pid: unknown): Promise<boolean> {
  if (!alive(pid)) return false;
  const p = pid as number;
  process.kill(p, "SIGTERM");
  const deadline = Date.now() + 15_000;
  while (alive(p) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive(p)) process.kill(p, "SIGKILL");
  while (alive(p)) await new Promise((r) => setTimeout(r, 20));
  return true;
}

async function down(f: Common): Promise<void> {
  const stateDir = path.resolve(f.stateDir);
  const hostStopped = await stopPid(readJson(hostInfoFile(stateDir))?.pid);
  const targetStopped = await stopPid(readJson(targetInfoFile(stateDir))?.pid);
  // Whatever a killed agent left behind is in its journal.
  const cleanup = await cleanupFromJournal(stateDir);
  for (const f2 of [
    hostInfoFile(stateDir),
    targetInfoFile(stateDir),
    path.join(stateDir, "agent.sock"),
    path.join(stateDir, "target.sock"),
  ]) {
    fs.rmSync(f2, { force: true });
  }
  const report = { hostStopped, targetStopped, ...cleanup };
  print(
    f.json,
    report,
    `sim-nvme down: host ${hostStopped ? "stopped" : "not running"}, target ${targetStopped ? "stopped" : "not running"}; ` +
      `unmounted ${String(cleanup.unmounted.length)}, detached ${String(cleanup.detached.length)}, removed ${String(cleanup.devNodesRemoved.length)} dev nodes`,
  );
}

async function status(f: Common): Promise<void> {
  const stateDir = path.resolve(f.stateDir);
  const ask = async (sock: string): Promise<unknown> => {
    try {
      return await callControlSocket(sock, { op: "status" }, 10_000);
    } catch {
      return null;
    }
  };
  const target = await ask(path.join(stateDir, "target.sock"));
  const host = await ask(path.join(stateDir, "agent.sock"));
  const st = { target, host };
  const hs = host as {
    subsystems?: {
      name: string;
      nqn: string;
      controllers: { name: string; state: string; namespace?: { name: string } }[];
    }[];
  } | null;
  const lines = [
    `target: ${target ? "running" : "not running"}`,
    `host agent: ${host ? "running" : "not running"}`,
  ];
  for (const s of hs?.subsystems ?? []) {
    for (const c of s.controllers)
      lines.push(`  ${s.name} ${s.nqn} ${c.name} ${c.state} ${c.namespace?.name ?? "-"}`);
  }
  print(f.json, st, lines.join("\n"));
}

async function fault(f: Common, name: string, args: string[]): Promise<void> {
  const stateDir = path.resolve(f.stateDir);
  const agentSock = path.join(stateDir, "agent.sock");
  const targetSock = path.join(stateDir, "target.sock");
  const need = (n: number): void => {
    if (args.length !== n)
      throw new InvalidArgumentError(`fault ${name} takes ${String(n)} argument(s)`);
  };
  const call = async (sock: string, req: Record<string, unknown>): Promise<unknown> => {
    try {
      return await callControlSocket(sock, req);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ECONNREFUSED") {
        throw new Error(
          `${sock === targetSock ? "target" : "host agent"} is not running in ${stateDir} (no ${path.basename(sock)})`,
          { cause: e },
        );
      }
      throw e;
    }
  };
  let result: unknown;
  switch (name) {
    case "rename":
    case "drop":
    case "orphan":
      need(1);
      result = await call(agentSock, { op: name, nqn: args[0] });
      break;
    case "slow-appear": {
      need(1);
      const ms = Number(args[0]);
      if (!Number.isInteger(ms) || ms < 0)
        throw new InvalidArgumentError("slow-appear takes milliseconds");
      result = await call(agentSock, { op: "slow-appear", ms });
      break;
    }
    case "target-down":
    case "target-up":
      need(0);
      result = await call(targetSock, { op: name });
      break;
    case "resize": {
      need(2);
      const bytes = parseSize(args[1] ?? "");
      if (bytes === undefined) throw new InvalidArgumentError(`bad size ${args[1] ?? ""}`);
      result = await call(targetSock, { op: "resize", slot: args[0], bytes });
      break;
    }
    default:
      throw new InvalidArgumentError(
        `unknown fault ${name} (rename, drop, orphan, slow-appear, target-down, target-up, resize)`,
      );
  }
  print(f.json, result, `fault ${name} done`);
}

export function buildProgram(): Command {
  const program = new Command("sim-nvme").description(
    "simulated RDS (RouterOS over SSH) and NVMe/TCP host over real loop devices",
  );
  const stateDir = (c: Command): Command =>
    c.requiredOption("--state-dir <dir>", "state directory (keys, disk table, journal, sockets)");
  const json = (c: Command): Command => c.option("--json", "machine-readable output");
  const targetOpts = (c: Command): Command =>
    c
      .option("--address <ip>", "listen address (loopback only in tests)", "127.0.0.1")
      .option("--ssh-port <port>", "SSH port (0 = ephemeral)", "0")
      .option("--export-port <port>", "NVMe/TCP-like export port (0 = ephemeral)", "4420")
      .option("--pool-dir <dir>", "root of the RDS file namespace (default <state-dir>/pool)")
      .option("--capacity <size>", "pool capacity limit, e.g. 20G")
      .option("--user <name>", "SSH user", "admin");
  const hostOpts = (c: Command): Command =>
    c
      .option("--sysfs-root <dir>", "simulated sysfs root (default <state-dir>/sys)")
      .option("--dev-root <dir>", "where block nodes are made (default <state-dir>/dev)")
      .option("--no-multipath", "plain nvme<C>n<H> layout instead of native multipath heads");

  hostOpts(
    targetOpts(
      json(
        stateDir(
          program.command("up").description("start target and host agent in the background"),
        ),
      ),
    ),
  ).action((o: TargetFlags & HostFlags) => up(o));
  json(
    stateDir(
      program
        .command("down")
        .description("stop both and undo every loop device, mount and dev node"),
    ),
  ).action((o: Common) => down(o));
  json(stateDir(program.command("status").description("report target and host state"))).action(
    (o: Common) => status(o),
  );
  json(
    stateDir(
      program
        .command("fault")
        .description("inject a fault")
        .argument("<name>")
        .argument("[args...]"),
    ),
  ).action((name: string, args: string[], o: Common) => fault(o, name, args));
  targetOpts(
    json(stateDir(program.command("target").description("run the target in the foreground"))),
  ).action((o: TargetFlags) => runTarget(o));
  hostOpts(
    json(stateDir(program.command("host").description("run the host agent in the foreground"))),
  ).action((o: HostFlags) => runHost(o));
  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((e: unknown) => {
    process.stderr.write(`sim-nvme: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
