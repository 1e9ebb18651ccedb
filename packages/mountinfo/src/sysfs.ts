// NVMe sysfs model (ground truth: shared/reference/nvme-sysfs-and-cli.md §0 and §a).
//
// What the kernel shows, and what we take from it:
// - class/nvme-subsystem/nvme-subsys<S>: subsysnqn, iopolicy; children: controller links
//   nvme<C>, head disks nvme<S>n<H> (native multipath: the usable device), generic ng<S>n<H>.
// - class/nvme/nvme<C>: subsysnqn, state, transport, address, cntlid, hostnqn; children: plain
//   disks nvme<X>n<H> (no multipath head: the usable device) and hidden per-path disks
//   nvme<S>c<C>n<H> (no `dev`, no /dev node: never "the device").
// Names carry no meaning: which subsystem a disk belongs to comes from WHERE it sits and from
// `subsysnqn`, never from digits in its name. The name patterns only tell the three kinds of
// children of a directory apart (a `nvme*` glob returns all of them).
//
// Reads are synchronous on purpose: sysfs attributes are generated in memory by the kernel
// (we never read ones that do I/O to the device, such as `nuse`), and a full scan is hundreds
// of tiny files, where the async fs API costs ~10x more in thread-pool round trips.
import { closeSync, openSync, readSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { type DeviceNumber, formatDev, isNotFound, parseDev } from "./devnum.js";
import { SysfsFormatError } from "./errors.js";

export interface NvmeSubsystem {
  name: string;
  sysfsPath: string;
  subsysnqn: string;
  iopolicy?: string;
  /** names of the controller links inside the subsystem directory */
  controllerNames: string[];
  /** multipath head disks of this subsystem */
  namespaces: NvmeNamespace[];
}

export interface NvmeController {
  name: string;
  sysfsPath: string;
  subsysnqn: string;
  /** live, connecting, resetting, deleting, "deleting (no IO)", dead, new, ... */
  state: string;
  transport: string;
  /** raw `address` attribute, e.g. traddr=127.0.0.1,trsvcid=4420,src_addr=127.0.0.1 */
  addressRaw: string;
  /** `address` split into key=value pairs */
  address: Record<string, string>;
  cntlid?: number;
  hostnqn?: string;
  /** plain (non-multipath) namespace disks under this controller */
  namespaces: NvmeNamespace[];
  /** hidden per-path disks under this controller */
  paths: NvmePath[];
}

export interface NvmeNamespace extends DeviceNumber {
  name: string;
  /** head = multipath node under a subsystem; plain = disk under a controller */
  kind: "head" | "plain";
  sysfsPath: string;
  /** directory whose `subsysnqn` owns this disk (the subsystem for a head, else the controller) */
  ownerPath: string;
  subsysnqn: string;
  sizeBytes: number;
  nsid?: number;
  uuid?: string;
  wwid?: string;
}

export interface NvmePath {
  name: string;
  controller: string;
  sysfsPath: string;
  nsid?: number;
  anaState?: string;
}

const HEAD_OR_PLAIN = /^nvme\d+n\d+$/;
const PER_PATH = /^nvme\d+c\d+n\d+$/;
const CONTROLLER = /^nvme\d+$/;

// sysfs attributes are at most one page; one buffer serves every read (reads are synchronous).
const attrBuffer = Buffer.alloc(8192);

/** Read an attribute: trimmed, cut at the first NUL (tar dumps pad with NULs); undefined if absent. */
export function readAttr(dir: string, name: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path.join(dir, name), "r");
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
  try {
    // open + read + close: no fstat, which readFileSync would add to every tiny file
    const n = readSync(fd, attrBuffer, 0, attrBuffer.length, 0);
    const raw = attrBuffer.toString("latin1", 0, n);
    const nul = raw.indexOf("\0");
    return (nul === -1 ? raw : raw.slice(0, nul)).trim();
  } finally {
    closeSync(fd);
  }
}

/** Entries of a directory, or [] if it vanished (objects come and go while we scan). */
export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (e) {
    if (isNotFound(e)) return [];
    throw e;
  }
}

export function parseAddress(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of raw.split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

function optionalInt(v: string | undefined): number | undefined {
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/**
 * How much to read. "identity" reads only what identity and health need (subsysnqn, state,
 * dev, size, nsid): the stale checker's scan of every volume on every tick.
 */
export type SysfsDetail = "full" | "identity";

/** Read one controller directory; undefined if it is gone. */
export function readController(
  dir: string,
  name: string,
  entries: string[] = listDir(dir),
  detail: SysfsDetail = "full",
): NvmeController | undefined {
  if (entries.length === 0) return undefined;
  const attrs = new Set(entries);
  const get = (a: string) => (attrs.has(a) ? readAttr(dir, a) : undefined);
  const full = detail === "full";
  const addressRaw = (full ? get("address") : undefined) ?? "";
  return {
    name,
    sysfsPath: dir,
    subsysnqn: get("subsysnqn") ?? "",
    state: get("state") ?? "unknown state",
    transport: (full ? get("transport") : undefined) ?? "",
    addressRaw,
    address: parseAddress(addressRaw),
    cntlid: full ? optionalInt(get("cntlid")) : undefined,
    hostnqn: full ? get("hostnqn") : undefined,
    namespaces: [],
    paths: [],
  };
}

/**
 * Read one namespace disk directory. Returns undefined when it is not a usable device: gone,
 * hidden, or without a `dev` attribute (per-path disks have none).
 */
export function readNamespace(
  dir: string,
  name: string,
  kind: "head" | "plain",
  ownerPath: string,
  subsysnqn: string,
  detail: SysfsDetail = "full",
): NvmeNamespace | undefined {
  const full = detail === "full";
  // "identity" skips the readdir: heads and plain disks always have these attributes
  const attrs = full ? new Set(listDir(dir)) : undefined;
  const get = (a: string) => (!attrs || attrs.has(a) ? readAttr(dir, a) : undefined);
  const devS = get("dev");
  // no number (a path), vanished meanwhile, or caught mid-write (empty): not usable now
  if (devS === undefined || devS === "") return undefined;
  if (full && get("hidden") === "1") return undefined;
  const dev = parseDev(devS, path.join(dir, "dev"));
  const sizeS = get("size");
  if (sizeS !== undefined && !/^\d+$/.test(sizeS))
    throw new SysfsFormatError(path.join(dir, "size"), sizeS);
  return {
    name,
    kind,
    sysfsPath: dir,
    ownerPath,
    subsysnqn,
    major: dev.major,
    minor: dev.minor,
    // `size` is always in 512-byte sectors, whatever the LBA size
    sizeBytes: sizeS === undefined ? 0 : Number(sizeS) * 512,
    nsid: optionalInt(get("nsid")),
    uuid: full ? get("uuid") : undefined,
    wwid: full ? get("wwid") : undefined,
  };
}

/** One consistent-enough snapshot of the NVMe objects under a sysfs root. */
export class NvmeSysfsModel {
  private byDev = new Map<string, NvmeNamespace>();

  constructor(
    readonly sysfsRoot: string,
    readonly subsystems: readonly NvmeSubsystem[],
    readonly controllers: readonly NvmeController[],
  ) {
    for (const ns of this.namespaces) this.byDev.set(formatDev(ns), ns);
  }

  /** Every usable namespace disk: multipath heads and plain disks. */
  get namespaces(): NvmeNamespace[] {
    return [
      ...this.subsystems.flatMap((s) => s.namespaces),
      ...this.controllers.flatMap((c) => c.namespaces),
    ];
  }

  namespaceByDevice(major: number, minor: number): NvmeNamespace | undefined {
    return this.byDev.get(`${major}:${minor}`);
  }

  subsystemsFor(nqn: string): NvmeSubsystem[] {
    return this.subsystems.filter((s) => s.subsysnqn === nqn);
  }

  controllersFor(nqn: string): NvmeController[] {
    return this.controllers.filter((c) => c.subsysnqn === nqn);
  }

  /** Usable namespaces of a subsystem NQN, lowest NSID first (then by name, for stability). */
  namespacesFor(nqn: string): NvmeNamespace[] {
    return [...this.byDev.values()]
      .filter((n) => n.subsysnqn === nqn)
      .sort((a, b) => (a.nsid ?? Infinity) - (b.nsid ?? Infinity) || a.name.localeCompare(b.name));
  }

  /** Listed (subsystem or controller present) but no usable namespace: the "orphan" state. */
  isOrphaned(nqn: string): boolean {
    const listed = this.subsystemsFor(nqn).length > 0 || this.controllersFor(nqn).length > 0;
    return listed && this.namespacesFor(nqn).length === 0;
  }
}

/** Scan `<sysfsRoot>/class/nvme` and `<sysfsRoot>/class/nvme-subsystem`. */
export function readNvmeSysfs(sysfsRoot: string, detail: SysfsDetail = "full"): NvmeSysfsModel {
  const ctrlClass = path.join(sysfsRoot, "class", "nvme");
  const subsysClass = path.join(sysfsRoot, "class", "nvme-subsystem");
  const full = detail === "full";

  const controllers: NvmeController[] = [];
  for (const name of listDir(ctrlClass)) {
    if (!CONTROLLER.test(name)) continue;
    const dir = path.join(ctrlClass, name);
    const entries = listDir(dir);
    const c = readController(dir, name, entries, detail);
    if (!c) continue;
    for (const child of entries) {
      if (PER_PATH.test(child)) {
        const pdir = path.join(dir, child);
        c.paths.push({
          name: child,
          controller: name,
          sysfsPath: pdir,
          nsid: full ? optionalInt(readAttr(pdir, "nsid")) : undefined,
          anaState: full ? readAttr(pdir, "ana_state") : undefined,
        });
      } else if (HEAD_OR_PLAIN.test(child)) {
        const ns = readNamespace(path.join(dir, child), child, "plain", dir, c.subsysnqn, detail);
        if (ns) c.namespaces.push(ns);
      }
    }
    controllers.push(c);
  }

  const subsystems: NvmeSubsystem[] = [];
  for (const name of listDir(subsysClass)) {
    const dir = path.join(subsysClass, name);
    const children = listDir(dir);
    if (children.length === 0) continue;
    const subsysnqn = readAttr(dir, "subsysnqn") ?? "";
    const s: NvmeSubsystem = {
      name,
      sysfsPath: dir,
      subsysnqn,
      iopolicy: full ? readAttr(dir, "iopolicy") : undefined,
      controllerNames: [],
      namespaces: [],
    };
    for (const child of children) {
      if (CONTROLLER.test(child)) s.controllerNames.push(child);
      else if (HEAD_OR_PLAIN.test(child)) {
        const ns = readNamespace(path.join(dir, child), child, "head", dir, subsysnqn, detail);
        if (ns) s.namespaces.push(ns);
      }
    }
    subsystems.push(s);
  }
  return new NvmeSysfsModel(sysfsRoot, subsystems, controllers);
}
