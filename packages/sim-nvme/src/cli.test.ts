// The sim-nvme CLI as a user runs it (built dist/cli.js, real background processes). No root:
// nothing here attaches a loop device.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  cliUp,
  mustRun,
  runProc,
  SIM_CLI as CLI,
  sshConnect,
  sshExec,
  tempDir,
} from "./test-support/helpers.js";

const cli = (...args: string[]): ReturnType<typeof runProc> =>
  runProc(process.execPath, [CLI, ...args]);

let dir: string | undefined;

afterEach(async () => {
  if (!dir) return;
  await cli("down", "--state-dir", path.join(dir, "state"));
  fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("sim-nvme CLI", () => {
  it("up, status, faults, down", async () => {
    dir = tempDir();
    const stateDir = path.join(dir, "state");
    const up = await cliUp(stateDir, "--capacity", "2G");
    expect(up.target.exportPort).toBeGreaterThan(0);
    expect(fs.statSync(up.host.nvmeCliPath).mode & 0o111).not.toBe(0);
    expect(await cli("up", "--state-dir", stateDir)).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("already running") as unknown,
    });

    const c = await sshConnect(up.target.ssh);
    try {
      expect(
        (await sshExec(c, "/disk add type=file file-path=/storage/a.img file-size=1G slot=pvc-a"))
          .code,
      ).toBe(0);
      expect(
        (await sshExec(c, "/disk add type=file file-path=/storage/b.img file-size=2G slot=pvc-b"))
          .stdout,
      ).toBe("failure: not enough space\r\n");
    } finally {
      c.end();
    }
    expect(await runProc(up.host.nvmeCliPath, ["list-subsys", "-o", "json"])).toEqual({
      stdout: "[\n]\n",
      stderr: "",
      code: 0,
    });

    const st = JSON.parse(
      await mustRun(process.execPath, [CLI, "status", "--state-dir", stateDir, "--json"]),
    ) as {
      target: { up: boolean; disks: { slot: string }[] };
      host: { slowAppearMs: number };
    };
    expect(st.target.up).toBe(true);
    expect(st.target.disks.map((d) => d.slot)).toEqual(["pvc-a"]);

    const slow = JSON.parse(
      await mustRun(process.execPath, [
        CLI,
        "fault",
        "slow-appear",
        "250",
        "--state-dir",
        stateDir,
        "--json",
      ]),
    ) as { slowAppearMs: number };
    expect(slow.slowAppearMs).toBe(250);
    const down = JSON.parse(
      await mustRun(process.execPath, [
        CLI,
        "fault",
        "target-down",
        "--state-dir",
        stateDir,
        "--json",
      ]),
    ) as { up: boolean };
    expect(down.up).toBe(false);
    await expect(sshConnect(up.target.ssh)).rejects.toThrow();
    expect(
      JSON.parse(
        await mustRun(process.execPath, [
          CLI,
          "fault",
          "target-up",
          "--state-dir",
          stateDir,
          "--json",
        ]),
      ),
    ).toMatchObject({ up: true });
    const resized = JSON.parse(
      await mustRun(process.execPath, [
        CLI,
        "fault",
        "resize",
        "pvc-a",
        "1536M",
        "--state-dir",
        stateDir,
        "--json",
      ]),
    ) as {
      disks: { fileSize: number }[];
    };
    expect(resized.disks[0]?.fileSize).toBe(1536 * 1024 * 1024);

    expect(
      await cli("fault", "rename", "nqn.2000-02.com.mikrotik:nope", "--state-dir", stateDir),
    ).toMatchObject({
      code: 1,
      stderr: "sim-nvme: no controller for nqn.2000-02.com.mikrotik:nope\n",
    });
    expect((await cli("fault", "explode", "--state-dir", stateDir)).code).toBe(1);
    expect((await cli("fault", "slow-appear", "soon", "--state-dir", stateDir)).code).toBe(1);

    const bye = JSON.parse(
      await mustRun(process.execPath, [CLI, "down", "--state-dir", stateDir, "--json"]),
    ) as { hostStopped: boolean; targetStopped: boolean };
    expect(bye).toMatchObject({ hostStopped: true, targetStopped: true });
    for (const pid of [up.target.pid, up.host.pid]) expect(() => process.kill(pid, 0)).toThrow();
    expect(
      JSON.parse(
        await mustRun(process.execPath, [CLI, "status", "--state-dir", stateDir, "--json"]),
      ),
    ).toEqual({ target: null, host: null });
    // The disk table is on disk: a new `up` sees the disk again.
    await mustRun(process.execPath, [CLI, "up", "--state-dir", stateDir, "--export-port", "0"]);
    const again = JSON.parse(
      await mustRun(process.execPath, [CLI, "status", "--state-dir", stateDir, "--json"]),
    ) as { target: { disks: { slot: string }[] } };
    expect(again.target.disks.map((d) => d.slot)).toEqual(["pvc-a"]);
  });

  it("fault without a running sim says so", async () => {
    dir = tempDir();
    const r = await cli("fault", "drop", "nqn.x", "--state-dir", path.join(dir, "state"));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("host agent is not running");
  });
});
