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
import { MountinfoParseError, MountinfoTimeoutError } from "./errors.js";

/**
 * One mountinfo line. The option lists are split on first use: splitting every line's options
 * (overlay's are long) was most of the parse time of a large table, and most lookups never
 * look at them. Being a class, an entry loses these getters when spread ({...e}).
 */
export class MountEntry {
  private mountOptionsList?: string[];
  private superOptionsList?: string[];

  constructor(
    readonly mountId: number,
    readonly parentId: number,
    readonly major: number,
    readonly minor: number,
    /** root of the mount within its filesystem: "/" for a normal mount, a subdir for a bind */
    readonly root: string,
    readonly mountPoint: string,
    /** per-mount options as printed, e.g. "rw,nosuid,relatime" */
    readonly mountOptionsText: string,
    /** raw optional fields (shared:N, master:N, propagate_from:N, unbindable, unknown tags) */
    readonly optionalFields: string[],
    readonly shared: number | undefined,
    readonly master: number | undefined,
    readonly propagateFrom: number | undefined,
    readonly unbindable: boolean,
    /** full type as printed, e.g. "ext4", "fuse.sshfs" */
    readonly fsType: string,
    /** may be "" */
    readonly source: string,
    /** super block options as printed */
    readonly superOptionsText: string,
    /** 1-based line number in the file it came from */
    readonly line: number,
  ) {}

  /** per-mount options (rw/ro, nosuid, relatime, ...) */
  get mountOptions(): string[] {
    return (this.mountOptionsList ??= this.mountOptionsText.split(","));
  }

  get superOptions(): string[] {
    return (this.superOptionsList ??=
      this.superOptionsText === "" ? [] : this.superOptionsText.split(","));
  }

  /** the part before "." (fuse for fuse.sshfs) */
  get fsBaseType(): string {
    const dot = this.fsType.indexOf(".");
    return dot === -1 ? this.fsType : this.fsType.slice(0, dot);
  }

  /** the part after "." (sshfs for fuse.sshfs), if any */
  get fsSubtype(): string | undefined {
    const dot = this.fsType.indexOf(".");
    return dot === -1 ? undefined : this.fsType.slice(dot + 1);
  }
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

function failLine(lineNo: number, line: string, reason: string): never {
  throw new MountinfoParseError(lineNo, line, reason);
}

/** Non-negative decimal in line[start, end), or -1 if empty or not all digits (hot: no regex). */
function intAt(line: string, start: number, end: number): number {
  if (end <= start || end - start > 15) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = line.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/**
 * Parse one line. The line is walked once with indexOf (no split array, no substrings for the
 * numeric fields): on a 10,000-line table this is most of the cost.
 */
export function parseMountinfoLine(line: string, lineNo = 1): MountEntry {
  const fail = (reason: string): never => failLine(lineNo, line, reason);
  const tooFew = () => fail(`expected at least 10 fields, found ${line.split(" ").length}`);
  const e0 = line.indexOf(" ");
  const e1 = e0 < 0 ? -1 : line.indexOf(" ", e0 + 1);
  const e2 = e1 < 0 ? -1 : line.indexOf(" ", e1 + 1);
  const e3 = e2 < 0 ? -1 : line.indexOf(" ", e2 + 1);
  const e4 = e3 < 0 ? -1 : line.indexOf(" ", e3 + 1);
  const e5 = e4 < 0 ? -1 : line.indexOf(" ", e4 + 1);
  if (e5 < 0) tooFew();

  // optional fields, up to the "-" separator
  let shared: number | undefined;
  let master: number | undefined;
  let propagateFrom: number | undefined;
  let unbindable = false;
  const optionalFields: string[] = [];
  let p = e5 + 1;
  for (;;) {
    const q = line.indexOf(" ", p);
    if (q < 0) {
      if (line.split(" ").length < 10) tooFew();
      fail('no "-" separator after the optional fields');
    }
    if (q === p + 1 && line.charCodeAt(p) === 45 /* - */) break;
    if (q === p) fail("empty optional field");
    const opt = line.slice(p, q);
    optionalFields.push(opt);
    if (opt === "unbindable") unbindable = true;
    else {
      const c = opt.indexOf(":");
      const key = c === -1 ? opt : opt.slice(0, c);
      if (key === "shared" || key === "master" || key === "propagate_from") {
        const n = c === -1 ? -1 : intAt(opt, c + 1, opt.length);
        if (n < 0) fail(`optional field ${opt} has no numeric peer group`);
        if (key === "shared") shared = n;
        else if (key === "master") master = n;
        else propagateFrom = n;
      }
      // unknown tags are kept in optionalFields: proc(5) says to skip them
    }
    p = q + 1;
  }

  // exactly three fields after the separator; the last one runs to the end of the line
  const t0 = p + 2;
  const t1 = line.indexOf(" ", t0);
  const t2 = t1 < 0 ? -1 : line.indexOf(" ", t1 + 1);
  if (t2 < 0 || line.indexOf(" ", t2 + 1) !== -1) {
    if (line.split(" ").length < 10) tooFew();
    fail(
      `expected 3 fields after "-", found ${t0 > line.length ? 0 : line.slice(t0).split(" ").length}`,
    );
  }

  const mountId = intAt(line, 0, e0);
  const parentId = intAt(line, e0 + 1, e1);
  if (mountId < 0) fail("mount id is not a number");
  if (parentId < 0) fail("parent id is not a number");
  const colon = line.indexOf(":", e1 + 1);
  const major = colon > e1 + 1 && colon < e2 ? intAt(line, e1 + 1, colon) : -1;
  const minor = colon > e1 + 1 && colon < e2 ? intAt(line, colon + 1, e2) : -1;
  if (major < 0 || minor < 0) fail("major:minor is malformed");
  if (e3 === e2 + 1) fail("root is empty");
  if (e4 === e3 + 1) fail("mount point is empty");
  if (e5 === e4 + 1) fail("mount options are empty");

  const fsType = unescapeField(line.slice(t0, t1), lineNo, line);
  if (fsType === "") fail("filesystem type is empty");
  return new MountEntry(
    mountId,
    parentId,
    major,
    minor,
    unescapeField(line.slice(e2 + 1, e3), lineNo, line),
    unescapeField(line.slice(e3 + 1, e4), lineNo, line),
    line.slice(e4 + 1, e5),
    optionalFields,
    shared,
    master,
    propagateFrom,
    unbindable,
    fsType,
    unescapeField(line.slice(t1 + 1, t2), lineNo, line),
    line.slice(t2 + 1),
    lineNo,
  );
}

/** Decode the kernel's \\ooo escapes. A backslash not followed by three octal digits is malformed. */
function unescapeField(s: string, lineNo: number, line: string): string {
  if (s.indexOf("\\") === -1) return s;
  let out = "";
  let from = 0;
  let highBytes = false;
  for (let i = s.indexOf("\\"); i !== -1; i = s.indexOf("\\", from)) {
    const d0 = s.charCodeAt(i + 1) - 48;
    const d1 = s.charCodeAt(i + 2) - 48;
    const d2 = s.charCodeAt(i + 3) - 48;
    if (!(d0 >= 0 && d0 <= 3 && d1 >= 0 && d1 <= 7 && d2 >= 0 && d2 <= 7)) {
      failLine(lineNo, line, `bad escape ${JSON.stringify(s.slice(i, i + 4))}`);
    }
    const byte = d0 * 64 + d1 * 8 + d2;
    if (byte >= 0x80) highBytes = true;
    out += s.slice(from, i) + String.fromCharCode(byte);
    from = i + 4;
  }
  out += s.slice(from);
  // Escapes are bytes. If one was >= 0x80 it is part of a multi-byte UTF-8 sequence: rebuild
  // the bytes (unescaped text as UTF-8, escaped bytes as themselves) and decode them together.
  return highBytes ? bytesOf(s).toString("utf8") : out;
}

function bytesOf(s: string): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  for (let i = s.indexOf("\\"); i !== -1; i = s.indexOf("\\", from)) {
    parts.push(
      Buffer.from(s.slice(from, i), "utf8"),
      Buffer.of(parseInt(s.slice(i + 1, i + 4), 8)),
    );
    from = i + 4;
  }
  parts.push(Buffer.from(s.slice(from), "utf8"));
  return Buffer.concat(parts);
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

export interface ReadMountTableOptions {
  /**
   * Give up after this long (default 10 s). Reading mountinfo takes the namespace lock, which a
   * mount operation stuck on dead storage can hold indefinitely (rds-routeros.md §10 #14). The
   * blocked read itself cannot be cancelled; the caller just stops waiting for it.
   */
  timeoutMs?: number;
}

/** Read `<procRoot>/<pid>/mountinfo` once and parse it. */
export async function readMountTable(
  procRoot = "/proc",
  pid: number | "self" = "self",
  options: ReadMountTableOptions = {},
): Promise<MountTable> {
  const file = path.join(procRoot, String(pid), "mountinfo");
  const timeoutMs = options.timeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new MountinfoTimeoutError(file, timeoutMs)), timeoutMs);
  });
  try {
    const text = await Promise.race([readFile(file, "utf8"), timeout]);
    return new MountTable(parseMountinfo(text));
  } finally {
    clearTimeout(timer);
  }
}
