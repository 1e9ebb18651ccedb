// /proc/<pid>/mountinfo parser (format: proc(5), kernel fs/proc_namespace.c show_mountinfo).
//
//   36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//   (1)(2)(3)   (4)   (5)         (6)       (7..)   (-) (8)  (9)       (10)
//
// Fields are separated by exactly one space; the kernel octal-escapes space, tab, newline and
// backslash inside root, mount point and source, so a plain split(" ") is exact. A source can
// be an empty string (two spaces in a row), which is why we never split on runs of whitespace.
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { MountinfoParseError } from "./errors.js";

export interface MountEntry {
  mountId: number;
  parentId: number;
  major: number;
  minor: number;
  /** root of the mount within its filesystem: "/" for a normal mount, a subdir for a bind of it */
  root: string;
  mountPoint: string;
  /** per-mount options (rw/ro, nosuid, relatime, ...) */
  mountOptions: string[];
  /** optional fields, parsed */
  shared?: number;
  master?: number;
  propagateFrom?: number;
  unbindable: boolean;
  /** raw optional fields, for anything we do not model */
  optionalFields: string[];
  /** full type as printed, e.g. "ext4", "fuse.sshfs" */
  fsType: string;
  /** the part before "." (fuse for fuse.sshfs) */
  fsBaseType: string;
  /** the part after "." (sshfs for fuse.sshfs), if any */
  fsSubtype?: string;
  /** may be "" */
  source: string;
  superOptions: string[];
  /** 1-based line number in the file it came from */
  line: number;
}

export function isReadOnly(entry: MountEntry): boolean {
  return entry.mountOptions.includes("ro");
}

/** Parse the whole text of a mountinfo file. Throws MountinfoParseError naming the first bad line. */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  let start = 0;
  let lineNo = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length;
    lineNo++;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.length === 0) {
      // only a final trailing newline is legitimate; an empty line in the middle is malformed
      if (start >= text.length) break;
      throw new MountinfoParseError(lineNo, line, "empty line");
    }
    entries.push(parseMountinfoLine(line, lineNo));
  }
  return entries;
}

const INT = /^\d+$/;

export function parseMountinfoLine(line: string, lineNo = 1): MountEntry {
  const f = line.split(" ");
  const fail = (reason: string): never => {
    throw new MountinfoParseError(lineNo, line, reason);
  };
  if (f.length < 10) fail(`expected at least 10 fields, found ${f.length}`);
  const sep = f.indexOf("-", 6);
  if (sep === -1) fail('no "-" separator after the optional fields');
  if (f.length !== sep + 4) fail(`expected 3 fields after "-", found ${f.length - sep - 1}`);

  const [idS, parentS, devS, rootS, mpS, optsS] = f as [string, string, string, string, string, string];
  if (!INT.test(idS)) fail("mount id is not a number");
  if (!INT.test(parentS)) fail("parent id is not a number");
  const colon = devS.indexOf(":");
  const majS = devS.slice(0, colon);
  const minS = devS.slice(colon + 1);
  if (colon <= 0 || !INT.test(majS) || !INT.test(minS)) fail("major:minor is malformed");
  if (rootS === "") fail("root is empty");
  if (mpS === "") fail("mount point is empty");
  if (optsS === "") fail("mount options are empty");

  const entry: MountEntry = {
    mountId: Number(idS),
    parentId: Number(parentS),
    major: Number(majS),
    minor: Number(minS),
    root: unescapeField(rootS, fail),
    mountPoint: unescapeField(mpS, fail),
    mountOptions: optsS.split(","),
    unbindable: false,
    optionalFields: [],
    fsType: "",
    fsBaseType: "",
    source: "",
    superOptions: [],
    line: lineNo,
  };

  for (let i = 6; i < sep; i++) {
    const opt = f[i];
    if (opt === "") fail("empty optional field");
    entry.optionalFields.push(opt);
    if (opt === "unbindable") entry.unbindable = true;
    else {
      const c = opt.indexOf(":");
      const key = c === -1 ? opt : opt.slice(0, c);
      const val = c === -1 ? "" : opt.slice(c + 1);
      if (key === "shared" || key === "master" || key === "propagate_from") {
        if (!INT.test(val)) fail(`optional field ${opt} has no numeric peer group`);
        const n = Number(val);
        if (key === "shared") entry.shared = n;
        else if (key === "master") entry.master = n;
        else entry.propagateFrom = n;
      }
      // unknown tags are kept in optionalFields: proc(5) says to skip them
    }
  }

  const fsType = unescapeField(f[sep + 1], fail);
  if (fsType === "") fail("filesystem type is empty");
  const dot = fsType.indexOf(".");
  entry.fsType = fsType;
  entry.fsBaseType = dot === -1 ? fsType : fsType.slice(0, dot);
  if (dot !== -1) entry.fsSubtype = fsType.slice(dot + 1);
  entry.source = unescapeField(f[sep + 2], fail);
  const superS = f[sep + 3];
  entry.superOptions = superS === "" ? [] : superS.split(",");
  return entry;
}

/** Decode the kernel's \ooo escapes. A backslash not followed by three octal digits is malformed. */
function unescapeField(s: string, fail: (reason: string) => never): string {
  if (!s.includes("\\")) return s;
  const bytes: number[] = [];
  let plainFrom = 0;
  const out: Buffer[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) !== 0x5c) continue;
    const o = s.slice(i + 1, i + 4);
    if (!/^[0-3][0-7]{2}$/.test(o)) fail(`bad escape ${JSON.stringify(s.slice(i, i + 4))}`);
    if (i > plainFrom) out.push(Buffer.from(s.slice(plainFrom, i), "utf8"));
    bytes.length = 0;
    bytes.push(parseInt(o, 8));
    out.push(Buffer.from(bytes));
    i += 3;
    plainFrom = i + 1;
  }
  if (plainFrom < s.length) out.push(Buffer.from(s.slice(plainFrom), "utf8"));
  // Escapes are bytes: decode the joined bytes as UTF-8 so an escaped multi-byte char survives.
  return Buffer.concat(out).toString("utf8");
}

export interface BindMountQuery {
  /** also include mounts whose root lies BELOW the entry's root (binds of a subdirectory) */
  subtrees?: boolean;
}

/** One snapshot of a mount namespace's table, with the lookups the node plugin needs. */
export class MountTable {
  private byMp?: Map<string, MountEntry[]>;
  private byDev?: Map<string, MountEntry[]>;
  private byId?: Map<number, MountEntry>;

  constructor(readonly entries: readonly MountEntry[]) {}

  /**
   * The mount visible at `mountPoint`: when several are stacked there (over-mounts), the top
   * one — the entry that is not the parent of another entry at the same place; on a tie the
   * LAST one listed (the kernel lists mounts in the order they were attached).
   */
  byMountPoint(mountPoint: string): MountEntry | undefined {
    const all = this.allAt(mountPoint);
    if (all.length <= 1) return all[0];
    for (let i = all.length - 1; i >= 0; i--) {
      const e = all[i];
      if (!all.some((o) => o !== e && o.parentId === e.mountId)) return e;
    }
    return all[all.length - 1];
  }

  /** Every entry at `mountPoint`, bottom first. */
  allAt(mountPoint: string): MountEntry[] {
    this.byMp ??= group(this.entries, (e) => e.mountPoint);
    return this.byMp.get(normalizeMountPoint(mountPoint)) ?? [];
  }

  isMountPoint(p: string): boolean {
    return this.allAt(p).length > 0;
  }

  byDevice(major: number, minor: number): MountEntry[] {
    this.byDev ??= group(this.entries, (e) => `${e.major}:${e.minor}`);
    return this.byDev.get(`${major}:${minor}`) ?? [];
  }

  byMountId(id: number): MountEntry | undefined {
    this.byId ??= new Map(this.entries.map((e) => [e.mountId, e]));
    return this.byId.get(id);
  }

  /**
   * Other mounts of the same filesystem showing the same root (a bind mount of `entry`, or the
   * mount `entry` was bound from). With `subtrees`, also mounts of a directory inside it.
   */
  bindMountsOf(entry: MountEntry, query: BindMountQuery = {}): MountEntry[] {
    return this.byDevice(entry.major, entry.minor).filter(
      (o) =>
        o.mountId !== entry.mountId &&
        o.mountPoint !== entry.mountPoint &&
        (o.root === entry.root || (query.subtrees === true && isInside(o.root, entry.root))),
    );
  }

  /** Mounts strictly below `dir` in the tree of paths (submounts that make an umount EBUSY). */
  mountsUnder(dir: string): MountEntry[] {
    const d = normalizeMountPoint(dir);
    return this.entries.filter((e) => e.mountPoint !== d && isInside(e.mountPoint, d));
  }
}

/** Is `p` equal to `dir` or below it (path-segment aware, "/a/bc" is not inside "/a/b")? */
export function isInside(p: string, dir: string): boolean {
  if (dir === "/") return p.startsWith("/");
  return p === dir || p.startsWith(dir.endsWith("/") ? dir : `${dir}/`);
}

function normalizeMountPoint(p: string): string {
  return p === "/" ? p : path.resolve(p);
}

function group<K>(entries: readonly MountEntry[], key: (e: MountEntry) => K): Map<K, MountEntry[]> {
  const m = new Map<K, MountEntry[]>();
  for (const e of entries) {
    const k = key(e);
    const list = m.get(k);
    if (list) list.push(e);
    else m.set(k, [e]);
  }
  return m;
}

/** Read `<procRoot>/<pid>/mountinfo` once and parse it. */
export async function readMountTable(procRoot = "/proc", pid: number | "self" = "self"): Promise<MountTable> {
  const text = await readFile(path.join(procRoot, String(pid), "mountinfo"), "utf8");
  return new MountTable(parseMountinfo(text));
}
