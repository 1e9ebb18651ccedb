// Output in the shape real RouterOS prints (rds-routeros.md §2.2): `print detail` entries start
// with an index, fields wrap onto continuation lines indented by five spaces at 80 columns, a
// blank line follows every entry, and lines end in CRLF.
import type { Disk, PoolUsage } from "./disk-store.js";
import { formatBinarySize, groupDigits } from "../units.js";

export const WIDTH = 80;
const INDENT = "     ";

/** Greedy wrap of `key=value` fields; a field is never split. */
export function wrapFields(prefix: string, fields: string[]): string[] {
  const lines: string[] = [];
  let cur = prefix;
  let empty = true;
  for (const f of fields) {
    if (!empty && cur.length + 1 + f.length > WIDTH) {
      lines.push(cur);
      cur = INDENT + f;
    } else {
      cur += (empty ? "" : " ") + f;
    }
    empty = false;
  }
  lines.push(cur);
  return lines;
}

function indexPrefix(index: number, width: number): string {
  return ` ${String(index)}`.padEnd(width, " ");
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

/** `/disk print detail` body: header, then each entry with its table index and a blank line. */
export function printDetail(
  header: string,
  entries: { index: number; fields: string[] }[],
  indexWidth: number,
): string {
  const lines: string[] = [header];
  for (const e of entries) {
    lines.push(...wrapFields(indexPrefix(e.index, indexWidth), e.fields), "");
  }
  return lines.join("\r\n") + "\r\n";
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
