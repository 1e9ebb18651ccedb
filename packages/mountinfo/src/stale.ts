// Is a staging mount still backed by the device its NQN resolves to? Compares device NUMBERS
// (mountinfo major:minor vs sysfs `dev`), never path strings: /dev/nvme0n1 can come back as a
// different device, and a vanished device's mount still shows its old source path.
import { stat } from "node:fs/promises";
import { type DeviceNumber, formatDev, sameDev, splitDevT } from "./devnum.js";
import { type MountTable, readMountTable } from "./mountinfo.js";
import { type NvmeSysfsModel, readNvmeSysfs } from "./sysfs.js";

export type StaleReason =
  "mount_not_found" | "device_disappeared" | "device_mismatch" | "controllers_down" | "ok";

export interface StaleVerdict {
  stagingPath: string;
  nqn: string;
  stale: boolean;
  reason: StaleReason;
  /** human-readable explanation for events and logs */
  detail: string;
  /** major:minor of what is mounted at the staging path */
  mountedDev?: DeviceNumber;
  /** major:minor the NQN resolves to now, per sysfs */
  currentDev?: DeviceNumber;
  /** the disk name the NQN resolves to now */
  currentName?: string;
  controllerStates: { name: string; state: string }[];
}

export interface StaleCheckItem {
  stagingPath: string;
  nqn: string;
  /**
   * Raw block volume: the staging path is a device node bound onto a file, so the mounted
   * device is the node's rdev (the mount's own major:minor is the filesystem holding the node).
   */
  block?: boolean;
}

export interface StaleCheckerOptions {
  procRoot?: string;
  sysfsRoot?: string;
}

export class StaleChecker {
  readonly procRoot: string;
  readonly sysfsRoot: string;

  constructor(options: StaleCheckerOptions = {}) {
    this.procRoot = options.procRoot ?? "/proc";
    this.sysfsRoot = options.sysfsRoot ?? "/sys";
  }

  async check(stagingPath: string, nqn: string, block = false): Promise<StaleVerdict> {
    const [v] = await this.checkMany([{ stagingPath, nqn, block }]);
    return v;
  }

  /** Many volumes with ONE mountinfo read and ONE sysfs scan (the health monitor's tick). */
  async checkMany(items: readonly StaleCheckItem[]): Promise<StaleVerdict[]> {
    if (items.length === 0) return [];
    const table = await readMountTable(this.procRoot);
    const model = readNvmeSysfs(this.sysfsRoot, "identity");
    return Promise.all(
      items.map(async (item) => verdictFor(table, model, item, await blockRdev(table, item))),
    );
  }
}

async function blockRdev(
  table: MountTable,
  item: StaleCheckItem,
): Promise<DeviceNumber | undefined> {
  if (!item.block || !table.isMountPoint(item.stagingPath)) return undefined;
  try {
    const st = await stat(item.stagingPath, { bigint: true });
    return st.isBlockDevice() ? splitDevT(st.rdev) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The decision, from facts already read. Order matters: first whether anything is mounted,
 * then whether the mounted device still exists AS THIS VOLUME (its number may have been reused
 * by another subsystem), then whether the NQN now points elsewhere, then controller health.
 */
export function verdictFor(
  table: MountTable,
  model: NvmeSysfsModel,
  item: StaleCheckItem,
  blockDev?: DeviceNumber,
): StaleVerdict {
  const { stagingPath, nqn } = item;
  const current = model.namespacesFor(nqn)[0];
  const currentDev = current ? { major: current.major, minor: current.minor } : undefined;
  const controllerStates = model.controllersFor(nqn).map((c) => ({ name: c.name, state: c.state }));
  const base = { stagingPath, nqn, currentDev, currentName: current?.name, controllerStates };

  const entry = table.byMountPoint(stagingPath);
  const mountedDev = item.block
    ? blockDev
    : entry
      ? { major: entry.major, minor: entry.minor }
      : undefined;
  if (!entry || !mountedDev) {
    return {
      ...base,
      stale: true,
      reason: "mount_not_found",
      detail: `nothing is mounted at ${stagingPath}`,
    };
  }
  const withMount = { ...base, mountedDev };

  const mountedNs = model.namespaceByDevice(mountedDev.major, mountedDev.minor);
  if (!mountedNs || mountedNs.subsysnqn !== nqn) {
    const gone = !mountedNs
      ? `device ${formatDev(mountedDev)} no longer exists`
      : `device ${formatDev(mountedDev)} now belongs to ${mountedNs.subsysnqn}`;
    if (currentDev) {
      return {
        ...withMount,
        stale: true,
        reason: "device_mismatch",
        detail: `${gone}; ${nqn} is now ${current.name} (${formatDev(currentDev)})`,
      };
    }
    return {
      ...withMount,
      stale: true,
      reason: "device_disappeared",
      detail: `${gone}; ${nqn} has no device`,
    };
  }
  if (currentDev && !sameDev(currentDev, mountedDev)) {
    return {
      ...withMount,
      stale: true,
      reason: "device_mismatch",
      detail: `mounted ${formatDev(mountedDev)} but ${nqn} resolves to ${current.name} (${formatDev(currentDev)})`,
    };
  }
  if (!controllerStates.some((c) => c.state === "live")) {
    const states =
      controllerStates.map((c) => `${c.name}=${c.state}`).join(", ") || "no controllers";
    return {
      ...withMount,
      stale: true,
      reason: "controllers_down",
      detail: `no live controller for ${nqn} (${states})`,
    };
  }
  return {
    ...withMount,
    stale: false,
    reason: "ok",
    detail: `${stagingPath} is on ${formatDev(mountedDev)}`,
  };
}
