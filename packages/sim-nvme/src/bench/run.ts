// Benchmarks (print numbers, assert nothing):
//   1. `nvme connect` -> namespace device visible in sysfs and the dev root (median)   [root]
//   2. rename fault -> new device visible (median)                                     [root]
//   3. `/disk add` round trip over SSH on loopback: reused connection vs a new connection per command
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import ssh2 from "ssh2";
import type { ParsedKey } from "ssh2";
import { startSim, startTarget, type Sim, type SshInfo } from "../index.js";

const { Client, utils } = ssh2;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}
const fmt = (xs: number[]): string =>
  `median ${median(xs).toFixed(1)} ms, min ${Math.min(...xs).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms (n=${String(xs.length)})`;

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 60_000, encoding: "utf8" }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd}: ${stderr}`)) : resolve(stdout),
    );
  });
}

async function until(fn: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error("device did not appear");
    await new Promise((r) => setImmediate(r));
  }
}

function headFor(sim: Sim, nqn: string): string | undefined {
  return sim.host.agent.subsystemsView().find((s) => s.nqn === nqn)?.controllers[0]?.namespace
    ?.name;
}

async function benchHost(rounds: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rdsnvme-bench-"));
  const sim = await startSim({ stateDir: dir });
  try {
    const nqn = "nqn.2000-02.com.mikrotik:pvc-bench";
    await sim.target.interpreter.run(
      `/disk add type=file file-path=/storage-pool/pvc-bench.img file-size=64M slot=pvc-bench nvme-tcp-export=yes nvme-tcp-server-nqn=${nqn}`,
    );
    const connect = [
      "connect",
      "-t",
      "tcp",
      "-a",
      "127.0.0.1",
      "-s",
      String(sim.exportPort),
      "-n",
      nqn,
    ];
    const visible = (name: string): boolean =>
      fs.existsSync(path.join(sim.sysfsRoot, "class/block", name)) &&
      fs.existsSync(path.join(sim.devRoot, name));
    const connectMs: number[] = [];
    const renameMs: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      await run(sim.nvmeCliPath, connect);
      await until(() => {
        const h = headFor(sim, nqn);
        return h !== undefined && visible(h);
      });
      connectMs.push(performance.now() - t0);

      const before = headFor(sim, nqn);
      const t1 = performance.now();
      await sim.faults.rename(nqn);
      await until(() => {
        const h = headFor(sim, nqn);
        return h !== undefined && h !== before && visible(h);
      });
      renameMs.push(performance.now() - t1);
      await run(sim.nvmeCliPath, ["disconnect", "-n", nqn]);
    }
    console.log(
      `connect -> device visible (nvme stand-in process + agent + losetup + mknod): ${fmt(connectMs)}`,
    );
    console.log(
      `rename  -> new device visible (new loop device, old one detached):          ${fmt(renameMs)}`,
    );
  } finally {
    await sim.down();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function connectSsh(info: SshInfo, noDelay: boolean): Promise<InstanceType<typeof Client>> {
  const parsed = utils.parseKey(info.hostPublicKey);
  if (parsed instanceof Error) throw parsed;
  const want: ParsedKey | undefined = Array.isArray(parsed) ? (parsed as ParsedKey[])[0] : parsed;
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.on("ready", () => {
      c.setNoDelay(noDelay);
      resolve(c);
    })
      .on("error", reject)
      .connect({
        host: info.host,
        port: info.port,
        username: info.user,
        privateKey: fs.readFileSync(info.privateKeyPath),
        hostVerifier: (key: Buffer) => want?.getPublicSSH().equals(key) ?? false,
      });
  });
}

function exec(c: InstanceType<typeof Client>, cmd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    c.exec(cmd, (err, ch) => {
      if (err) {
        reject(err);
        return;
      }
      let code = -1;
      ch.on("data", () => undefined);
      ch.on("exit", (x: number | null) => (code = x ?? -1));
      ch.on("close", () => resolve(code));
    });
  });
}

async function benchSsh(rounds: number, noDelay: boolean): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rdsnvme-bench-"));
  const target = await startTarget({ stateDir: dir, exportPort: 0 });
  try {
    const add = (i: number, tag: string): string =>
      `/disk add type=file file-path=/storage-pool/b-${tag}-${String(i)}.img file-size=1G slot=pvc-${tag}-${String(i)} nvme-tcp-export=yes nvme-tcp-server-nqn=nqn.2000-02.com.mikrotik:pvc-${tag}-${String(i)}`;
    const reused: number[] = [];
    const fresh: number[] = [];
    const c = await connectSsh(target.ssh, noDelay);
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      if ((await exec(c, add(i, "r"))) !== 0) throw new Error("disk add failed");
      reused.push(performance.now() - t0);
    }
    c.end();
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      const c2 = await connectSsh(target.ssh, noDelay);
      if ((await exec(c2, add(i, "n"))) !== 0) throw new Error("disk add failed");
      fresh.push(performance.now() - t0);
      c2.end();
    }
    const how = noDelay ? "client TCP_NODELAY on " : "client TCP_NODELAY off";
    console.log(`/disk add over SSH (${how}), reused connection:          ${fmt(reused)}`);
    console.log(`/disk add over SSH (${how}), new connection per command: ${fmt(fresh)}`);
  } finally {
    await target.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(`sim-nvme benchmarks (${String(os.cpus().length)} CPUs, node ${process.version})`);
  await benchSsh(30, true);
  await benchSsh(30, false);
  if (process.getuid?.() === 0) await benchHost(10);
  else console.log("connect/rename benchmarks need root (real loop devices): not run");
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
