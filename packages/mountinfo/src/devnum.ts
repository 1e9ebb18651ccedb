// Device numbers. A device is identified by major:minor (never by its /dev name, which the
// kernel reuses). Linux encodes dev_t as in glibc's gnu_dev_major/minor.
import { stat } from "node:fs/promises";
import { SysfsFormatError } from "./errors.js";

export interface DeviceNumber {
  major: number;
  minor: number;
}

export function formatDev(d: DeviceNumber | undefined): string {
  return d ? `${d.major}:${d.minor}` : "none";
}

export function sameDev(a: DeviceNumber | undefined, b: DeviceNumber | undefined): boolean {
  return a !== undefined && b !== undefined && a.major === b.major && a.minor === b.minor;
}

/** Parse a sysfs `dev` attribute ("259:3"). */
export function parseDev(value: string, file = "dev"): DeviceNumber {
  const m = /^(\d+):(\d+)$/.exec(value);
  if (!m) throw new SysfsFormatError(file, value);
  return { major: Number(m[1]), minor: Number(m[2]) };
}

/** Split a dev_t (from fs.stat rdev, as bigint so no precision is lost) into major:minor. */
export function splitDevT(rdev: bigint): DeviceNumber {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { major, minor };
}

/**
 * The device number of the block special file at `p`, or undefined when `p` does not exist or
 * is not a block device. Follows symlinks (a /dev/disk/by-id link resolves to its node).
 */
export async function blockDeviceNumber(p: string): Promise<DeviceNumber | undefined> {
  try {
    const st = await stat(p, { bigint: true });
    if (!st.isBlockDevice()) return undefined;
    return splitDevT(st.rdev);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

export function isNotFound(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}
