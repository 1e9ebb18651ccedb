// Fixture trees need dev-root entries that are real block devices, and only root can mknod. So a
// fixture entry is a symlink to a block device this machine already has (stat follows the
// link); its sysfs `dev` is set to that device's number. Used by unit tests and benchmarks here
// and in the driver.
import { readdirSync, statSync } from "node:fs";
import * as path from "node:path";
import { splitDevT, type DeviceNumber } from "./devnum.js";

export interface HostBlockDevice extends DeviceNumber {
  path: string;
}

/** `count` block devices from /dev with distinct numbers; fails loudly if the host has fewer. */
export function hostBlockDevices(count: number): HostBlockDevice[] {
  const seen = new Set<string>();
  const found: HostBlockDevice[] = [];
  for (const name of readdirSync("/dev").sort()) {
    const p = path.join("/dev", name);
    try {
      const st = statSync(p, { bigint: true });
      if (!st.isBlockDevice()) continue;
      const d = splitDevT(st.rdev);
      const key = `${d.major}:${d.minor}`;
      if (seen.has(key)) continue;
      seen.add(key);
      found.push({ path: p, ...d });
    } catch {
      // unreadable entry: skip
    }
  }
  if (found.length < count) {
    throw new Error(`this test needs ${count} block devices in /dev, the host has ${found.length}`);
  }
  return found.slice(0, count);
}
