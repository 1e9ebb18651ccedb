// Privileged: `sim-nvme up` as background processes, a mounted volume, the agent killed with
// SIGKILL, then `sim-nvme down` must leave no loop device, mount or dev node behind.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  cliUp,
  loopsBacking,
  mountsWithDev,
  mustRun,
  nodeNumber,
  nvmeConnectArgs,
  runProc,
  SIM_CLI as CLI,
  sshConnect,
  sshExec,
  tempDir,
  unmountQuietly,
  waitFor,
} from "./test-support/helpers.js";

const NQN = "nqn.2000-02.com.mikrotik:pvc-cli-1";

let dir: string | undefined;

afterEach(async () => {
  if (!dir) return;
  const stateDir = path.join(dir, "state");
  await runProc(process.execPath, [CLI, "down", "--state-dir", stateDir]);
  await unmountQuietly(path.join(dir, "mnt"));
  fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("sim-nvme CLI", () => {
  it("down after a killed host agent undoes loop devices, mounts and dev nodes", async () => {
    dir = tempDir();
    const stateDir = path.join(dir, "state");
    const up = await cliUp(stateDir);
    const client = await sshConnect(up.target.ssh);
    try {
      const add = await sshExec(
        client,
        `/disk add type=file file-path=/storage-pool/pvc-cli-1.img file-size=64M slot=pvc-cli-1 nvme-tcp-export=yes nvme-tcp-server-nqn=${NQN}`,
      );
      expect(add.code).toBe(0);
    } finally {
      client.end();
    }
    const file = path.join(up.target.poolDir, "storage-pool/pvc-cli-1.img");
    await mustRun(up.host.nvmeCliPath, nvmeConnectArgs(up.target.exportPort, NQN));
    const node = path.join(up.host.devRoot, "nvme0n1");
    await mustRun("mkfs.ext4", ["-q", "-F", node]);
    const mp = path.join(dir, "mnt");
    fs.mkdirSync(mp);
    await mustRun("mount", ["-t", "ext4", node, mp]);
    const num = nodeNumber(node);
    expect(mountsWithDev(num)).toEqual([mp]);

    // A fault through the CLI reaches the running agent.
    expect(
      JSON.parse(
        await mustRun(process.execPath, [
          CLI,
          "fault",
          "--state-dir",
          stateDir,
          "rename",
          NQN,
          "--json",
        ]),
      ),
    ).toEqual(["nvme0n2"]);
    const node2 = path.join(up.host.devRoot, "nvme0n2");
    expect(loopsBacking(file)).toHaveLength(2); // the new device and the old one pinned by the mount

    process.kill(up.host.pid, "SIGKILL");
    await waitFor("agent gone", () => {
      try {
        process.kill(up.host.pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    const down = JSON.parse(
      await mustRun(process.execPath, [CLI, "down", "--state-dir", stateDir, "--json"]),
    ) as {
      unmounted: string[];
      detached: string[];
    };
    expect(down.unmounted).toEqual([mp]);
    expect(loopsBacking(file)).toEqual([]);
    expect(mountsWithDev(num)).toEqual([]);
    expect(fs.existsSync(node)).toBe(false);
    expect(fs.existsSync(node2)).toBe(false);
    expect(fs.existsSync(path.join(up.host.sysfsRoot, "class/block/nvme0n2"))).toBe(false);
    const status = JSON.parse(
      await mustRun(process.execPath, [CLI, "status", "--state-dir", stateDir, "--json"]),
    ) as unknown;
    expect(status).toEqual({ target: null, host: null });
  });
});
