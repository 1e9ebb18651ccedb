// Writes a sysfs tree shaped like the kernel's NVMe-oF objects (nvme-sysfs-and-cli.md §a):
// real directories under devices/virtual/{nvme-fabrics/ctl,nvme-subsystem}, relative symlinks
// under class/ and dev/block/. Attribute files end in "\n"; model/serial/firmware_rev are
// space-padded to their fixed widths; `size` counts 512-byte sectors.
import fs from "node:fs";
import path from "node:path";

export const CTL = "devices/virtual/nvme-fabrics/ctl";
export const SUBSYS = "devices/virtual/nvme-subsystem";
/** Char major shown in controllers' `dev` (no char node is created for them). */
const NVME_CHAR_MAJOR = 238;

export interface CtrlAttrs {
  instance: number;
  state: string;
  address: string;
  subsysnqn: string;
  cntlid: number;
  model: string;
  serial: string;
  firmware: string;
  hostnqn: string;
  hostid: string;
  ctrlLossTmo: number;
  reconnectDelay: number;
  kato: number;
  traddr: string;
  trsvcid: string;
}

export interface NsAttrs {
  /** Disk name: `nvme0n1` (head or plain) or `nvme0c1n1` (hidden path). */
  name: string;
  /** Real directory of the disk, relative to the sysfs root. */
  dir: string;
  /** Present for heads and plain disks; absent for hidden paths. */
  dev?: { major: number; minor: number };
  sizeBytes: number;
  hidden: boolean;
  nsid: number;
  uuid: string;
  diskseq: number;
  /** Relative target of the disk's `device` link. */
  deviceLink: string;
}

const pad = (s: string, n: number): string => s.slice(0, n).padEnd(n, " ");

export class SysfsTree {
  constructor(readonly root: string) {}

  private abs(rel: string): string {
    return path.join(this.root, rel);
  }

  private write(rel: string, content: string): void {
    const file = this.abs(rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, content);
    fs.renameSync(tmp, file);
  }

  /** Relative symlink `rel` -> `target` (target relative to the link's directory). */
  private link(rel: string, target: string): void {
    const file = this.abs(rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.rmSync(file, { force: true });
    fs.symlinkSync(target, file);
  }

  private relTo(fromRel: string, toRel: string): string {
    return path.relative(path.dirname(this.abs(fromRel)), this.abs(toRel));
  }

  private linkAbs(rel: string, toRel: string): void {
    this.link(rel, this.relTo(rel, toRel));
  }

  remove(rel: string): void {
    fs.rmSync(this.abs(rel), { recursive: true, force: true });
  }

  init(): void {
    fs.mkdirSync(this.abs(CTL), { recursive: true });
    fs.mkdirSync(this.abs(SUBSYS), { recursive: true });
    for (const d of ["class/nvme", "class/nvme-subsystem", "class/block", "block", "dev/block"])
      fs.mkdirSync(this.abs(d), { recursive: true });
    if (!fs.existsSync(this.abs("class/nvme-fabrics/ctl")))
      this.linkAbs("class/nvme-fabrics/ctl", CTL);
  }

  ctrlDir(instance: number): string {
    return `${CTL}/nvme${String(instance)}`;
  }

  subsysDir(instance: number): string {
    return `${SUBSYS}/nvme-subsys${String(instance)}`;
  }

  writeController(a: CtrlAttrs): void {
    const d = this.ctrlDir(a.instance);
    const name = `nvme${String(a.instance)}`;
    const lossTmo =
      a.ctrlLossTmo < 0
        ? "off"
        : String(Math.ceil(a.ctrlLossTmo / a.reconnectDelay) * a.reconnectDelay);
    const files: Record<string, string> = {
      transport: "tcp",
      state: a.state,
      address: a.address,
      subsysnqn: a.subsysnqn,
      cntlid: String(a.cntlid),
      model: pad(a.model, 40),
      serial: pad(a.serial, 20),
      firmware_rev: pad(a.firmware, 8),
      hostnqn: a.hostnqn,
      hostid: a.hostid,
      ctrl_loss_tmo: lossTmo,
      reconnect_delay: String(a.reconnectDelay),
      fast_io_fail_tmo: "off",
      kato: String(a.kato),
      queue_count: "3",
      sqsize: "127",
      numa_node: "-1",
      cntrltype: "io",
      dctype: "none",
      dev: `${String(NVME_CHAR_MAJOR)}:${String(a.instance)}`,
      uevent: [
        `MAJOR=${String(NVME_CHAR_MAJOR)}`,
        `MINOR=${String(a.instance)}`,
        `DEVNAME=${name}`,
        "NVME_TRTYPE=tcp",
        `NVME_TRADDR=${a.traddr}`,
        `NVME_TRSVCID=${a.trsvcid}`,
        "NVME_HOST_TRADDR=none",
        "NVME_HOST_IFACE=none",
      ].join("\n"),
    };
    for (const [k, v] of Object.entries(files)) this.write(`${d}/${k}`, `${v}\n`);
    if (!fs.existsSync(this.abs(`${d}/device`))) this.link(`${d}/device`, "../../ctl");
    this.linkAbs(`class/nvme/${name}`, d);
  }

  setControllerState(instance: number, state: string, address: string): void {
    const d = this.ctrlDir(instance);
    this.write(`${d}/state`, `${state}\n`);
    this.write(`${d}/address`, `${address}\n`);
  }

  removeController(instance: number): void {
    fs.rmSync(this.abs(`class/nvme/nvme${String(instance)}`), { force: true });
    this.remove(this.ctrlDir(instance));
  }

  writeSubsystem(
    instance: number,
    nqn: string,
    model: string,
    serial: string,
    firmware: string,
  ): void {
    const d = this.subsysDir(instance);
    const files: Record<string, string> = {
      subsysnqn: nqn,
      model: pad(model, 40),
      serial: pad(serial, 20),
      firmware_rev: pad(firmware, 8),
      subsystype: "nvm",
      iopolicy: "numa",
      uevent: "",
    };
    for (const [k, v] of Object.entries(files)) this.write(`${d}/${k}`, `${v}\n`);
    this.linkAbs(`class/nvme-subsystem/nvme-subsys${String(instance)}`, d);
  }

  linkSubsystemController(subsys: number, ctrl: number): void {
    this.linkAbs(`${this.subsysDir(subsys)}/nvme${String(ctrl)}`, this.ctrlDir(ctrl));
  }

  unlinkSubsystemController(subsys: number, ctrl: number): void {
    fs.rmSync(this.abs(`${this.subsysDir(subsys)}/nvme${String(ctrl)}`), { force: true });
  }

  removeSubsystem(instance: number): void {
    fs.rmSync(this.abs(`class/nvme-subsystem/nvme-subsys${String(instance)}`), { force: true });
    this.remove(this.subsysDir(instance));
  }

  /** Writes a disk directory; the class/dev links are added by publishDisk. */
  writeDisk(a: NsAttrs): void {
    const d = a.dir;
    const sectors = String(Math.floor(a.sizeBytes / 512));
    const uevent = a.dev
      ? [
          `MAJOR=${String(a.dev.major)}`,
          `MINOR=${String(a.dev.minor)}`,
          `DEVNAME=${a.name}`,
          "DEVTYPE=disk",
          `DISKSEQ=${String(a.diskseq)}`,
        ]
      : ["DEVTYPE=disk", `DISKSEQ=${String(a.diskseq)}`];
    const files: Record<string, string> = {
      size: sectors,
      ro: "0",
      removable: "0",
      hidden: a.hidden ? "1" : "0",
      nsid: String(a.nsid),
      wwid: `uuid.${a.uuid}`,
      uuid: a.uuid,
      csi: "0",
      diskseq: String(a.diskseq),
      capability: "0",
      uevent: uevent.join("\n"),
      "queue/logical_block_size": "512",
      "queue/physical_block_size": "512",
    };
    if (a.dev) files.dev = `${String(a.dev.major)}:${String(a.dev.minor)}`;
    for (const [k, v] of Object.entries(files)) this.write(`${d}/${k}`, `${v}\n`);
    fs.mkdirSync(this.abs(`${d}/holders`), { recursive: true });
    fs.mkdirSync(this.abs(`${d}/slaves`), { recursive: true });
    this.link(`${d}/device`, a.deviceLink);
  }

  setDiskSize(dir: string, sizeBytes: number): void {
    this.write(`${dir}/size`, `${String(Math.floor(sizeBytes / 512))}\n`);
  }

  /** Makes a disk visible: block/ and class/block links, and dev/block for disks with a device number. */
  publishDisk(a: NsAttrs): void {
    this.linkAbs(`block/${a.name}`, a.dir);
    this.linkAbs(`class/block/${a.name}`, a.dir);
    if (a.dev) this.linkAbs(`dev/block/${String(a.dev.major)}:${String(a.dev.minor)}`, a.dir);
  }

  /** Links a head's `multipath/<path>` entry to the path disk. */
  linkMultipath(headDir: string, pathName: string, pathDir: string): void {
    this.linkAbs(`${headDir}/multipath/${pathName}`, pathDir);
  }

  removeDisk(a: { name: string; dir: string; dev?: { major: number; minor: number } }): void {
    fs.rmSync(this.abs(`class/block/${a.name}`), { force: true });
    fs.rmSync(this.abs(`block/${a.name}`), { force: true });
    if (a.dev) {
      const link = this.abs(`dev/block/${String(a.dev.major)}:${String(a.dev.minor)}`);
      // Only our link: the same numbers may since belong to a newer disk.
      try {
        if (path.resolve(path.dirname(link), fs.readlinkSync(link)) === this.abs(a.dir))
          fs.rmSync(link, { force: true });
      } catch {
        /* already gone */
      }
    }
    this.remove(a.dir);
  }

  /** Removes everything this tree publishes (used by `down`). */
  clear(): void {
    for (const d of [CTL, SUBSYS, "class/nvme", "class/nvme-subsystem", "class/nvme-fabrics"])
      this.remove(d);
    for (const d of ["class/block", "block", "dev/block"]) {
      const dir = this.abs(d);
      if (!fs.existsSync(dir)) continue;
      for (const ent of fs.readdirSync(dir)) {
        const p = path.join(dir, ent);
        try {
          const target = fs.readlinkSync(p);
          if (target.includes("nvme-fabrics") || target.includes("nvme-subsystem"))
            fs.rmSync(p, { force: true });
        } catch {
          /* not a link */
        }
      }
    }
  }
}
