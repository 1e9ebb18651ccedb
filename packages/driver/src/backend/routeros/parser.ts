// Parsers for what RouterOS prints (rds-routeros.md §2.2-§2.3), written for the real hardware's
// shapes rather than a simulator's tidy ones:
//   - `print detail` entries start with an index right-aligned to the widest index of the listing
//     (` 9   `, ` 99   `, `100   `), optional flag letters and an optional `;;; comment` line;
//     continuation lines are indented under the first field and wrapped at the terminal width,
//     even in the middle of a value (`size=53 687 091 200`, a long file path);
//   - a `where` print of one item may come without an index;
//   - a `Flags:` legend (which may itself wrap) precedes the entries;
//   - fields may be missing (real RouterOS prints no `status=` or `source-volume=`);
//   - sizes come as digit-grouped bytes (`size=`) and as rounded binary units (`file-size=50.0GiB`).
// Parsing is key-aware: a line is never dropped because some value contains "disabled" (W30).
import { RouterOSParseError } from "../../errors.js";

export interface RouterOSRecord {
  /** Index printed in front of the entry, undefined for index-less single-item output. */
  index: number | undefined;
  /** Flag letters printed after the index (e.g. `X` = disabled). */
  flags: string;
  /** `;;; comment` text, if any. */
  comment: string | undefined;
  fields: Map<string, string>;
}

/** Keys whose wrapped fragments are words separated by spaces (dates, times, free text). */
const SPACE_JOINED_KEYS = new Set(["last-modified", "creation-time", "comment", "model", "serial"]);

/**
 * A line that may start an entry: optional indent, the index, optional flag letters, then a
 * comment or a field. Leading blanks are not limited: the index is right-aligned to the widest
 * index of the listing, so with 1000 disks item 9 is printed as `   9   type=…`.
 */
const ENTRY_START = /^([ \t]*)(\d+)[ \t]+(?:([A-Z*]{1,6})[ \t]+)?(?=;;;|[a-z][a-z0-9-]*=)/;
const HEADER = /^(Flags|Columns):/;

/** Lines of the output without `\r`. */
function lines(output: string): string[] {
  return output.replace(/\r/g, "").split("\n");
}

interface RawEntry {
  index: number | undefined;
  flags: string;
  /** Column just past the index digits; 0 for an index-less entry. */
  indexEnd: number;
  body: string[];
}

/**
 * Splits `print detail` output into entries (raw text per entry, continuation lines kept on
 * their own lines so that wrapped quoted values can be glued back without a space).
 *
 * Real RouterOS right-aligns the index to the widest index printed and indents continuation
 * lines under the first field (` 99   type=…` / `100   type=…` / `      model=…`). So an entry
 * starts on a line whose indent is shorter than the column where the current entry's index
 * ended; a line indented further is a continuation, even when it looks like `200 free=…`
 * (a digit-grouped value wrapped after `size=7 949 127 950`).
 */
function splitEntries(output: string): RawEntry[] {
  const entries: RawEntry[] = [];
  let current: RawEntry | undefined;
  let inHeader = false;
  for (const line of lines(output)) {
    if (line.trim() === "") {
      inHeader = false;
      continue;
    }
    if (HEADER.test(line)) {
      inHeader = true;
      continue;
    }
    // A wrapped legend line (`       R - raid-member`): indented, right after the legend, and
    // never a `key=value` line, so an entry can not be mistaken for one and vanish.
    if (inHeader && current === undefined && /^\s/.test(line) && !line.includes("=")) continue;
    inHeader = false;
    const m = ENTRY_START.exec(line);
    const startsEntry = m !== null && (current === undefined || (current.index !== undefined && m[1].length < current.indexEnd));
    if (startsEntry) {
      current = { index: Number(m[2]), flags: m[3] ?? "", indexEnd: m[1].length + m[2].length, body: [line.slice(m[0].length)] };
      entries.push(current);
    } else if (current) {
      // Left of the index column yet not an entry: a broken layout (` 100type=file` after
      // ` 99   type=…`). Gluing it on would silently give this entry another disk's fields.
      if (current.index !== undefined && /^\s*/.exec(line)![0].length < current.indexEnd) {
        throw new RouterOSParseError(`line is neither an entry nor a continuation: ${JSON.stringify(line)}`, output);
      }
      current.body.push(line.trim());
    } else {
      // No index on the first line: a single-item `where` print (the Go driver's fixture shape).
      current = { index: undefined, flags: "", indexEnd: 0, body: [line.trim()] };
      entries.push(current);
    }
  }
  return entries;
}

const KEY_AT = /^([a-z][a-z0-9-]*)=/;

/** Parses the `key=value key="quoted value" …` body of one entry. */
function parseFields(body: string[], output: string): { fields: Map<string, string>; comment: string | undefined } {
  const fields = new Map<string, string>();
  let comment: string | undefined;
  // Glue the entry into one string, marking line breaks with \n so quoted values can drop them.
  let rest = body.join("\n");
  if (rest.startsWith(";;;")) {
    const nl = rest.indexOf("\n");
    comment = (nl < 0 ? rest.slice(3) : rest.slice(3, nl)).trim();
    rest = nl < 0 ? "" : rest.slice(nl + 1);
  }
  let lastKey: string | undefined;
  let lastQuoted = false;
  let i = 0;
  const n = rest.length;
  while (i < n) {
    const ch = rest[i];
    if (ch === " " || ch === "\n" || ch === "\t") {
      i++;
      continue;
    }
    const m = KEY_AT.exec(rest.slice(i));
    if (m) {
      const key = m[1];
      i += m[0].length;
      let value = "";
      if (rest[i] === '"') {
        i++;
        while (i < n && rest[i] !== '"') {
          if (rest[i] === "\\" && i + 1 < n) {
            value += rest[i + 1];
            i += 2;
          } else if (rest[i] === "\n") {
            i++; // a wrap inside a quoted value: glue the parts
          } else {
            value += rest[i];
            i++;
          }
        }
        if (i >= n) throw new RouterOSParseError(`unterminated quoted value for ${key}`, output);
        i++;
        lastQuoted = true;
      } else {
        while (i < n && !/\s/.test(rest[i])) value += rest[i++];
        lastQuoted = false;
      }
      fields.set(key, value);
      lastKey = key;
      continue;
    }
    // A fragment that is not `key=`: the continuation of the previous unquoted value
    // (digit groups, a value wrapped mid-token). `...` is an elision some captures contain.
    let frag = "";
    while (i < n && !/\s/.test(rest[i])) frag += rest[i++];
    if (frag === "...") continue;
    // Text before the first field is not a shape RouterOS prints (a mangled index column, say);
    // guessing would hand back a record with the wrong fields.
    if (lastKey === undefined) throw new RouterOSParseError(`unexpected ${JSON.stringify(frag)} before the first field`, output);
    if (lastQuoted) continue;
    const sep = SPACE_JOINED_KEYS.has(lastKey) ? " " : "";
    fields.set(lastKey, fields.get(lastKey)! + sep + frag);
  }
  return { fields, comment };
}

/** Parses `print detail` output (one or many entries). Empty output → []. */
export function parseDetail(output: string): RouterOSRecord[] {
  return splitEntries(output).map((e) => {
    const { fields, comment } = parseFields(e.body, output);
    return { index: e.index, flags: e.flags, comment, fields };
  });
}

/** Parses `key: value` output such as `/system resource print`. */
export function parseKeyValueLines(output: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of lines(output)) {
    const m = /^\s*([a-z][a-z0-9-]*):\s?(.*)$/.exec(line);
    if (m) out.set(m[1], m[2].trim());
  }
  return out;
}

const UNIT: Record<string, bigint> = {
  "": 1n,
  B: 1n,
  K: 1024n,
  KIB: 1024n,
  M: 1024n ** 2n,
  MIB: 1024n ** 2n,
  G: 1024n ** 3n,
  GIB: 1024n ** 3n,
  T: 1024n ** 4n,
  TIB: 1024n ** 4n,
};

/**
 * Parses a RouterOS size: digit-grouped bytes (`53 687 091 200` or already glued
 * `53687091200`) or a binary-unit value (`50.0GiB`, `512MiB`, `1.5G`). Decimal units are
 * rounded to the nearest byte. Returns undefined for an empty or unparsable value.
 */
export function parseSize(value: string | undefined): bigint | undefined {
  if (value === undefined) return undefined;
  const v = value.replace(/[\s_]/g, "");
  if (v === "") return undefined;
  if (/^\d+$/.test(v)) return BigInt(v);
  const m = /^(\d+)(?:\.(\d+))?([KMGT]i?B?|B)$/i.exec(v);
  if (!m) return undefined;
  const u = m[3].toUpperCase();
  const unit = UNIT[u === "B" ? "B" : u[0] + (u.includes("I") ? "IB" : "")];
  if (unit === undefined) return undefined;
  const whole = BigInt(m[1]) * unit;
  if (!m[2]) return whole;
  const frac = m[2];
  const scale = 10n ** BigInt(frac.length);
  return whole + (BigInt(frac) * unit + scale / 2n) / scale;
}

/** RouterOS reports failures as text, often on stdout with exit status 0. */
const ERROR_LINE =
  /^\s*(failure:|bad command name|syntax error|expected (end of command|command name)|input does not match|invalid value|no such item|ambiguous value|missing value|value of .* out of range|.*\bnot enough space\b)/im;

/** Returns the first error line RouterOS printed, or undefined if the output looks clean. */
export function detectError(output: string): string | undefined {
  const m = ERROR_LINE.exec(output);
  if (!m) return undefined;
  const start = output.lastIndexOf("\n", m.index) + 1;
  const end = output.indexOf("\n", m.index + m[0].length);
  return output.slice(start, end < 0 ? undefined : end).trim();
}

/** A disk as this driver needs it, extracted from a `/disk print detail` record. */
export interface DiskRecord {
  slot: string;
  type: string | undefined;
  filePath: string | undefined;
  /** Exact size in bytes when `size=` is printed, otherwise from `file-size=` (rounded display). */
  sizeBytes: bigint | undefined;
  nvmeExport: boolean;
  nvmePort: number | undefined;
  nqn: string | undefined;
  disabled: boolean;
}

export function toDiskRecord(r: RouterOSRecord): DiskRecord | undefined {
  const slot = r.fields.get("slot");
  if (slot === undefined || slot === "") return undefined;
  let filePath = r.fields.get("file-path");
  if (filePath !== undefined && filePath !== "" && !filePath.startsWith("/")) filePath = "/" + filePath;
  const port = r.fields.get("nvme-tcp-server-port");
  return {
    slot,
    type: r.fields.get("type"),
    filePath: filePath === "" ? undefined : filePath,
    sizeBytes: parseSize(r.fields.get("size")) ?? parseSize(r.fields.get("file-size")),
    nvmeExport: r.fields.get("nvme-tcp-export") === "yes",
    nvmePort: port !== undefined && /^\d+$/.test(port) ? Number(port) : undefined,
    nqn: r.fields.get("nvme-tcp-server-nqn") || undefined,
    disabled: r.flags.includes("X"),
  };
}

/** Parses `/disk print detail` output into disks (records without a slot are skipped). */
export function parseDisks(output: string): DiskRecord[] {
  const out: DiskRecord[] = [];
  for (const r of parseDetail(output)) {
    const d = toDiskRecord(r);
    if (d) out.push(d);
  }
  return out;
}
