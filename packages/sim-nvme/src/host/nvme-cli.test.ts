// The nvme stand-in's command line and output (nvme-cli 2.3 shapes), against a real target and a
// real host agent. No root: namespaces are held back with slow-appear, so no loop device is made.
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { jsonCPretty, startHost, startTarget, type Host, type Target } from "../index.js";
import { nvmeConnectArgs, runProc, tempDir } from "../test-support/helpers.js";

const NQN = "nqn.2000-02.com.mikrotik:pvc-cli-unit";
let dir: string;
let target: Target;
let host: Host;

const nvme = (...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> =>
  runProc(host.nvmeCliPath, args);
const connectArgs = (...extra: string[]): string[] =>
  nvmeConnectArgs(target.exportPort, NQN, ...extra);

beforeEach(async () => {
  dir = tempDir();
  target = await startTarget({ stateDir: path.join(dir, "t"), exportPort: 0 });
  const add = await target.interpreter.run(
    `/disk add type=file file-path=/storage-pool/pvc-cli-unit.img file-size=1G slot=pvc-cli-unit nvme-tcp-export=yes nvme-tcp-server-nqn=${NQN}`,
  );
  expect(add.exitCode).toBe(0);
  host = await startHost({
    stateDir: path.join(dir, "h"),
    sysfsRoot: path.join(dir, "sys"),
    devRoot: path.join(dir, "dev"),
    hostnqn: "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555",
  });
  host.agent.setSlowAppear(3_600_000);
});

afterEach(async () => {
  await host.close();
  await target.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("nvme stand-in (nvme-cli 2.3 shapes)", () => {
  it("prints json-c pretty JSON", () => {
    expect(jsonCPretty([])).toBe("[\n]");
    expect(jsonCPretty({ Devices: [] })).toBe('{\n  "Devices":[\n  ]\n}');
    expect(jsonCPretty({ a: 1, b: [{ c: "/dev/x" }] })).toBe(
      '{\n  "a":1,\n  "b":[\n    {\n      "c":"/dev/x"\n    }\n  ]\n}',
    );
  });

  it("list-subsys with nothing connected is an empty array", async () => {
    expect(await nvme("list-subsys", "-o", "json")).toEqual({
      stdout: "[\n]\n",
      stderr: "",
      code: 0,
    });
    expect(await nvme("list", "-o", "json")).toEqual({
      stdout: '{\n  "Devices":[\n  ]\n}\n',
      stderr: "",
      code: 0,
    });
  });

  it("connect, duplicate connect, list-subsys, disconnect -n", async () => {
    expect(await nvme(...connectArgs("-l", "30", "-c", "5", "-k", "7"))).toEqual({
      stdout: "device: nvme0\n",
      stderr: "",
      code: 0,
    });
    expect(await nvme(...connectArgs())).toEqual({
      stdout: "",
      stderr: "already connected\n",
      code: 1,
    });
    const ls = await nvme("list-subsys", "-o", "json");
    expect(ls.code).toBe(0);
    expect(JSON.parse(ls.stdout)).toEqual([
      {
        HostNQN: "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555",
        HostID: "11111111-2222-3333-4444-555555555555",
        Subsystems: [
          {
            Name: "nvme-subsys0",
            NQN,
            Paths: [
              {
                Name: "nvme0",
                Transport: "tcp",
                Address: `traddr=127.0.0.1,trsvcid=${String(target.exportPort)},src_addr=127.0.0.1`,
                State: "live",
              },
            ],
          },
        ],
      },
    ]);
    expect(ls.stdout).toContain('\n    "Subsystems":[\n');
    // sysfs attributes of the fabrics controller
    const ctrl = path.join(dir, "sys/class/nvme/nvme0");
    expect(fs.readFileSync(path.join(ctrl, "ctrl_loss_tmo"), "utf8")).toBe("30\n");
    expect(fs.readFileSync(path.join(ctrl, "reconnect_delay"), "utf8")).toBe("5\n");
    expect(fs.readFileSync(path.join(ctrl, "kato"), "utf8")).toBe("7\n");
    expect(fs.readFileSync(path.join(ctrl, "transport"), "utf8")).toBe("tcp\n");
    expect(fs.readFileSync(path.join(ctrl, "model"), "utf8")).toMatch(/^.{40}\n$/);
    expect(fs.readFileSync(path.join(ctrl, "serial"), "utf8")).toMatch(/^.{20}\n$/);
    expect(fs.readlinkSync(path.join(dir, "sys/class/nvme-subsystem/nvme-subsys0"))).toBe(
      "../../devices/virtual/nvme-subsystem/nvme-subsys0",
    );
    expect(
      fs.readlinkSync(path.join(dir, "sys/devices/virtual/nvme-subsystem/nvme-subsys0/nvme0")),
    ).toBe("../../nvme-fabrics/ctl/nvme0");
    // no namespace yet (slow-appear), so list shows nothing
    expect(JSON.parse((await nvme("list", "-o", "json")).stdout)).toEqual({ Devices: [] });

    expect(await nvme("disconnect", "-n", NQN)).toEqual({
      stdout: `NQN:${NQN} disconnected 1 controller(s)\n`,
      stderr: "",
      code: 0,
    });
    expect(await nvme("disconnect", "-n", NQN)).toEqual({
      stdout: `NQN:${NQN} disconnected 0 controller(s)\n`,
      stderr: "",
      code: 0,
    });
    expect(fs.existsSync(ctrl)).toBe(false);
    expect(fs.existsSync(path.join(dir, "sys/class/nvme-subsystem/nvme-subsys0"))).toBe(false);
  });

  it("connect -o json prints the device object", async () => {
    expect((await nvme(...connectArgs("-o", "json"))).stdout).toBe('{\n  "device":"nvme0"\n}\n');
  });

  it("a second host NQN shows up as a second host object", async () => {
    expect((await nvme(...connectArgs())).code).toBe(0);
    expect(
      (
        await nvme(
          ...connectArgs(
            "-q",
            "nqn.2014-08.org.nvmexpress:uuid:99999999-2222-3333-4444-555555555555",
          ),
        )
      ).stdout,
    ).toBe("device: nvme1\n");
    const hosts = JSON.parse((await nvme("list-subsys", "-o", "json")).stdout) as {
      HostNQN: string;
      HostID: string;
    }[];
    expect(hosts.map((h) => [h.HostNQN.slice(-36, -28), h.HostID.slice(0, 8)])).toEqual([
      ["11111111", "11111111"],
      ["99999999", "99999999"],
    ]);
  });

  it("connect failures: refused port, unknown subsystem, host not allowed, bad arguments", async () => {
    const closed = await nvme("connect", "-t", "tcp", "-a", "127.0.0.1", "-s", "1", "-n", NQN);
    expect(closed).toEqual({
      stdout: "",
      stderr: "could not add new controller: connection refused\n",
      code: 1,
    });
    const unknown = await nvme(
      ...nvmeConnectArgs(target.exportPort, "nqn.2000-02.com.mikrotik:nope"),
    );
    expect(unknown).toEqual({
      stdout: "",
      stderr: "could not add new controller: failed to write to nvme-fabrics device\n",
      code: 1,
    });
    await target.interpreter.run(
      "/disk set [find slot=pvc-cli-unit] nvme-tcp-server-allow-host-name=nqn.2014-08.org.nvmexpress:uuid:someone-else",
    );
    expect((await nvme(...connectArgs())).stderr).toBe(
      "could not add new controller: failed to write to nvme-fabrics device\n",
    );
    expect(await nvme("connect", "-t", "tcp", "-a", "127.0.0.1")).toMatchObject({
      code: 1,
      stderr: "need a -n argument\n",
    });
    expect((await nvme(...connectArgs("-l", "soon"))).stderr).toBe(
      "could not add new controller: invalid arguments/configuration\n",
    );
    expect((await nvme(...connectArgs("--bogus"))).code).toBe(1);
    expect(await nvme("list-subsys", "-o", "json")).toMatchObject({ stdout: "[\n]\n" });
  });

  it("disconnect -d: a known controller goes; an unknown one is reported and exits 0 (2.3)", async () => {
    expect((await nvme(...connectArgs())).code).toBe(0);
    expect(await nvme("disconnect", "-d", "nvme7")).toEqual({
      stdout: "",
      stderr: "Did not find device nvme7\n",
      code: 0,
    });
    expect(await nvme("disconnect", "-d", "/dev/nvme0")).toEqual({
      stdout: "",
      stderr: "",
      code: 0,
    });
    expect(fs.existsSync(path.join(dir, "sys/class/nvme/nvme0"))).toBe(false);
  });

  it("a connecting controller: address without src_addr, State connecting", async () => {
    expect((await nvme(...connectArgs("-l", "-1", "-c", "1"))).code).toBe(0);
    await target.down();
    await host.agent.settle();
    const deadline = Date.now() + 10_000;
    let ls = "";
    while (Date.now() < deadline) {
      ls = (await nvme("list-subsys", "-o", "json")).stdout;
      if (ls.includes('"connecting"')) break;
    }
    expect(ls).toContain(`"Address":"traddr=127.0.0.1,trsvcid=${String(target.exportPort)}"`);
    expect(fs.readFileSync(path.join(dir, "sys/class/nvme/nvme0/ctrl_loss_tmo"), "utf8")).toBe(
      "off\n",
    );
    await target.up();
  });

  it("unknown sub-commands fail; version names nvme-cli 2.3", async () => {
    expect((await nvme("frobnicate")).code).toBe(1);
    expect((await nvme("version")).stdout).toBe(
      "nvme version 2.3 (git 2.3)\nlibnvme version 1.3 (git 1.3)\n",
    );
  });

  it("without a running agent the stand-in fails like nvme-cli without modules", async () => {
    await host.close();
    expect(await nvme("list-subsys", "-o", "json")).toEqual({
      stdout: "",
      stderr: "Failed to scan topology: No such file or directory\n",
      code: 1,
    });
    host = await startHost({
      stateDir: path.join(dir, "h"),
      sysfsRoot: path.join(dir, "sys"),
      devRoot: path.join(dir, "dev"),
    });
  });
});
