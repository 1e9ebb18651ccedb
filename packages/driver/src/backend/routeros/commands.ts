// RouterOS command lines, built from validated values only.
//
// A RouterOS command line ends at `;` or a newline, `[...]` nests a command, `$x` expands a
// variable and quotes/backslashes change meaning (rds-routeros.md "injection safety"). Escaping
// is not relied upon: every value is checked against a strict allow-list here, right before it
// is placed on a line, and a value that fails is rejected with InvalidArgument. The callers
// (controller) validate earlier too; this is the last gate, so nothing unchecked can slip
// through a new call site.
import { InvalidArgumentError } from "../../errors.js";
import { SNAPSHOT_ID, VOLUME_ID } from "../../volume-id.js";

const MiB = 1024n * 1024n;
const GiB = 1024n * MiB;

/** Allocation granularity of the RDS as this driver uses it: whole MiB. */
export const ALLOCATION_UNIT = MiB;

/** The value kinds that may appear on a command line, each with its allow-list. */
const RULES = {
  /** A disk slot: a volume ID or a snapshot ID. */
  slot: (v: string) => VOLUME_ID.test(v) || SNAPSHOT_ID.test(v),
  /** Absolute path of plain segments; no `..`, no `//`, no quotes, no spaces. */
  path: (v: string) =>
    v.length <= 255 && /^\/[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(v) && !v.split("/").some((s) => s === "." || s === ".."),
  nqn: (v: string) => v.length <= 223 && /^nqn\.[0-9]{4}-[0-9]{2}\.[a-z0-9.-]+:[a-z0-9._-]+$/.test(v),
} as const;

export type ValueKind = keyof typeof RULES;

/** Throws InvalidArgumentError unless `value` passes the allow-list for `kind`. */
export function checkValue(kind: ValueKind, value: string): string {
  if (typeof value !== "string" || !RULES[kind](value)) {
    throw new InvalidArgumentError(`invalid ${kind} for the RouterOS command line: ${JSON.stringify(value)}`);
  }
  return value;
}

export function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidArgumentError(`invalid TCP port: ${String(port)}`);
  }
  return port;
}

/** Rounds a byte count UP to the allocation unit (never truncates: rds-routeros.md W5). */
export function roundUpToAllocation(bytes: bigint): bigint {
  if (bytes <= 0n) return ALLOCATION_UNIT;
  return ((bytes + ALLOCATION_UNIT - 1n) / ALLOCATION_UNIT) * ALLOCATION_UNIT;
}

/** `file-size=` value for an allocation-aligned size: `10G` when whole GiB, else `1536M`. */
export function formatFileSize(bytes: bigint): string {
  if (bytes <= 0n || bytes % ALLOCATION_UNIT !== 0n) {
    throw new InvalidArgumentError(`size ${bytes} is not a positive multiple of ${ALLOCATION_UNIT} bytes`);
  }
  return bytes % GiB === 0n ? `${bytes / GiB}G` : `${bytes / MiB}M`;
}

/** RouterOS `/file` names have no leading slash. */
function fileName(path: string): string {
  return checkValue("path", path).slice(1);
}

/** `/storage/csi` → `storage`. */
export function mountPointOf(path: string): string {
  return fileName(path).split("/")[0];
}

function find(slot: string): string {
  return `[find slot="${checkValue("slot", slot)}"]`;
}

export interface DiskAddSpec {
  slot: string;
  filePath: string;
  /** Omitted for a plain copy (snapshot): the copy keeps the source's size. */
  sizeBytes?: bigint;
  /** Slot of an existing disk whose contents are copied (`copy-from=`). */
  copyFromSlot?: string;
  /** NVMe/TCP export; omitted = not exported (snapshots). */
  export?: { nqn: string; port: number };
}

export const commands = {
  /** Health check: any answer proves SSH + the CLI work. */
  systemResource: (): string => "/system resource print",

  /** All disks, or the one with a given slot. */
  diskPrint: (slot?: string): string =>
    slot === undefined ? "/disk print detail" : `/disk print detail where slot="${checkValue("slot", slot)}"`,

  diskAdd(spec: DiskAddSpec): string {
    const parts = ["/disk add type=file"];
    if (spec.copyFromSlot !== undefined) parts.push(`copy-from=${find(spec.copyFromSlot)}`);
    parts.push(`file-path=${checkValue("path", spec.filePath)}`);
    if (spec.sizeBytes !== undefined) parts.push(`file-size=${formatFileSize(spec.sizeBytes)}`);
    parts.push(`slot=${checkValue("slot", spec.slot)}`);
    if (spec.export) {
      parts.push(
        "nvme-tcp-export=yes",
        `nvme-tcp-server-port=${checkPort(spec.export.port)}`,
        `nvme-tcp-server-nqn=${checkValue("nqn", spec.export.nqn)}`,
      );
    }
    return parts.join(" ");
  },

  diskResize: (slot: string, sizeBytes: bigint): string => `/disk set ${find(slot)} file-size=${formatFileSize(sizeBytes)}`,

  diskRemove: (slot: string): string => `/disk remove ${find(slot)}`,

  fileRemove: (path: string): string => `/file remove [find name="${fileName(path)}"]`,

  /**
   * The storage pool partition holding `path` (its first path component is the mount point);
   * RouterOS prints its `size=` and `free=`.
   */
  poolPrint: (path: string): string => `/disk print detail where mount-point="${mountPointOf(path)}"`,
};
