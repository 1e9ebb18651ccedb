// Who holds a mount: other mounts of the same filesystem (and submounts), plus processes with
// open files, a cwd or a root on it. Processes are matched by the DEVICE of what they hold
// (stat through /proc/<pid>/fd/N), not by path prefix: a container's process sees its files
// under its own mount namespace's paths, which would never match the host's target path.
import { readdir, readFile, readlink, stat } from "node:fs/promises";
import * as path from "node:path";
import { type DeviceNumber, sameDev, splitDevT } from "./devnum.js";
import type { MountHolder } from "./errors.js";
import type { MountEntry, MountTable } from "./mountinfo.js";

export interface HolderQuery {
  /** the mount being removed */
  entry: MountEntry;
  table: MountTable;
  /**
   * For a block volume (a device node bound onto a file) the identity is the node's rdev, not
   * the mount's major:minor (which is that of the filesystem holding the node).
   */
  blockDevice?: DeviceNumber;
  /** mount points that are ours (bind mounts we manage): never counted as holders */
  ownMounts?: readonly string[];
  procRoot?: string;
  /** stop scanning processes after this long (a node can have many thousands of fds) */
  budgetMs?: number;
}

export async function findHolders(q: HolderQuery): Promise<MountHolder[]> {
  const own = new Set((q.ownMounts ?? []).map((p) => path.resolve(p)));
  own.add(q.entry.mountPoint);
  const holders: MountHolder[] = [];

  if (!q.blockDevice) {
    const seen = new Set<string>();
    for (const m of [
      ...q.table.mountsUnder(q.entry.mountPoint),
      ...q.table.byDevice(q.entry.major, q.entry.minor),
    ]) {
      if (own.has(m.mountPoint) || seen.has(m.mountPoint)) continue;
      seen.add(m.mountPoint);
      holders.push({ kind: "mount", path: m.mountPoint });
    }
  }

  const target: DeviceNumber = q.blockDevice ?? { major: q.entry.major, minor: q.entry.minor };
  holders.push(
    ...(await processHolders(
      target,
      q.blockDevice !== undefined,
      q.procRoot ?? "/proc",
      q.budgetMs ?? 5000,
    )),
  );
  return holders;
}

/** Processes (other than this one) holding files on `dev` (or the block device `dev` itself). */
export async function processHolders(
  dev: DeviceNumber,
  isBlock: boolean,
  procRoot = "/proc",
  budgetMs = 5000,
): Promise<MountHolder[]> {
  const deadline = performance.now() + budgetMs;
  const found: MountHolder[] = [];
  let pids: string[];
  try {
    pids = (await readdir(procRoot)).filter((n) => /^\d+$/.test(n));
  } catch {
    return found;
  }
  for (const pid of pids) {
    if (performance.now() > deadline) break;
    // Our own process is not a holder to report: anything it has open on the mount is closed
    // by the caller, and counting it made other drivers refuse every unstage (pitfall #2).
    if (Number(pid) === process.pid) continue;
    const base = path.join(procRoot, pid);
    // open files first, so the reported path is the most telling one
    let links: string[] = [];
    try {
      links = (await readdir(path.join(base, "fd"))).map((fd) => `fd/${fd}`);
    } catch {
      // process gone, or fds not readable: still look at cwd/root
    }
    links.push("cwd", "root");
    const hits = await Promise.all(links.map((l) => holds(path.join(base, l), dev, isBlock)));
    const firstHit = hits.findIndex(Boolean);
    if (firstHit === -1) continue;
    const link = path.join(base, links[firstHit]);
    found.push({
      kind: "process",
      pid: Number(pid),
      command: await readFile(path.join(base, "comm"), "utf8").then(
        (s) => s.trim(),
        () => undefined,
      ),
      path: await readlink(link).catch(() => link),
    });
  }
  return found;
}

async function holds(link: string, dev: DeviceNumber, isBlock: boolean): Promise<boolean> {
  try {
    const st = await stat(link, { bigint: true });
    if (isBlock) return st.isBlockDevice() && sameDev(splitDevT(st.rdev), dev);
    return sameDev(splitDevT(st.dev), dev);
  } catch {
    return false; // closed meanwhile, or a socket/pipe: not a holder
  }
}
