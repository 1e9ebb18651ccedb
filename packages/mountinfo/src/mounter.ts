// Host actions on filesystems: mount, bind, unmount with escalation, format (only what blkid
// positively reports as empty), probe, resize, stats and block device size. Every binary runs
// through runCommand with a timeout; every fact about mounts comes from mountinfo.
import { mkdir, open, statfs as fsStatfs, stat } from "node:fs/promises";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { type DeviceNumber, blockDeviceNumber, splitDevT } from "./devnum.js";
import {
  CommandError,
  CommandFailedError,
  FormatRefusedError,
  InvalidArgumentError,
  MountBusyError,
  type MountHolder,
  NotMountedError,
  UnsupportedFilesystemError,
  DeviceNotFoundError,
  errorText,
} from "./errors.js";
import { type RunResult, runCommand } from "./exec.js";
import { findHolders } from "./holders.js";
import { type MountEntry, type MountTable, readMountTable } from "./mountinfo.js";

export interface MounterBinaries {
  mount: string;
  umount: string;
  blkid: string;
  mkfsExt4: string;
  mkfsXfs: string;
  resize2fs: string;
  xfsGrowfs: string;
}

export interface MounterTimeouts {
  mount: number;
  umount: number;
  blkid: number;
  mkfs: number;
  resize: number;
}

export interface MounterOptions {
  binaries?: Partial<MounterBinaries>;
  timeouts?: Partial<MounterTimeouts>;
  /** where mountinfo and the process table are read (default /proc) */
  procRoot?: string;
  /** the REAL sysfs of the host, for block device sizes (default /sys) */
  sysfsRoot?: string;
}

export interface BindOptions {
  readonly?: boolean;
  /**
   * Mount options for the bind, e.g. ["nosuid", "nodev"] (a CSI capability's mount_flags). Each
   * is one option: no commas, whitespace, quotes or control characters (InvalidArgumentError).
   */
  mountOptions?: readonly string[];
}

export interface UnmountOptions {
  /** mount points that are ours (bind mounts we manage) and so do not block a lazy unmount */
  ownMounts?: readonly string[];
}

export interface UnmountResult {
  /** not_mounted: nothing to do (idempotent); normal; lazy: detached, released when unused */
  how: "not_mounted" | "normal" | "lazy";
}

export interface ProbeResult {
  /** filesystem type (TYPE) if blkid found a filesystem */
  type?: string;
  uuid?: string;
  label?: string;
  /** partition table type (PTTYPE) if the device carries one */
  ptType?: string;
  /** every KEY=VALUE blkid printed */
  raw: Record<string, string>;
}

export interface FsStats {
  totalBytes: number;
  availableBytes: number;
  usedBytes: number;
  totalInodes: number;
  freeInodes: number;
  usedInodes: number;
}

export interface FormatOptions {
  /** extra arguments put before the device, e.g. ["-m", "0"] for ext4 */
  extraArgs?: readonly string[];
}

const DEFAULT_BINARIES: MounterBinaries = {
  mount: "mount",
  umount: "umount",
  blkid: "blkid",
  mkfsExt4: "mkfs.ext4",
  mkfsXfs: "mkfs.xfs",
  resize2fs: "resize2fs",
  xfsGrowfs: "xfs_growfs",
};

const DEFAULT_TIMEOUTS: MounterTimeouts = {
  mount: 60_000,
  umount: 60_000,
  blkid: 15_000,
  mkfs: 300_000,
  resize: 300_000,
};

export const SUPPORTED_FILESYSTEMS = ["ext4", "xfs"] as const;

export class Mounter {
  readonly bin: MounterBinaries;
  readonly timeouts: MounterTimeouts;
  readonly procRoot: string;
  readonly sysfsRoot: string;

  constructor(options: MounterOptions = {}) {
    this.bin = { ...DEFAULT_BINARIES, ...options.binaries };
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.procRoot = options.procRoot ?? "/proc";
    this.sysfsRoot = options.sysfsRoot ?? "/sys";
  }

  /** This process's mount table, read once. */
  mountTable(): Promise<MountTable> {
    return readMountTable(this.procRoot);
  }

  /** From mountinfo (no findmnt). `p` is compared as an absolute, normalized path. */
  async isMountPoint(p: string): Promise<boolean> {
    return (await this.mountTable()).isMountPoint(absolute(p, "path"));
  }

  /** mount -t <fsType> [-o <options>] <source> <target>; creates the target directory. */
  async mount(
    source: string,
    target: string,
    fsType: string,
    options: readonly string[] = [],
  ): Promise<void> {
    absolute(source, "source");
    absolute(target, "target");
    if (!/^[a-z0-9._-]+$/i.test(fsType))
      throw new InvalidArgumentError(`bad filesystem type ${JSON.stringify(fsType)}`);
    checkOptions(options);
    await mkdir(target, { recursive: true });
    const argv = [this.bin.mount, "-t", fsType];
    if (options.length > 0) argv.push("-o", options.join(","));
    argv.push(source, target);
    await this.run(argv, this.timeouts.mount);
  }

  /**
   * Bind `source` onto `target`. A directory source gets a directory target; anything else (a
   * block device node for a raw block volume) gets a regular file created as the mount point.
   * Options and readonly: bind, then `mount -o remount,bind,<options>[,ro]` (a bind ignores
   * options on the first call; the remount is what applies them; "ro" goes last so it wins over
   * an "rw" among the options). If the remount fails the bind is undone, so a failed readonly
   * bind never leaves a writable one behind. Options are checked before anything is touched.
   */
  async bindMount(source: string, target: string, options: BindOptions = {}): Promise<void> {
    absolute(source, "source");
    absolute(target, "target");
    const remount = bindRemountArgv(this.bin.mount, target, options);
    const st = await stat(source);
    if (st.isDirectory()) {
      await mkdir(target, { recursive: true });
    } else {
      await mkdir(path.dirname(target), { recursive: true });
      await (await open(target, "a")).close();
    }
    await this.run([this.bin.mount, "--bind", source, target], this.timeouts.mount);
    if (remount) {
      try {
        await this.run(remount, this.timeouts.mount);
      } catch (e) {
        await this.run([this.bin.umount, target], this.timeouts.umount).catch(() => undefined);
        throw e;
      }
    }
  }

  /**
   * Unmount with escalation: normal umount; if that fails and the target is still mounted,
   * a lazy umount ONLY when nothing but our own mounts holds it; otherwise MountBusyError
   * naming the holders (other mounts of the filesystem, submounts, processes).
   */
  async unmount(target: string, options: UnmountOptions = {}): Promise<UnmountResult> {
    absolute(target, "target");
    const before = (await this.mountTable()).byMountPoint(target);
    if (!before) return { how: "not_mounted" };
    let firstError: unknown;
    try {
      await this.run([this.bin.umount, target], this.timeouts.umount);
      return { how: "normal" };
    } catch (e) {
      firstError = e;
    }
    const table = await this.mountTable();
    const entry = table.byMountPoint(target);
    if (!entry || entry.mountId !== before.mountId) return { how: "normal" }; // gone meanwhile
    const holders = await this.holders(entry, table, options.ownMounts);
    if (holders.length > 0) throw new MountBusyError(target, holders);
    try {
      await this.run([this.bin.umount, "-l", target], this.timeouts.umount);
    } catch (e) {
      throw new CommandError(
        `lazy unmount of ${target} failed after normal unmount failed (${errorText(firstError)}): ${errorText(e)}`,
        [this.bin.umount, "-l", target],
        "",
        "",
        { cause: e },
      );
    }
    return { how: "lazy" };
  }

  /** Holders of the mount at `entry` other than `ownMounts`. */
  async holders(
    entry: MountEntry,
    table: MountTable,
    ownMounts?: readonly string[],
  ): Promise<MountHolder[]> {
    let blockDevice: DeviceNumber | undefined;
    try {
      // a device node bound onto a file: the identity is the node's rdev
      const st = await stat(entry.mountPoint, { bigint: true });
      if (st.isBlockDevice()) blockDevice = splitDevT(st.rdev);
    } catch {
      // unreadable mount point: judge by the mount's own device
    }
    return findHolders({ entry, table, blockDevice, ownMounts, procRoot: this.procRoot });
  }

  /**
   * blkid low-level probe. undefined = blkid positively found nothing: exit 2 with nothing on
   * stderr, on a device that exists, is readable in size and is not empty. That extra care is
   * needed because blkid (util-linux 2.38) also exits 2, silently, for a path that does not
   * exist, and exits 2 with "error: ... Permission denied" for one it cannot open. Every other
   * outcome (exit 1: device not ready, 4 usage, 8 ambivalent, a timeout) throws.
   */
  async probe(device: string): Promise<ProbeResult | undefined> {
    absolute(device, "device");
    const size = await this.probeableSize(device);
    if (size === 0)
      throw new DeviceNotFoundError(device, "size is 0 (not ready, or a detached device)");
    const r = await this.run(
      [this.bin.blkid, "-p", "-o", "export", device],
      this.timeouts.blkid,
      [0, 2],
    );
    if (r.exitCode === 2) {
      if (r.stderr.trim() !== "") {
        throw new CommandFailedError(
          [this.bin.blkid, "-p", "-o", "export", device],
          2,
          r.stdout,
          r.stderr,
        );
      }
      return undefined;
    }
    const raw: Record<string, string> = {};
    for (const line of r.stdout.split("\n")) {
      const eq = line.indexOf("=");
      if (eq > 0) raw[line.slice(0, eq)] = line.slice(eq + 1);
    }
    return { type: raw.TYPE, uuid: raw.UUID, label: raw.LABEL, ptType: raw.PTTYPE, raw };
  }

  /** Size of a block device (sysfs) or regular file (an image); throws if it is neither. */
  private async probeableSize(device: string): Promise<number> {
    let st;
    try {
      st = await stat(device);
    } catch (e) {
      throw new DeviceNotFoundError(device, errorText(e));
    }
    if (st.isBlockDevice()) return this.blockDeviceSize(device);
    if (st.isFile()) return st.size;
    throw new DeviceNotFoundError(device, "neither a block device nor a regular file");
  }

  /**
   * mkfs, but ONLY after probe() says positively that nothing is on the device (blkid -p exit
   * 2, see above). A filesystem, a partition table, blkid exit 1 (often: device not ready yet
   * right after connect), a missing or zero-sized device, a timeout or any other doubt refuses
   * with FormatRefusedError — formatting over live data is the one mistake this layer must
   * never make (rds-routeros.md §10 pitfall 1).
   */
  async format(device: string, fsType: string, options: FormatOptions = {}): Promise<void> {
    absolute(device, "device");
    const mkfs = this.mkfsFor(fsType);
    let found: ProbeResult | undefined;
    try {
      found = await this.probe(device);
    } catch (e) {
      throw new FormatRefusedError(device, `blkid did not report an empty device: ${errorText(e)}`);
    }
    if (found) {
      const what =
        found.type ??
        (found.ptType ? `partition table ${found.ptType}` : JSON.stringify(found.raw));
      throw new FormatRefusedError(
        device,
        `it already contains ${what}`,
        found.type ?? found.ptType,
      );
    }
    // No -F/-f: mkfs's own signature checks stay on as a second line of defence.
    await this.run([mkfs, ...(options.extraArgs ?? []), device], this.timeouts.mkfs);
  }

  /**
   * Grow the mounted filesystem to the device: resize2fs <device> (ext*) or xfs_growfs
   * <mountPath>. NotMountedError if nothing is mounted at mountPath.
   */
  async resize(device: string, mountPath: string, fsType?: string): Promise<void> {
    absolute(device, "device");
    absolute(mountPath, "mountPath");
    // online resize only: both tools work on the mounted filesystem, xfs_growfs through its
    // mount point, resize2fs finds it through the device
    if (!(await this.mountTable()).isMountPoint(mountPath)) throw new NotMountedError(mountPath);
    const type = fsType ?? (await this.probe(device))?.type;
    if (type === "ext4" || type === "ext3" || type === "ext2") {
      await this.run([this.bin.resize2fs, device], this.timeouts.resize);
    } else if (type === "xfs") {
      await this.run([this.bin.xfsGrowfs, mountPath], this.timeouts.resize);
    } else {
      throw new UnsupportedFilesystemError(type ?? "none");
    }
  }

  /** Capacity and inode counts via statfs(2) (no df). */
  async statfs(p: string): Promise<FsStats> {
    const s = await fsStatfs(absolute(p, "path"), { bigint: true });
    const num = (b: bigint) => Number(b);
    return {
      totalBytes: num(s.blocks * s.bsize),
      availableBytes: num(s.bavail * s.bsize),
      usedBytes: num((s.blocks - s.bfree) * s.bsize),
      totalInodes: num(s.files),
      freeInodes: num(s.ffree),
      usedInodes: num(s.files - s.ffree),
    };
  }

  /**
   * Size in bytes of the block device at `devPath`. Read from sysfs
   * (`<sysfsRoot>/dev/block/<maj>:<min>/size`, 512-byte sectors) rather than `blockdev
   * --getsize64`: no process to spawn or time out, it works for any node name (a dev root
   * node named nvme0n1 that is really loop3), and the kernel updates it on a capacity change.
   */
  async blockDeviceSize(devPath: string): Promise<number> {
    const dev = await blockDeviceNumber(absolute(devPath, "devPath"));
    if (!dev) throw new DeviceNotFoundError(devPath, "not a block device");
    const file = path.join(this.sysfsRoot, "dev", "block", `${dev.major}:${dev.minor}`, "size");
    let text: string;
    try {
      text = readFileSync(file, "latin1").trim();
    } catch (e) {
      throw new DeviceNotFoundError(devPath, `cannot read ${file}: ${errorText(e)}`);
    }
    if (!/^\d+$/.test(text))
      throw new DeviceNotFoundError(devPath, `unexpected size ${JSON.stringify(text)} in ${file}`);
    return Number(text) * 512;
  }

  private mkfsFor(fsType: string): string {
    if (fsType === "ext4") return this.bin.mkfsExt4;
    if (fsType === "xfs") return this.bin.mkfsXfs;
    throw new UnsupportedFilesystemError(fsType);
  }

  private run(argv: string[], timeoutMs: number, allowedExitCodes?: number[]): Promise<RunResult> {
    return runCommand(argv, { timeoutMs, allowedExitCodes });
  }
}

function absolute(p: string, what: string): string {
  // Absolute paths only: this also keeps a value starting with "-" from being read as a flag.
  if (typeof p !== "string" || !path.isAbsolute(p) || p.includes("\0")) {
    throw new InvalidArgumentError(`${what} must be an absolute path, got ${JSON.stringify(p)}`);
  }
  return path.resolve(p);
}

/**
 * Each option must be exactly one entry of mount's -o list: a comma would smuggle in more
 * options, whitespace, quotes (libmount's quoting) and control characters have no place in one.
 */
function checkOptions(options: readonly string[]): void {
  for (const o of options) {
    // eslint-disable-next-line no-control-regex
    if (typeof o !== "string" || o === "" || /[,"\s\x00-\x1f\x7f]/.test(o)) {
      throw new InvalidArgumentError(
        `bad mount option ${JSON.stringify(o)}: one option per entry, without commas, whitespace, quotes or control characters`,
      );
    }
  }
}

/**
 * The remount that applies a bind mount's options: `mount -o remount,bind,<options>[,ro] <target>`,
 * or undefined when there is nothing to apply (a plain read-write bind). Throws
 * InvalidArgumentError for a bad option.
 */
function bindRemountArgv(
  mountBin: string,
  target: string,
  options: BindOptions,
): string[] | undefined {
  const extra = options.mountOptions ?? [];
  checkOptions(extra);
  const list = options.readonly ? [...extra, "ro"] : [...extra];
  if (list.length === 0) return undefined;
  return [mountBin, "-o", ["remount", "bind", ...list].join(","), absolute(target, "target")];
}
