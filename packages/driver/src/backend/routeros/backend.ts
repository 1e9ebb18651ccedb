// StorageBackend over the RouterOS CLI: command lines from commands.ts, output from parser.ts,
// transport from client.ts. Failures RouterOS prints (often on stdout, exit status 0) become
// typed errors here: "not enough space" → ResourceExhaustedError, anything else a
// RouterOSCommandError carrying the full stdout and stderr.
import { ResourceExhaustedError, RouterOSCommandError, RouterOSParseError } from "../../errors.js";
import type { CreateDiskSpec, Disk, PoolCapacity, StorageBackend } from "../backend.js";
import type { CommandResult, CommandRunner } from "./client.js";
import { commands } from "./commands.js";
import { detectError, parseDetail, parseDisks, parseSize, type DiskRecord } from "./parser.js";

function toDisk(r: DiskRecord): Disk {
  return {
    slot: r.slot,
    filePath: r.filePath,
    sizeBytes: r.sizeBytes,
    export: r.nvmeExport ? { nqn: r.nqn, port: r.nvmePort } : undefined,
  };
}

export class RouterOSBackend implements StorageBackend {
  constructor(private readonly runner: CommandRunner) {}

  private async exec(command: string, readOnly: boolean): Promise<CommandResult> {
    const result = await this.runner.run(command, { readOnly });
    const failure = detectError(result.stdout) ?? detectError(result.stderr);
    if (failure !== undefined || (result.exitCode !== null && result.exitCode !== 0)) {
      const err = new RouterOSCommandError(failure ?? "RouterOS command failed", command, result.stdout, result.stderr, result.exitCode);
      if (err.isNoSpace) throw new ResourceExhaustedError(`RDS storage pool is full: ${failure ?? ""}`.trim(), { cause: err });
      throw err;
    }
    return result;
  }

  async probe(): Promise<void> {
    const { stdout } = await this.exec(commands.systemResource(), true);
    if (stdout.trim() === "") throw new RouterOSParseError("empty answer to /system resource print", stdout);
  }

  async getDisk(slot: string): Promise<Disk | undefined> {
    const { stdout } = await this.exec(commands.diskPrint(slot), true);
    // `where` filters server-side; filter again so a sloppy filter can never hand back another disk.
    const found = parseDisks(stdout).find((d) => d.slot === slot);
    return found ? toDisk(found) : undefined;
  }

  async listDisks(): Promise<Disk[]> {
    const { stdout } = await this.exec(commands.diskPrint(), true);
    return parseDisks(stdout).map(toDisk);
  }

  async createDisk(spec: CreateDiskSpec): Promise<void> {
    await this.exec(commands.diskAdd(spec), false);
  }

  async resizeDisk(slot: string, sizeBytes: bigint): Promise<void> {
    await this.exec(commands.diskResize(slot, sizeBytes), false);
  }

  async removeDisk(slot: string): Promise<void> {
    try {
      await this.exec(commands.diskRemove(slot), false);
    } catch (err) {
      if (err instanceof RouterOSCommandError && err.isNoSuchItem) return;
      throw err;
    }
  }

  async removeFile(path: string): Promise<void> {
    try {
      await this.exec(commands.fileRemove(path), false);
    } catch (err) {
      if (err instanceof RouterOSCommandError && err.isNoSuchItem) return;
      throw err;
    }
  }

  async capacity(poolDir: string): Promise<PoolCapacity> {
    const { stdout } = await this.exec(commands.poolPrint(poolDir), true);
    const rec = parseDetail(stdout).find((r) => r.fields.has("free"));
    const total = parseSize(rec?.fields.get("size"));
    const free = parseSize(rec?.fields.get("free"));
    if (total === undefined || free === undefined) throw new RouterOSParseError(`no size/free for ${poolDir}`, stdout);
    return { totalBytes: total, freeBytes: free };
  }

  async close(): Promise<void> {
    await this.runner.close();
  }
}
