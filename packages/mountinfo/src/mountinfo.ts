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
 * One mountinfo line. Everything is parsed up front except the three lists: the option lists
 * and the optional fields are kept as printed and split on first use. Splitting them eagerly
 * allocated more than the rest of the entry together (a plain-object entry with all lists split
 * measured ~9 ms for 10,000 lines against ~2.6 ms for this) and most lookups never read them.
 *
 * Being a class, the lists and fsBaseType/fsSubtype are prototype getters: `{...entry}` or
 * Object.keys() would not see them. Nothing in the repo copies entries; to get plain data use
 * `entry.toJSON()` (which JSON.stringify and loggers call too).
 */
export class MountEntry {
  private mountOptionsList?: string[];
  private superOptionsList?: string[];
  private optionalFieldsList?: string[];

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
    /** the optional fields as printed, space-separated ("" when there are none) */
    readonly optionalFieldsText: string,
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

  /** raw optional fields (shared:N, master:N, propagate_from:N, unbindable, unknown tags) */
  get optionalFields(): string[] {
    return (this.optionalFieldsList ??=
      this.optionalFieldsText === "" ? [] : this.optionalFieldsText.split(" "));
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

  /** Every field as plain data, the lists split (what a copy or a log line should carry). */
  toJSON(): MountEntryData {
    return {
      mountId: this.mountId,
      parentId: this.parentId,
      major: this.major,
      minor: this.minor,
      root: this.root,
      mountPoint: this.mountPoint,
      mountOptions: [...this.mountOptions],
      optionalFields: [...this.optionalFields],
      shared: this.shared,
      master: this.master,
      propagateFrom: this.propagateFrom,
      unbindable: this.unbindable,
      fsType: this.fsType,
      source: this.source,
      superOptions: [...this.superOptions],
      line: this.line,
    };
  }
}

/** A MountEntry as plain data (MountEntry.toJSON()). */
export interface MountEntryData {
  mountId: number;
  parentId: number;
  major: number;
  minor: number;
  root: string;
  mountPoint: string;
  mountOptions: string[];
  optionalFields: string[];
  shared: number | undefined;
  master: number | undefined;
  propagateFrom: number | undefined;
  unbindable: boolean;
  fsType: string;
  source: string;
  superOptions: string[];
  line: number;
}

export function isReadOnly(entry: MountEntry): boolean {
  return entry.mountOptions.includes("ro");
}

/**
 * Parse the whole text of a mountinfo file. Throws MountinfoParseError naming the first bad line.
 *
 * Hot path (a node with thousands of mounts, read every health-monitor tick): every line is
 * walked in place in `text` with indexOf, so a line allocates its entry and the strings it keeps
 * and nothing else — no line substring, no split arrays, numbers parsed from char codes.
 */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  // position of the next backslash at or after the current line (text.length if none): one
  // forward scan over the whole text tells each line whether it has escapes to decode
  let backslash = -1;
  let start = 0;
  let lineNo = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length;
    lineNo++;
    if (end === start) {
      // only a final trailing newline is legitimate; an empty line in the middle is malformed
      if (end + 1 >= text.length) break;
      throw new MountinfoParseError(lineNo, "", "empty line");
    }
    if (backslash < start) {
      backslash = text.indexOf("\\", start);
      if (backslash === -1) backslash = text.length;
    }
    entries.push(parseLine(text, start, end, lineNo, backslash < end));
    start = end + 1;
  }
  return entries;
}

/** Parse one line (no trailing newline). */
export function parseMountinfoLine(line: string, lineNo = 1): MountEntry {
  return parseLine(line, 0, line.length, lineNo, line.includes("\\"));
}

/** text.indexOf(" ", from) limited to the line ending at `end`; -1 if none. */
function spaceBefore(text: string, from: number, end: number): number {
  const q = text.indexOf(" ", from);
  return q === -1 || q >= end ? -1 : q;
}

/** Non-negative decimal in s[start, end), or -1 if empty or not all digits (hot: no regex). */
function intAt(s: string, start: number, end: number): number {
  if (end <= start || end - start > 15) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/**
 * Parse the line text[start, end). The fields are found with indexOf and only the strings the
 * entry keeps are cut out; the line itself is only cut out for an error message.
 */
function parseLine(
  text: string,
  start: number,
  end: number,
  lineNo: number,
  escaped: boolean,
): MountEntry {
  const e0 = spaceBefore(text, start, end);
  const e1 = e0 < 0 ? -1 : spaceBefore(text, e0 + 1, end);
  const e2 = e1 < 0 ? -1 : spaceBefore(text, e1 + 1, end);
  const e3 = e2 < 0 ? -1 : spaceBefore(text, e2 + 1, end);
  const e4 = e3 < 0 ? -1 : spaceBefore(text, e3 + 1, end);
  const e5 = e4 < 0 ? -1 : spaceBefore(text, e4 + 1, end);
  if (e5 < 0) tooFew(text, start, end, lineNo); // fewer than 7 fields: always throws

  // optional fields, up to the "-" separator; peer groups are read in place
  let shared: number | undefined;
  let master: number | undefined;
  let propagateFrom: number | undefined;
  let unbindable = false;
  const optStart = e5 + 1;
  let p = optStart;
  for (;;) {
    const q = spaceBefore(text, p, end);
    if (q < 0) {
      tooFew(text, start, end, lineNo);
      fail(text, start, end, lineNo, 'no "-" separator after the optional fields');
    }
    if (q === p + 1 && text.charCodeAt(p) === 45 /* - */) break;
    if (q === p) fail(text, start, end, lineNo, "empty optional field");
    const colon = text.indexOf(":", p);
    const keyEnd = colon === -1 || colon > q ? q : colon;
    const keyLen = keyEnd - p;
    if (keyLen === 10 && text.startsWith("unbindable", p)) {
      if (keyEnd === q) unbindable = true;
    } else {
      const kind =
        keyLen === 6 && text.startsWith("shared", p)
          ? 1
          : keyLen === 6 && text.startsWith("master", p)
            ? 2
            : keyLen === 14 && text.startsWith("propagate_from", p)
              ? 3
              : 0; // unknown tags are kept in optionalFields: proc(5) says to skip them
      if (kind !== 0) {
        const n = keyEnd === q ? -1 : intAt(text, keyEnd + 1, q);
        if (n < 0) {
          const field = text.slice(p, q);
          fail(text, start, end, lineNo, `optional field ${field} has no numeric peer group`);
        }
        if (kind === 1) shared = n;
        else if (kind === 2) master = n;
        else propagateFrom = n;
      }
    }
    p = q + 1;
  }
  const optionalFieldsText = p === optStart ? "" : text.slice(optStart, p - 1);

  // exactly three fields after the separator; the last one runs to the end of the line
  const t0 = p + 2;
  const t1 = spaceBefore(text, t0, end);
  const t2 = t1 < 0 ? -1 : spaceBefore(text, t1 + 1, end);
  if (t2 < 0 || spaceBefore(text, t2 + 1, end) !== -1) {
    tooFew(text, start, end, lineNo);
    const after = t0 > end ? 0 : text.slice(t0, end).split(" ").length;
    fail(text, start, end, lineNo, `expected 3 fields after "-", found ${after}`);
  }

  const mountId = intAt(text, start, e0);
  const parentId = intAt(text, e0 + 1, e1);
  if (mountId < 0) fail(text, start, end, lineNo, "mount id is not a number");
  if (parentId < 0) fail(text, start, end, lineNo, "parent id is not a number");
  const colon = text.indexOf(":", e1 + 1);
  const devOk = colon > e1 + 1 && colon < e2;
  const major = devOk ? intAt(text, e1 + 1, colon) : -1;
  const minor = devOk ? intAt(text, colon + 1, e2) : -1;
  if (major < 0 || minor < 0) fail(text, start, end, lineNo, "major:minor is malformed");
  if (e3 === e2 + 1) fail(text, start, end, lineNo, "root is empty");
  if (e4 === e3 + 1) fail(text, start, end, lineNo, "mount point is empty");
  if (e5 === e4 + 1) fail(text, start, end, lineNo, "mount options are empty");

  let root = text.slice(e2 + 1, e3);
  let mountPoint = text.slice(e3 + 1, e4);
  let fsType = text.slice(t0, t1);
  let source = text.slice(t1 + 1, t2);
  if (escaped) {
    const bad = (reason: string) => fail(text, start, end, lineNo, reason);
    root = unescapeField(root, bad);
    mountPoint = unescapeField(mountPoint, bad);
    fsType = unescapeField(fsType, bad);
    source = unescapeField(source, bad);
  }
  if (fsType === "") fail(text, start, end, lineNo, "filesystem type is empty");
  return new MountEntry(
    mountId,
    parentId,
    major,
    minor,
    root,
    mountPoint,
    text.slice(e4 + 1, e5),
    optionalFieldsText,
    shared,
    master,
    propagateFrom,
    unbindable,
    fsType,
    source,
    text.slice(t2 + 1, end),
    lineNo,
  );
}

function fail(text: string, start: number, end: number, lineNo: number, reason: string): never {
  throw new MountinfoParseError(lineNo, text.slice(start, end), reason);
}

/** Throws the "too few fields" error if the line has fewer than 10 fields, else returns. */
function tooFew(text: string, start: number, end: number, lineNo: number): void {
  const fields = text.slice(start, end).split(" ").length;
  if (fields < 10) fail(text, start, end, lineNo, `expected at least 10 fields, found ${fields}`);
}

/** Decode the kernel's \\ooo escapes. A backslash not followed by three octal digits is malformed. */
function unescapeField(s: string, bad: (reason: string) => never): string {
  if (s.indexOf("\\") === -1) return s;
  let out = "";
  let from = 0;
  let highBytes = false;
  for (let i = s.indexOf("\\"); i !== -1; i = s.indexOf("\\", from)) {
    const d0 = s.charCodeAt(i + 1) - 48;
    const d1 = s.charCodeAt(i + 2) - 48;
    const d2 = s.charCodeAt(i + 3) - 48;
    if (!(d0 >= 0 && d0 <= 3 && d1 >= 0 && d1 <= 7 && d2 >= 0 && d2 <= 7)) {
      bad(`bad escape ${JSON.stringify(s.slice(i, i + 4))}`);
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
