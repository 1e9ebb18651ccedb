// Privileged: real loop devices, mknod, mkfs and mount, inside the runner's private mount namespace.
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startSim, type Sim } from "./index.js";
import {
  loopDevNumber,
  loopsBacking,
  mountsWithDev,
  mustRun,
  nodeNumber,
  nvmeConnectArgs,
  readAttr,
  runProc,
  tempDir,
  unmountQuietly,
  waitFor,
} from "./test-support/helpers.js";

const NQN = "nqn.2000-02.com.mikrotik:pvc-int-1";

let dir: string;
let sim: Sim | undefined;
const mounts: string[] = [];

async function addDisk(s: Sim, size = "64M"): Promise<string> {
  const r = await s.target.interpreter.run(
    `/disk add type=file file-path=/storage-pool/csi/pvc-int-1.img file-size=${size} slot=pvc-int-1 nvme-tcp-export=yes nvme-tcp-server-port=4420 nvme-tcp-server-nqn=${NQN}`,
  );
  expect(r).toEqual({ output: "", exitCode: 0 });
  return path.join(s.poolDir, "storage-pool/csi/pvc-int-1.img");
}

function nvme(
  s: Sim,
  ...args: string[]
): Promise<{ stdout: string; stderr: string; code: number }> {
  return runProc(s.nvmeCliPath, args);
}

function connectArgs(s: Sim, lossTmo: number): string[] {
  return nvmeConnectArgs(s.exportPort, NQN, "-l", String(lossTmo), "-c", "1");
}

/** The visible disk for NQN: class/block entry without a `c` path name whose subsystem matches. */
function visibleDisk(s: Sim): string | undefined {
  const dirBlock = path.join(s.sysfsRoot, "class/block");
  for (const name of fs.readdirSync(dirBlock)) {
    if (!/^nvme\d+n\d+$/.test(name)) continue;
    const real = fs.realpathSync(path.join(dirBlock, name));
    const subsysnqn = readAttr(path.dirname(real), "subsysnqn");
    if (subsysnqn?.trim() === NQN) return name;
  }
  return undefined;
}

async function mountAt(dev: string): Promise<string> {
  const mp = path.join(dir, `mnt-${String(mounts.length)}`);
  fs.mkdirSync(mp);
  await mustRun("mount", ["-t", "ext4", dev, mp]);
  mounts.push(mp);
  return mp;
}

beforeEach(async () => {
  dir = tempDir();
  sim = await startSim({ stateDir: path.join(dir, "state") });
});

afterEach(async () => {
  for (const mp of mounts.splice(0).reverse()) await unmountQuietly(mp);
  await sim?.down();
  sim = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("sim-nvme on real loop devices", () => {
  it("connect publishes the device with the loop's numbers; rename moves it to a new name and number, data intact", async () => {
    const s = sim!;
    const file = await addDisk(s);
    const c = await nvme(s, ...connectArgs(s, 30));
    expect(c).toMatchObject({ code: 0, stdout: "device: nvme0\n" });

    // Kernel shape: controller, subsystem, multipath head + hidden path.
    expect(readAttr(s.sysfsRoot, "class/nvme/nvme0/subsysnqn")).toBe(`${NQN}\n`);
    expect(readAttr(s.sysfsRoot, "class/nvme/nvme0/state")).toBe("live\n");
    expect(readAttr(s.sysfsRoot, "class/nvme/nvme0/address")).toBe(
      `traddr=127.0.0.1,trsvcid=${String(s.exportPort)},src_addr=127.0.0.1\n`,
    );
    expect(fs.readlinkSync(path.join(s.sysfsRoot, "class/nvme/nvme0"))).toBe(
      "../../devices/virtual/nvme-fabrics/ctl/nvme0",
    );
    expect(fs.readlinkSync(path.join(s.sysfsRoot, "class/block/nvme0n1"))).toBe(
      "../../devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1",
    );
    expect(fs.readlinkSync(path.join(s.sysfsRoot, "block/nvme0n1"))).toBe(
      "../devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1",
    );
    expect(readAttr(s.sysfsRoot, "class/block/nvme0c0n1/hidden")).toBe("1\n");
    expect(fs.readlinkSync(path.join(s.sysfsRoot, "class/block/nvme0c0n1"))).toBe(
      "../../devices/virtual/nvme-fabrics/ctl/nvme0/nvme0c0n1",
    );
    expect(fs.readlinkSync(path.join(s.sysfsRoot, "class/block/nvme0n1/multipath/nvme0c0n1"))).toBe(
      "../../../../nvme-fabrics/ctl/nvme0/nvme0c0n1",
    );
    expect(fs.readlinkSync(path.join(s.sysfsRoot, "class/block/nvme0n1/device"))).toBe(
      "../../nvme-subsys0",
    );
    expect(readAttr(s.sysfsRoot, "class/block/nvme0n1/hidden")).toBe("0\n");
    expect(readAttr(s.sysfsRoot, "class/block/nvme0n1/nsid")).toBe("1\n");
    expect(readAttr(s.sysfsRoot, "class/block/nvme0c0n1/dev")).toBeUndefined();
    expect(readAttr(s.sysfsRoot, "class/block/nvme0n1/size")).toBe(
      `${String((64 * 1024 * 1024) / 512)}\n`,
    );

    const loops = loopsBacking(file);
    expect(loops).toHaveLength(1);
    const num = loopDevNumber(loops[0]);
    expect(readAttr(s.sysfsRoot, "class/block/nvme0n1/dev")).toBe(`${num}\n`);
    expect(fs.readlinkSync(path.join(s.sysfsRoot, `dev/block/${num}`))).toBe(
      "../../devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1",
    );
    const node = path.join(s.devRoot, "nvme0n1");
    expect(nodeNumber(node)).toBe(num);

    await mustRun("mkfs.ext4", ["-q", "-F", node]);
    const mp = await mountAt(node);
    expect(mountsWithDev(num)).toContain(mp);
    fs.writeFileSync(path.join(mp, "hello.txt"), "written before the rename\n");
    await mustRun("sync", ["-f", path.join(mp, "hello.txt")]);

    const renamed = await s.faults.rename(NQN);
    expect(renamed).toEqual(["nvme0n2"]);
    // Old device gone from sysfs and /dev; the new one has a new name and a new number.
    expect(fs.existsSync(path.join(s.sysfsRoot, "class/block/nvme0n1"))).toBe(false);
    expect(fs.existsSync(path.join(s.sysfsRoot, "class/nvme/nvme0"))).toBe(false);
    expect(fs.existsSync(node)).toBe(false);
    expect(visibleDisk(s)).toBe("nvme0n2");
    const newNode = path.join(s.devRoot, "nvme0n2");
    const newNum = readAttr(s.sysfsRoot, "class/block/nvme0n2/dev")?.trim();
    expect(newNum).toBeDefined();
    expect(newNum).not.toBe(num);
    expect(nodeNumber(newNode)).toBe(newNum);
    // The subsystem kept its number (pinned by the old head); the new controller did not reuse 0.
    expect(readAttr(s.sysfsRoot, "class/nvme/nvme1/subsysnqn")).toBe(`${NQN}\n`);
    // The stale mount still shows the old number.
    expect(mountsWithDev(num)).toContain(mp);

    await unmountQuietly(mp);
    const mp2 = await mountAt(newNode);
    expect(fs.readFileSync(path.join(mp2, "hello.txt"), "utf8")).toBe(
      "written before the rename\n",
    );
    expect(mountsWithDev(newNum!)).toContain(mp2);

    const list = JSON.parse((await nvme(s, "list", "-o", "json")).stdout) as {
      Devices: { DevicePath: string }[];
    };
    expect(list.Devices.map((d) => d.DevicePath)).toEqual([newNode]);
  });

  it("target down shorter than ctrl_loss_tmo: connecting, then live again with the same name", async () => {
    const s = sim!;
    await addDisk(s);
    expect((await nvme(s, ...connectArgs(s, 30))).code).toBe(0);
    const num = readAttr(s.sysfsRoot, "class/block/nvme0n1/dev");
    await s.faults.targetDown();
    await waitFor(
      "connecting",
      () => readAttr(s.sysfsRoot, "class/nvme/nvme0/state") === "connecting\n",
    );
    expect(readAttr(s.sysfsRoot, "class/nvme/nvme0/address")).toBe(
      `traddr=127.0.0.1,trsvcid=${String(s.exportPort)}\n`,
    );
    // A duplicate connect to a connecting controller is refused, as the kernel does.
    expect(await nvme(s, ...connectArgs(s, 30))).toMatchObject({
      code: 1,
      stderr: "already connected\n",
    });
    await s.faults.targetUp();
    await waitFor("live again", () => readAttr(s.sysfsRoot, "class/nvme/nvme0/state") === "live\n");
    expect(visibleDisk(s)).toBe("nvme0n1");
    expect(readAttr(s.sysfsRoot, "class/block/nvme0n1/dev")).toBe(num);
    expect(fs.existsSync(path.join(s.devRoot, "nvme0n1"))).toBe(true);
  });

  it("target down longer than ctrl_loss_tmo: deleted; a later connect gets new names while the old device is pinned", async () => {
    const s = sim!;
    const file = await addDisk(s);
    expect((await nvme(s, ...connectArgs(s, 2))).code).toBe(0);
    const node = path.join(s.devRoot, "nvme0n1");
    await mustRun("mkfs.ext4", ["-q", "-F", node]);
    const mp = await mountAt(node);
    const oldNum = nodeNumber(node);

    await s.faults.targetDown();
    await waitFor(
      "connecting",
      () => readAttr(s.sysfsRoot, "class/nvme/nvme0/state") === "connecting\n",
    );
    await waitFor(
      "deleted",
      () => !fs.existsSync(path.join(s.sysfsRoot, "class/nvme/nvme0")),
      60_000,
    );
    expect(fs.existsSync(path.join(s.sysfsRoot, "class/block/nvme0n1"))).toBe(false);
    expect(fs.existsSync(node)).toBe(false);
    // The mount still pins the old head, so the subsystem stays, controller-less.
    expect(readAttr(s.sysfsRoot, "class/nvme-subsystem/nvme-subsys0/subsysnqn")).toBe(`${NQN}\n`);
    const subsys = JSON.parse((await nvme(s, "list-subsys", "-o", "json")).stdout) as {
      Subsystems: { Name: string; Paths: unknown[] }[];
    }[];
    expect(subsys[0]?.Subsystems).toEqual([{ Name: "nvme-subsys0", NQN, Paths: [] }]);

    await s.faults.targetUp();
    expect(await nvme(s, ...connectArgs(s, 2))).toMatchObject({
      code: 0,
      stdout: "device: nvme1\n",
    });
    expect(visibleDisk(s)).toBe("nvme0n2");
    expect(nodeNumber(path.join(s.devRoot, "nvme0n2"))).not.toBe(oldNum);

    // Once the stale mount goes, the old loop device goes with it (autoclear).
    await unmountQuietly(mp);
    await waitFor("old loop released", () => loopsBacking(file).length === 1);
    // Nothing pins anything after a disconnect: the lowest numbers are free again.
    expect((await nvme(s, "disconnect", "-n", NQN)).stdout).toBe(
      `NQN:${NQN} disconnected 1 controller(s)\n`,
    );
    expect((await nvme(s, "list-subsys", "-o", "json")).stdout).toBe("[\n]\n");
    expect(await nvme(s, ...connectArgs(s, 2))).toMatchObject({
      code: 0,
      stdout: "device: nvme0\n",
    });
    expect(visibleDisk(s)).toBe("nvme0n1");
  });

  it("non-multipath layout puts nvme<C>n<H> under the controller", async () => {
    await sim?.down();
    sim = await startSim({ stateDir: path.join(dir, "state-plain"), multipath: false });
    const s = sim;
    await addDisk(s);
    expect((await nvme(s, ...connectArgs(s, 30))).code).toBe(0);
    expect(fs.readlinkSync(path.join(s.sysfsRoot, "class/block/nvme0n1"))).toBe(
      "../../devices/virtual/nvme-fabrics/ctl/nvme0/nvme0n1",
    );
    expect(fs.existsSync(path.join(s.sysfsRoot, "class/block/nvme0c0n1"))).toBe(false);
    await s.faults.rename(NQN);
    // Without a head the old controller object is pinned too: new controller and disk names.
    expect(visibleDisk(s)).toBe("nvme1n2");
  });

  it("resize grows the backing file, the loop device and the sysfs size", async () => {
    const s = sim!;
    const file = await addDisk(s);
    expect((await nvme(s, ...connectArgs(s, 30))).code).toBe(0);
    await s.faults.resize("pvc-int-1", 128 * 1024 * 1024);
    expect(fs.statSync(file).size).toBe(128 * 1024 * 1024);
    expect(readAttr(s.sysfsRoot, "class/block/nvme0n1/size")).toBe(
      `${String((128 * 1024 * 1024) / 512)}\n`,
    );
    const loop = loopsBacking(file)[0];
    expect((await mustRun("blockdev", ["--getsize64", loop])).trim()).toBe(
      String(128 * 1024 * 1024),
    );
  });

  it("orphan keeps the subsystem listed without a namespace; drop removes the controller", async () => {
    const s = sim!;
    const file = await addDisk(s);
    expect((await nvme(s, ...connectArgs(s, 30))).code).toBe(0);
    await s.faults.orphan(NQN);
    expect(visibleDisk(s)).toBeUndefined();
    expect(readAttr(s.sysfsRoot, "class/nvme/nvme0/state")).toBe("live\n");
    expect((await nvme(s, "list-subsys", "-o", "json")).stdout).toContain(NQN);
    expect(JSON.parse((await nvme(s, "list", "-o", "json")).stdout)).toEqual({ Devices: [] });
    expect(loopsBacking(file)).toEqual([]);
    await s.faults.drop(NQN);
    expect(fs.existsSync(path.join(s.sysfsRoot, "class/nvme/nvme0"))).toBe(false);
    expect((await nvme(s, "list-subsys", "-o", "json")).stdout).toBe("[\n]\n");
  });

  it("a loop device detached behind the agent's back: drop leaves whoever took its number alone", async () => {
    const s = sim!;
    const file = await addDisk(s);
    expect((await nvme(s, ...connectArgs(s, 30))).code).toBe(0);
    const [loop] = loopsBacking(file);
    expect(loop).toMatch(/^\/dev\/loop\d+$/);
    await mustRun("losetup", ["--detach", loop]); // not mounted: gone at once
    const decoy = path.join(dir, "decoy.img");
    fs.writeFileSync(decoy, "");
    fs.truncateSync(decoy, 8 * 1024 * 1024);
    await mustRun("losetup", [loop, decoy]); // another user of the machine takes that number
    try {
      await s.faults.drop(NQN);
      expect(loopsBacking(decoy)).toEqual([loop]);
    } finally {
      if (loopsBacking(decoy).includes(loop)) await mustRun("losetup", ["--detach", loop]);
    }
  });

  it("a loop device detached behind the agent's back and attached again to the same file is not the agent's to detach", async () => {
    const s = sim!;
    const file = await addDisk(s);
    expect((await nvme(s, ...connectArgs(s, 30))).code).toBe(0);
    const [loop] = loopsBacking(file);
    expect(loop).toMatch(/^\/dev\/loop\d+$/);
    await mustRun("losetup", ["--detach", loop]);
    // the same number and the same file, but a new attachment (what the agent's own next
    // `losetup --find` for this volume usually gets, e.g. in a rename)
    await mustRun("losetup", [loop, file]);
    try {
      await s.faults.drop(NQN);
      expect(loopsBacking(file)).toEqual([loop]);
    } finally {
      if (loopsBacking(file).includes(loop)) await mustRun("losetup", ["--detach", loop]);
    }
  });

  it("slow-appear: connect succeeds at once, the namespace shows up later", async () => {
    const s = sim!;
    await addDisk(s);
    s.faults.slowAppear(4000);
    expect((await nvme(s, ...connectArgs(s, 30))).code).toBe(0);
    expect(readAttr(s.sysfsRoot, "class/nvme/nvme0/state")).toBe("live\n");
    expect(visibleDisk(s)).toBeUndefined();
    await waitFor("namespace", () => visibleDisk(s));
    expect(fs.existsSync(path.join(s.devRoot, "nvme0n1"))).toBe(true);
  });
});
