// Benchmark: CreateVolume+DeleteVolume pairs per second through the real stack — a driver
// process (dist/main.js --mode controller) on its unix socket, SSH to sim-nvme's simulated RDS —
// with 1 and 8 concurrent callers, once with the SSH connection pool (4) and once with a new SSH
// connection per command (pool size 0). Prints numbers; asserts nothing.
//
//   npm run bench -w @rds-nvme-csi/driver        (after a build)
//   BENCH_PAIRS=200 node dist/bench/controller-bench.js
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { startTarget } from "@rds-nvme-csi/sim-nvme";
import * as csi from "../gen/csi.js";

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../main.js");
const PAIRS = Number(process.env.BENCH_PAIRS ?? 48);

const mount: csi.VolumeCapability = {
  accessType: { $case: "mount", value: { fsType: "ext4", mountFlags: [], volumeMountGroup: "" } },
  accessMode: { mode: csi.VolumeCapability_AccessMode_Mode.SINGLE_NODE_WRITER },
};

function unary<Req, Res>(client: grpc.Client, method: string, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (r: Req, cb: (e: grpc.ServiceError | null, v: Res) => void) => void>)[method];
    fn.call(client, req, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function startDriverProcess(args: string[], sock: string): Promise<ChildProcess> {
  const proc = spawn(process.execPath, [MAIN, ...args, "--endpoint", `unix://${sock}`, "--log-level", "warn"], { stdio: ["ignore", "ignore", "inherit"] });
  const deadline = Date.now() + 20_000;
  while (!fs.existsSync(sock)) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error("driver did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  return proc;
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.once("exit", r));
  proc.kill("SIGTERM");
  await exited;
}

interface Result {
  pool: number;
  callers: number;
  pairs: number;
  seconds: number;
  p50: number;
  p99: number;
}

async function run(client: InstanceType<typeof csi.ControllerClient>, tag: string, callers: number, pairs: number): Promise<Omit<Result, "pool">> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      for (;;) {
        const i = next++;
        if (i >= pairs) return;
        const name = `bench-${tag}-${i}`;
        const t0 = performance.now();
        const res = await unary<csi.CreateVolumeRequest, csi.CreateVolumeResponse>(
          client,
          "createVolume",
          csi.CreateVolumeRequest.fromPartial({ name, capacityRange: { requiredBytes: 64n * 1024n * 1024n, limitBytes: 0n }, volumeCapabilities: [mount] }),
        );
        await unary(client, "deleteVolume", { volumeId: res.volume!.volumeId, secrets: {} });
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { callers, pairs, seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function main(): Promise<void> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "rdsnvme-bench-"));
  const target = await startTarget({ stateDir, address: "127.0.0.1", sshPort: 0, exportPort: 0 });
  const results: Result[] = [];
  try {
    for (const pool of [4, 0]) {
      const sock = path.join(stateDir, `csi-${pool}.sock`);
      const proc = await startDriverProcess(
        [
          "--mode", "controller",
          "--rds-address", target.ssh.host,
          "--rds-port", String(target.ssh.port),
          "--rds-user", target.ssh.user,
          "--rds-private-key", target.ssh.privateKeyPath,
          "--rds-host-key", target.ssh.hostPublicKeyPath,
          "--rds-pool-dir", "/storage/csi",
          "--rds-pool-size", String(pool),
          "--nvme-port", String(target.exportPort),
        ],
        sock,
      );
      const client = new csi.ControllerClient(`unix://${sock}`, grpc.credentials.createInsecure());
      try {
        await run(client, `warm${pool}`, 1, 3); // connections, JIT
        for (const callers of [1, 8]) {
          const r = await run(client, `p${pool}c${callers}`, callers, PAIRS);
          results.push({ pool, ...r });
        }
      } finally {
        client.close();
        await stop(proc);
      }
    }
  } finally {
    await target.close();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
  const rows = results.map((r) => ({
    "ssh pool": r.pool === 0 ? "none (new conn per command)" : `${r.pool} connections`,
    callers: r.callers,
    pairs: r.pairs,
    "pairs/s": (r.pairs / r.seconds).toFixed(1),
    "p50 ms": r.p50.toFixed(1),
    "p99 ms": r.p99.toFixed(1),
  }));
  process.stdout.write(`CreateVolume+DeleteVolume pairs through a controller process → SSH → sim-nvme target (${os.cpus().length} CPUs)\n`);
  console.table(rows);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
