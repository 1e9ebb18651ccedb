// The driver and sidecar processes the cluster tests run against sim-nvme: where the built
// driver is, the flags that point it at a (simulated) RDS, and starting/stopping the processes.
import type * as k8s from "@kubernetes/client-node";
import type { SshInfo } from "@rds-nvme-csi/sim-nvme";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ManagedProcess, waitUntil } from "../local-cluster/processes.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const driverMain = join(repoRoot, "packages", "driver", "dist", "main.js");
export const DRIVER_NAME = "rds-nvme.csi.dev";

/** The cluster tests run the built driver; without it they must fail, not skip. */
export function assertDriverBuilt(): void {
  if (!existsSync(driverMain)) throw new Error(`${driverMain} is missing: build the driver first (npx turbo run build)`);
}

/** Driver flags for an RDS: RouterOS over SSH (host key verified) and its NVMe/TCP export port. */
export function rdsArgs(ssh: SshInfo, exportPort: number): string[] {
  return [
    `--rds-address=${ssh.host}`,
    `--rds-port=${ssh.port}`,
    `--rds-user=${ssh.user}`,
    `--rds-private-key=${ssh.privateKeyPath}`,
    `--rds-host-key=${ssh.hostPublicKeyPath}`,
    "--nvme-address=127.0.0.1",
    `--nvme-port=${exportPort}`,
  ];
}

/** Starts a process logging to `<dir>/<name>.log` and adds it to `processes` (see stopAll). */
export async function startLogged(
  processes: ManagedProcess[],
  dir: string,
  name: string,
  argv: string[],
  env?: NodeJS.ProcessEnv,
): Promise<ManagedProcess> {
  const p = await ManagedProcess.start({ name, argv, logFile: join(dir, `${name}.log`), ...(env ? { env } : {}) });
  processes.push(p);
  return p;
}

/** Waits until the driver serves its CSI unix socket (fails early if the driver exits). */
export async function waitForCsiSocket(socket: string, driver: ManagedProcess): Promise<void> {
  await waitUntil("the driver's CSI socket", async () => existsSync(socket), { timeoutMs: 60_000, process: driver });
}

/** Stops the processes, last started first, printing the log tail of any that had died. */
export async function stopAll(processes: ManagedProcess[]): Promise<void> {
  for (const p of processes.reverse()) {
    if (!p.running) console.error(`${p.name} had exited:\n${p.logTail()}`);
    await p.stop(5000);
  }
}

/**
 * The driver in controller mode (as the controller Deployment runs it) on `<dir>/csi.sock`,
 * pointed at a simulated RDS; resolves once the socket is served.
 */
export async function startControllerDriver(
  processes: ManagedProcess[],
  dir: string,
  rds: { ssh: SshInfo; exportPort: number },
): Promise<{ socket: string; driver: ManagedProcess }> {
  const socket = join(dir, "csi.sock");
  const driver = await startLogged(processes, dir, "driver", [
    process.execPath,
    driverMain,
    `--endpoint=unix://${socket}`,
    "--mode=controller",
    `--driver-name=${DRIVER_NAME}`,
    ...rdsArgs(rds.ssh, rds.exportPort),
    "--shutdown-grace=2000",
  ]);
  await waitForCsiSocket(socket, driver);
  return { socket, driver };
}

/**
 * A StorageClass for our driver: ext4, reclaim Delete, and Immediate binding (no scheduler or
 * kubelet in the local control plane, so provision at once instead of waiting for a pod).
 */
export async function createStorageClass(
  storage: k8s.StorageV1Api,
  name: string,
  options: { allowVolumeExpansion?: boolean } = {},
): Promise<void> {
  await storage.createStorageClass({
    body: {
      metadata: { name },
      provisioner: DRIVER_NAME,
      parameters: { "csi.storage.k8s.io/fstype": "ext4" },
      reclaimPolicy: "Delete",
      volumeBindingMode: "Immediate",
      ...options,
    },
  });
}
