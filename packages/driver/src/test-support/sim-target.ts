// Starts sim-nvme's simulated RDS target (SSH + RouterOS CLI, file-backed disks) in a temp dir.
// No root needed: only the target side is used, no loop devices.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startTarget, type Target } from "@rds-nvme-csi/sim-nvme";
import type { RouterOSClientOptions } from "../backend/routeros/client.js";

export interface SimTarget {
  target: Target;
  stateDir: string;
  /** Options for RouterOSClient pointing at the target, host key verified. */
  clientOptions: RouterOSClientOptions;
  close(): Promise<void>;
}

export async function startSimTarget(opts: { capacityBytes?: number } = {}): Promise<SimTarget> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "rdsnvme-target-"));
  const target = await startTarget({ stateDir, address: "127.0.0.1", sshPort: 0, exportPort: 0, capacityBytes: opts.capacityBytes });
  return {
    target,
    stateDir,
    clientOptions: {
      host: target.ssh.host,
      port: target.ssh.port,
      username: target.ssh.user,
      privateKey: fs.readFileSync(target.ssh.privateKeyPath, "utf8"),
      hostKey: target.ssh.hostPublicKey,
    },
    close: async () => {
      await target.close();
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
