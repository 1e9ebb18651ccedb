// Output in the shape real RouterOS prints (rds-routeros.md §2.2): `print detail` entries start
// with an index, fields wrap onto continuation lines at 80 columns, a blank line follows every
// entry, and lines end in CRLF.
//
// Column layout of one listing (as in MikroTik's own examples, e.g. ` 9    chain=…` / `10    chain=…`
// with the continuation lines under the first field): the index is right-aligned to the widest
// index printed, at least two columns, then a gap; every continuation line is indented to the
// column where the first field starts. So ` 0   type=…` continues at 5 spaces, and once the
// listing reaches index 100 every entry moves one column right (`  9   type=…`, `100   type=…`,
// continuation at 6 spaces): the index never runs into the first field.
import type { Disk, PoolUsage } from "./disk-store.js";
import { formatBinarySize, groupDigits } from "../units.js";

export const WIDTH = 80;
/** Spaces between the index column and the first field (room for a one-letter flag column). */
export const INDEX_GAP = 3;

/** Greedy wrap of `key=value` fields; a field is never split. */
export function wrapFields(prefix: string, fields: string[], indent: string): string[] {
  const lines: string[] = [];
  let cur = prefix;
  let empty = true;
  for (const f of fields) {
    if (!empty && cur.length + 1 + f.length > WIDTH) {
      lines.push(cur);
      cur = indent + f;
    } else {
      cur += (empty ? "" : " ") + f;
    }
    empty = false;
  }
  lines.push(cur);
  return lines;
}

/** Width of the index column for a listing whose largest printed index is `maxIndex`. */
export function indexWidth(maxIndex: number): number {
  return Math.max(2, String(maxIndex).length);
}

const q = (s: string): string => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
const yn = (b: boolean): string => (b ? "yes" : "no");

export function diskFields(d: Disk): string[] {
  return [
    "type=file",
    `slot=${q(d.slot)}`,
    'slot-default=""',
    'parent=""',
    "fs=-",
    `model=${q(d.filePath)}`,
    `size=${groupDigits(d.fileSize)}`,
    "mount-filesystem=yes",
    "mount-read-only=no",
    "compress=no",
    "sector-size=512",
    "raid-master=none",
    `nvme-tcp-export=${yn(d.nvmeTcpExport)}`,
    `nvme-tcp-server-port=${String(d.nvmeTcpServerPort)}`,
    `nvme-tcp-server-nqn=${q(d.nvmeTcpServerNqn)}`,
    `nvme-tcp-server-allow-host-name=${q(d.allowHostName)}`,
    "iscsi-export=no",
    "nfs-export=no",
    "smb-export=no",
    `file-path=${d.filePath}`,
    `file-size=${formatBinarySize(d.fileSize)}`,
    "file-offset=0",
  ];
}

export function partitionFields(p: PoolUsage): string[] {
  const used = p.total - p.free;
  const use = p.total > 0 ? Math.round((used / p.total) * 100) : 0;
  return [
    "type=partition",
    `slot=${q(p.mountPoint)}`,
    'slot-default=""',
    'parent="nvme1"',
    "fs=btrfs",
    `model=${q("RDS storage pool")}`,
    `size=${groupDigits(p.total)}`,
    `mount-point=${q(p.mountPoint)}`,
    "file-system=btrfs",
    `free=${groupDigits(p.free)}`,
    `use=${String(use)}%`,
    "mount-filesystem=yes",
    "mount-read-only=no",
    "nvme-tcp-export=no",
  ];
}

export const DISK_FLAGS = "Flags: X - disabled, E - empty, B - block-device, M - mounted";

/**
 * A `print detail` body: the header (if any), then each entry with its table index and a blank
 * line. The index column is as wide as the largest index printed (see the layout note above).
 */
export function printDetail(
  header: string,
  entries: { index: number; fields: string[] }[],
): string {
  const width = indexWidth(Math.max(0, ...entries.map((e) => e.index)));
  const indent = " ".repeat(width + INDEX_GAP);
  const lines: string[] = header ? [header] : [];
  for (const e of entries) {
    const prefix = String(e.index).padStart(width) + " ".repeat(INDEX_GAP);
    lines.push(...wrapFields(prefix, e.fields, indent), "");
  }
  return lines.length ? lines.join("\r\n") + "\r\n" : "";
}

function ts(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${String(d.getFullYear())}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function fileFields(f: {
  name: string;
  type: "directory" | "file";
  size: number;
  mtime: Date;
}): string[] {
  if (f.type === "directory")
    return [`name=${f.name}`, "type=directory", `last-modified=${ts(f.mtime)}`];
  const ext = /\.([A-Za-z0-9]+)$/.exec(f.name)?.[1];
  return [
    `name=${f.name}`,
    `type=${ext ? `.${ext} file` : "file"}`,
    `size=${formatBinarySize(f.size)}`,
    `last-modified=${ts(f.mtime)}`,
  ];
}

/** `/system resource print`: right-aligned keys, `key: value`. */
export function printResource(values: [string, string][]): string {
  const w = Math.max(...values.map(([k]) => k.length)) + 2;
  return values.map(([k, v]) => `${k.padStart(w)}: ${v}`).join("\r\n") + "\r\n";
}
