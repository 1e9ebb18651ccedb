// The simulated RDS through a real ssh2 client: every command, its errors, the wrapped output
// shapes, and hostile input rejected without effect.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTarget, type Target } from "../index.js";
import { sshConnect, sshExec, tempDir } from "../test-support/helpers.js";

let dir: string;
let target: Target;
let client: Awaited<ReturnType<typeof sshConnect>>;

const NQN = "nqn.2000-02.com.mikrotik:pvc-unit-1";
const ADD = `/disk add type=file file-path=/storage-pool/csi/pvc-unit-1.img file-size=10G slot=pvc-unit-1 nvme-tcp-export=yes nvme-tcp-server-port=4420 nvme-tcp-server-nqn=${NQN}`;

const run = (cmd: string): Promise<{ stdout: string; code: number }> => sshExec(client, cmd);
const tableSnapshot = (): string => JSON.stringify(target.store.list());
const poolFiles = (): string[] => target.store.files().map((f) => f.name);

beforeAll(async () => {
  dir = tempDir();
  target = await startTarget({ stateDir: dir, exportPort: 0, capacityBytes: 100 * 1024 ** 3 });
  client = await sshConnect(target.ssh);
});

afterAll(async () => {
  client.end();
  await target.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("RouterOS CLI over SSH", () => {
  it("refuses a client whose key is not authorized", async () => {
    const other = tempDir();
    try {
      const { ensureKeyPair } = await import("../keys.js");
      const k = ensureKeyPair(other, "stranger", "x");
      await expect(sshConnect({ ...target.ssh, privateKeyPath: k.privateKeyPath })).rejects.toThrow(
        /authentication/i,
      );
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it("/disk add creates a sparse file-backed disk and prints nothing", async () => {
    expect(await run(ADD)).toMatchObject({ stdout: "", code: 0 });
    const file = path.join(target.store.poolDir, "storage-pool/csi/pvc-unit-1.img");
    const st = fs.statSync(file);
    expect(st.size).toBe(10 * 1024 ** 3);
    expect(st.blocks * 512).toBeLessThan(1024 * 1024); // sparse
  });

  it("/disk print detail where slot=… prints the wrapped real shape", async () => {
    const r = await run("/disk print detail where slot=pvc-unit-1");
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\r\n");
    expect(lines[0]).toMatch(/^Flags: /);
    expect(lines[1]).toBe(' 2   type=file slot="pvc-unit-1" slot-default="" parent="" fs=-');
    for (const l of lines.slice(2).filter((x) => x !== ""))
      expect(l.startsWith("     ")).toBe(true);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
    const joined = r.stdout.replace(/\r\n\s+/g, " ");
    expect(joined).toContain("size=10 737 418 240 ");
    expect(joined).toContain(`nvme-tcp-server-nqn="${NQN}"`);
    expect(joined).toContain("file-path=/storage-pool/csi/pvc-unit-1.img");
    expect(joined).toContain("file-size=10.0GiB");
    expect(joined).toContain("nvme-tcp-export=yes nvme-tcp-server-port=4420");
    expect(joined).not.toContain("status=");
    expect(r.stdout.endsWith("\r\n\r\n")).toBe(true);
  });

  it('where slot~"…" lists matching disks; an unknown slot prints only the header', async () => {
    expect((await run('/disk print detail where slot~"pvc"')).stdout).toContain(
      'slot="pvc-unit-1"',
    );
    const none = await run("/disk print detail where slot=pvc-nope");
    expect(none).toMatchObject({ code: 0 });
    expect(none.stdout.split("\r\n").filter((l) => l && !l.startsWith("Flags:"))).toEqual([]);
  });

  it("where mount-point=… reports the pool's size and free space", async () => {
    const r = await run('/disk print detail where mount-point="storage-pool"');
    const joined = r.stdout.replace(/\r\n\s+/g, " ");
    expect(joined).toContain("type=partition");
    expect(joined).toContain("size=107 374 182 400");
    expect(joined).toContain(
      `free=${(100 * 1024 ** 3 - 10 * 1024 ** 3).toString().replace(/\B(?=(\d{3})+(?!\d))/g, " ")}`,
    );
  });

  it("/disk set grows the file; an unknown slot is `failure: no such item`", async () => {
    expect(await run("/disk set [find slot=pvc-unit-1] file-size=12G")).toMatchObject({
      stdout: "",
      code: 0,
    });
    expect(target.store.bySlot("pvc-unit-1")?.fileSize).toBe(12 * 1024 ** 3);
    expect(await run("/disk set [find slot=pvc-nope] file-size=12G")).toMatchObject({
      stdout: "failure: no such item\r\n",
      code: 1,
    });
    expect((await run("/disk set [find slot=pvc-unit-1] file-size=1G")).code).toBe(1);
    expect(
      await run(
        `/disk set [find slot=pvc-unit-1] nvme-tcp-server-allow-host-name=nqn.2014-08.org.nvmexpress:uuid:abc`,
      ),
    ).toMatchObject({ code: 0 });
    expect(target.store.bySlot("pvc-unit-1")?.allowHostName).toBe(
      "nqn.2014-08.org.nvmexpress:uuid:abc",
    );
    expect(
      await run(`/disk set [find slot=pvc-unit-1] nvme-tcp-server-allow-host-name=""`),
    ).toMatchObject({ code: 0 });
  });

  it("not enough space is reported as such and creates nothing", async () => {
    const before = poolFiles();
    const r = await run(
      "/disk add type=file file-path=/storage-pool/csi/big.img file-size=200G slot=pvc-big nvme-tcp-export=yes nvme-tcp-server-nqn=nqn.2000-02.com.mikrotik:pvc-big",
    );
    expect(r).toEqual({ stdout: "failure: not enough space\r\n", stderr: "", code: 1 });
    expect(poolFiles()).toEqual(before);
  });

  it("copy-from makes a snapshot disk; /file print and /file remove see its file", async () => {
    expect(
      await run(
        "/disk add type=file copy-from=[find slot=pvc-unit-1] file-path=/storage-pool/csi/snap-unit-1.img slot=snap-unit-1",
      ),
    ).toMatchObject({ stdout: "", code: 0 });
    const snap = target.store.bySlot("snap-unit-1");
    expect(snap).toMatchObject({ fileSize: 12 * 1024 ** 3, nvmeTcpExport: false });
    const files = await run('/file print detail where name~"storage-pool/csi"');
    expect(files.stdout).toContain(
      "name=storage-pool/csi/snap-unit-1.img type=.img file size=12.0GiB",
    );
    expect(files.stdout).toMatch(/^ \d+ {3}name=storage-pool\/csi type=directory/);
    // The file of a disk cannot go while the disk exists; after /disk remove it can.
    expect((await run('/file remove [find name="storage-pool/csi/snap-unit-1.img"]')).code).toBe(1);
    expect(await run("/disk remove [find slot=snap-unit-1]")).toMatchObject({
      stdout: "",
      code: 0,
    });
    expect(await run('/file remove [find name="storage-pool/csi/snap-unit-1.img"]')).toMatchObject({
      stdout: "",
      code: 0,
    });
    expect(poolFiles()).not.toContain("storage-pool/csi/snap-unit-1.img");
    expect(await run("/disk remove [find slot=snap-unit-1]")).toMatchObject({
      stdout: "failure: no such item\r\n",
      code: 1,
    });
    expect(await run('/file remove [find name="storage-pool/csi/snap-unit-1.img"]')).toMatchObject({
      stdout: "failure: no such item\r\n",
      code: 1,
    });
  });

  it("/system resource print answers with key: value lines", async () => {
    const r = await run("/system resource print");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ +uptime: /m);
    expect(r.stdout).toMatch(/^ +version: 7\.16/m);
    expect(r.stdout).toMatch(/^ +total-hdd-space: 100\.0GiB/m);
  });

  it("unknown commands and menus are `bad command name`", async () => {
    expect(await run("/disk frobnicate")).toMatchObject({
      stdout: "bad command name frobnicate (line 1 column 7)\r\n",
      code: 1,
    });
    expect(await run("/ip address print")).toMatchObject({
      stdout: "bad command name ip (line 1 column 2)\r\n",
      code: 1,
    });
    expect((await run("/disk add frob=1")).stdout).toMatch(/^expected end of command/);
  });

  it.each([
    [
      "semicolon ends the command",
      `/disk add type=file file-path=/storage-pool/x.img file-size=1G slot=pvc-x;/disk remove [find]`,
    ],
    [
      "newline starts another command",
      `/disk add type=file file-path=/storage-pool/x.img file-size=1G slot=pvc-x\n/disk remove [find]`,
    ],
    [
      "carriage return",
      `/disk add type=file file-path=/storage-pool/x.img file-size=1G slot=pvc-x\r`,
    ],
    [
      "variable substitution",
      `/disk add type=file file-path=/storage-pool/x.img file-size=1G slot=$slot`,
    ],
    [
      "variable inside quotes",
      `/disk add type=file file-path=/storage-pool/x.img file-size=1G slot="pvc-$x"`,
    ],
    [
      "nested command",
      `/disk add type=file file-path=/storage-pool/x.img file-size=1G slot=[/disk remove [find]]`,
    ],
    [
      "bracket in a value",
      `/disk add type=file file-path=/storage-pool/x[1].img file-size=1G slot=pvc-x`,
    ],
    [
      "unbalanced quote",
      `/disk add type=file file-path="/storage-pool/x.img file-size=1G slot=pvc-x`,
    ],
    [
      "quoted semicolon",
      `/disk add type=file file-path=/storage-pool/x.img file-size=1G slot="pvc-x;y"`,
    ],
    [
      "quoted space",
      `/disk add type=file file-path="/storage-pool/x y.img" file-size=1G slot=pvc-x`,
    ],
    [
      "escaped newline",
      `/disk add type=file file-path=/storage-pool/x.img file-size=1G slot="pvc\\nx"`,
    ],
    [
      "path traversal",
      `/disk add type=file file-path=/storage-pool/../../etc/x.img file-size=1G slot=pvc-x`,
    ],
    [
      "quote in an nqn",
      `/disk add type=file file-path=/storage-pool/x.img file-size=1G slot=pvc-x nvme-tcp-export=yes nvme-tcp-server-nqn="nqn.a\\"b"`,
    ],
    ["braces", `/disk remove {find}`],
    ["injected where", `/disk print detail where slot=pvc-unit-1;/disk remove [find]`],
    ["injected set", `/disk set [find slot=pvc-unit-1] file-size=20G;/disk remove [find]`],
  ])("hostile input is rejected without effect: %s", async (_what, cmd) => {
    const table = tableSnapshot();
    const files = poolFiles();
    const r = await run(cmd);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^(syntax error|invalid value|failure|expected end of command|bad command name)/,
    );
    expect(tableSnapshot()).toBe(table);
    expect(poolFiles()).toEqual(files);
  });

  it("an interactive shell answers line by line", async () => {
    const out = await new Promise<string>((resolve, reject) => {
      client.shell((err, ch) => {
        if (err) {
          reject(err);
          return;
        }
        let buf = "";
        ch.on("data", (d: Buffer) => (buf += d.toString("utf8")));
        ch.on("close", () => resolve(buf));
        ch.end("/disk print detail where slot=pvc-unit-1\r\n/quit\r\n");
      });
    });
    expect(out).toContain('slot="pvc-unit-1"');
  });

  it("the disk table survives a restart, with the same host key", async () => {
    const hostKey = target.ssh.hostPublicKey;
    client.end();
    await target.close();
    target = await startTarget({ stateDir: dir, exportPort: 0, capacityBytes: 100 * 1024 ** 3 });
    client = await sshConnect(target.ssh);
    expect(target.ssh.hostPublicKey).toBe(hostKey);
    expect((await run("/disk print detail where slot=pvc-unit-1")).stdout).toContain(
      `nvme-tcp-server-nqn="${NQN}"`,
    );
  });

  it("target down closes SSH; target up serves again on the same port", async () => {
    const port = target.ssh.port;
    await target.down();
    await expect(sshConnect(target.ssh)).rejects.toThrow();
    await target.up();
    expect(target.ssh.port).toBe(port);
    client = await sshConnect(target.ssh);
    expect((await run("/system resource print")).code).toBe(0);
  });
});
