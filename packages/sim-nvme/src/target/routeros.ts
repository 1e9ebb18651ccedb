// The RouterOS CLI interpreter of the simulated RDS: one command line in, RouterOS-shaped text
// and an exit status out. Every error is a RouterOS-style message; nothing here throws to the
// SSH layer, and a rejected line changes nothing.
import os from "node:os";
import type { Disk } from "./disk-store.js";
import { DiskStore, DiskStoreError } from "./disk-store.js";
import {
  BadCommandError,
  type Argument,
  type Condition,
  type ParsedCommand,
  RouterOsSyntaxError,
  type Value,
  parseCommandLine,
} from "./routeros-parser.js";
import {
  DISK_FLAGS,
  diskFields,
  fileFields,
  partitionFields,
  printDetail,
  printResource,
} from "./format.js";
import { formatBinarySize, parseSize } from "../units.js";

export interface CommandResult {
  output: string;
  exitCode: number;
}

export interface InterpreterHooks {
  /** A disk's backing file grew (set file-size or the resize fault). */
  onGrow?(disk: Disk): void;
  /** A disk entry was removed. */
  onRemove?(disk: Disk): void;
}

// Values the simulator stores: strict allow-lists, so a value carrying `;`, quotes, brackets,
// `$` or whitespace is refused even when quoting got it past the tokenizer.
const SLOT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const NQN = /^nqn\.[A-Za-z0-9._:-]{1,219}$/;
const FILE_PATH = /^\/?[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

class CliFailure extends Error {}

const fail = (msg: string): never => {
  throw new CliFailure(msg);
};

function text(arg: Argument | undefined): string | undefined {
  if (!arg) return undefined;
  if (arg.value.kind !== "text") fail(`invalid value for argument ${arg.key}`);
  return (arg.value as { text: string }).text;
}

function matches(fields: Record<string, string>, conds: Condition[]): boolean {
  return conds.every((c) => {
    const v = fields[c.key];
    if (v === undefined) return false;
    if (c.op === "=") return v === c.value;
    let re: RegExp;
    try {
      re = new RegExp(c.value);
    } catch {
      return fail("failure: invalid regular expression");
    }
    return re.test(v);
  });
}

function diskQueryFields(d: Disk): Record<string, string> {
  return {
    slot: d.slot,
    type: "file",
    "file-path": d.filePath,
    "nvme-tcp-server-nqn": d.nvmeTcpServerNqn,
    "nvme-tcp-export": d.nvmeTcpExport ? "yes" : "no",
    "mount-point": "",
  };
}

export class RouterOsInterpreter {
  private readonly started = Date.now();
  /** Serialises commands: the disk table is changed by one command at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly store: DiskStore,
    private readonly hooks: InterpreterHooks = {},
    private readonly identity = { version: "7.16 (stable)", boardName: "RDS2216" },
  ) {}

  run(line: string): Promise<CommandResult> {
    const next = this.queue.then(() => this.runNow(line));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async runNow(line: string): Promise<CommandResult> {
    let cmd: ParsedCommand;
    try {
      cmd = parseCommandLine(line);
    } catch (e) {
      if (e instanceof RouterOsSyntaxError || e instanceof BadCommandError)
        return { output: `${e.message}\r\n`, exitCode: 1 };
      return { output: "syntax error (line 1 column 1)\r\n", exitCode: 1 };
    }
    try {
      const output = await this.dispatch(cmd);
      return { output, exitCode: 0 };
    } catch (e) {
      if (e instanceof CliFailure || e instanceof DiskStoreError)
        return { output: `${e.message}\r\n`, exitCode: 1 };
      const msg = e instanceof Error ? e.message : String(e);
      return { output: `failure: ${msg.replace(/[\r\n]+/g, " ")}\r\n`, exitCode: 1 };
    }
  }

  private dispatch(cmd: ParsedCommand): Promise<string> | string {
    const where = `${cmd.menu.join(" ")} ${cmd.command}`;
    switch (where) {
      case "disk add":
        return this.diskAdd(cmd);
      case "disk set":
        return this.diskSet(cmd);
      case "disk remove":
        return this.diskRemove(cmd);
      case "disk print":
        return this.diskPrint(cmd.where);
      case "file print":
        return this.filePrint(cmd.where);
      case "file remove":
        return this.fileRemove(cmd);
      case "system resource print":
        return this.resourcePrint();
      default:
        return fail(`bad command name ${cmd.command}`);
    }
  }

  private argMap(cmd: ParsedCommand, allowed: string[]): Map<string, Argument> {
    const map = new Map<string, Argument>();
    for (const a of cmd.args) {
      if (!allowed.includes(a.key))
        fail(`expected end of command (line 1 column ${String(a.column)})`);
      map.set(a.key, a);
    }
    return map;
  }

  /** Disks selected by an unnamed parameter: `[find slot=x]`, a slot name or a table index. */
  private select(target: Value | undefined): Disk[] {
    if (!target) return fail("failure: no such item");
    const disks = this.store.list();
    if (target.kind === "find")
      return disks.filter((d) => matches(diskQueryFields(d), target.conditions));
    const byName = disks.filter((d) => d.slot === target.text);
    if (byName.length) return byName;
    if (/^\d+$/.test(target.text)) {
      const d = disks[Number(target.text) - this.store.mountPoints.length];
      if (d) return [d];
    }
    return fail("failure: no such item");
  }

  private async diskAdd(cmd: ParsedCommand): Promise<string> {
    const a = this.argMap(cmd, [
      "type",
      "file-path",
      "file-size",
      "slot",
      "nvme-tcp-export",
      "nvme-tcp-server-port",
      "nvme-tcp-server-nqn",
      "nvme-tcp-server-allow-host-name",
      "copy-from",
    ]);
    const type = text(a.get("type"));
    if (type !== "file")
      fail(
        type === undefined
          ? "failure: type not specified"
          : "input does not match any value of type",
      );
    const filePath = text(a.get("file-path"));
    if (filePath === undefined) return fail("failure: file-path not specified");
    if (
      !FILE_PATH.test(filePath) ||
      filePath.length > 255 ||
      filePath.split("/").some((p) => p === "." || p === "..")
    ) {
      fail("invalid value for argument file-path");
    }
    const slot = text(a.get("slot"));
    if (slot === undefined) return fail("failure: slot not specified");
    if (!SLOT.test(slot)) fail("invalid value for argument slot");

    let copyFrom: Disk | undefined;
    const cf = a.get("copy-from");
    if (cf) {
      const found = this.select(cf.value);
      if (found.length !== 1) fail("failure: no such item");
      copyFrom = found[0];
    }
    const sizeText = text(a.get("file-size"));
    let fileSize = copyFrom?.fileSize ?? 0;
    if (sizeText !== undefined) {
      const parsed = parseSize(sizeText);
      if (parsed === undefined || parsed <= 0) return fail("invalid value for argument file-size");
      fileSize = Math.max(parsed, copyFrom?.fileSize ?? 0);
    } else if (!copyFrom) {
      fail("failure: file-size not specified");
    }

    const exportText = text(a.get("nvme-tcp-export")) ?? "no";
    if (exportText !== "yes" && exportText !== "no")
      fail("invalid value for argument nvme-tcp-export");
    const portText = text(a.get("nvme-tcp-server-port")) ?? "4420";
    const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) fail("invalid value for argument nvme-tcp-server-port");
    const nqn = text(a.get("nvme-tcp-server-nqn")) ?? "";
    if (nqn && !NQN.test(nqn)) fail("invalid value for argument nvme-tcp-server-nqn");
    if (exportText === "yes" && !nqn) fail("failure: nvme-tcp-server-nqn not specified");
    const allow = text(a.get("nvme-tcp-server-allow-host-name")) ?? "";
    checkAllowHosts(allow);

    await this.store.add(
      {
        slot,
        type: "file",
        filePath: filePath.startsWith("/") ? filePath : `/${filePath}`,
        fileSize,
        nvmeTcpExport: exportText === "yes",
        nvmeTcpServerPort: port,
        nvmeTcpServerNqn: nqn,
        allowHostName: allow,
      },
      copyFrom,
    );
    return "";
  }

  private diskSet(cmd: ParsedCommand): string {
    const a = this.argMap(cmd, ["file-size", "nvme-tcp-server-allow-host-name"]);
    const disks = this.select(cmd.target);
    if (disks.length === 0) fail("failure: no such item");
    const sizeText = text(a.get("file-size"));
    const size = sizeText === undefined ? undefined : parseSize(sizeText);
    if (sizeText !== undefined && (size === undefined || size <= 0))
      fail("invalid value for argument file-size");
    const allow = text(a.get("nvme-tcp-server-allow-host-name"));
    if (allow !== undefined) checkAllowHosts(allow);
    for (const d of disks) {
      if (size !== undefined && size !== d.fileSize) {
        this.store.grow(d.slot, size);
        this.hooks.onGrow?.(d);
      }
      if (allow !== undefined) this.store.setAllowHost(d.slot, allow);
    }
    return "";
  }

  private diskRemove(cmd: ParsedCommand): string {
    this.argMap(cmd, []);
    const disks = this.select(cmd.target);
    if (disks.length === 0) fail("failure: no such item");
    for (const d of disks) {
      this.store.remove(d.slot);
      this.hooks.onRemove?.(d);
    }
    return "";
  }

  private diskPrint(where: Condition[]): string {
    const entries: { index: number; fields: string[] }[] = [];
    let index = 0;
    for (const p of this.store.usage()) {
      const q = {
        slot: p.mountPoint,
        type: "partition",
        "mount-point": p.mountPoint,
        "file-path": "",
        "nvme-tcp-server-nqn": "",
      };
      if (matches(q, where)) entries.push({ index, fields: partitionFields(p) });
      index++;
    }
    for (const d of this.store.list()) {
      if (matches(diskQueryFields(d), where)) entries.push({ index, fields: diskFields(d) });
      index++;
    }
    return printDetail(DISK_FLAGS, entries);
  }

  private filePrint(where: Condition[]): string {
    const entries: { index: number; fields: string[] }[] = [];
    this.store.files().forEach((f, index) => {
      const q = { name: f.name, type: f.type === "directory" ? "directory" : "file" };
      if (matches(q, where)) entries.push({ index, fields: fileFields(f) });
    });
    return printDetail("", entries);
  }

  private fileRemove(cmd: ParsedCommand): string {
    this.argMap(cmd, []);
    const target = cmd.target;
    if (!target) return fail("failure: no such item");
    const files = this.store.files();
    const chosen =
      target.kind === "find"
        ? files.filter((f) => matches({ name: f.name, type: f.type }, target.conditions))
        : files.filter((f) => f.name === target.text.replace(/^\/+/, ""));
    if (chosen.length === 0) fail("failure: no such item");
    // Deepest first so a directory and its content can go in one command.
    for (const f of chosen.sort((x, y) => y.name.length - x.name.length))
      this.store.removeFile(f.name);
    return "";
  }

  private resourcePrint(): string {
    const up = Math.floor((Date.now() - this.started) / 1000);
    const pool = this.store.usage()[0];
    const uptime = `${String(Math.floor(up / 86400) ? `${String(Math.floor(up / 86400))}d` : "")}${String(Math.floor((up % 86400) / 3600))}h${String(Math.floor((up % 3600) / 60))}m${String(up % 60)}s`;
    return printResource([
      ["uptime", uptime],
      ["version", this.identity.version],
      ["factory-software", "7.16"],
      ["free-memory", formatBinarySize(os.freemem())],
      ["total-memory", formatBinarySize(os.totalmem())],
      ["cpu", "ARM64"],
      ["cpu-count", String(os.cpus().length)],
      ["cpu-load", "1%"],
      ["free-hdd-space", formatBinarySize(pool?.free ?? 0)],
      ["total-hdd-space", formatBinarySize(pool?.total ?? 0)],
      ["architecture-name", "arm64"],
      ["board-name", this.identity.boardName],
      ["platform", "MikroTik"],
    ]);
  }
}

function checkAllowHosts(v: string): void {
  if (v === "") return;
  for (const h of v.split(","))
    if (!NQN.test(h)) fail("invalid value for argument nvme-tcp-server-allow-host-name");
}
