// The simulated RDS's disk table: file-backed disks (sparse files under the pool directory),
// persisted as JSON in the state dir so the table survives restarts.
import fs from "node:fs";
import path from "node:path";
import { run } from "../exec.js";

export interface Disk {
  slot: string;
  type: "file";
  /** RouterOS file path as given (with a leading slash), e.g. `/storage-pool/csi/pvc-1.img`. */
  filePath: string;
  fileSize: number;
  nvmeTcpExport: boolean;
  nvmeTcpServerPort: number;
  nvmeTcpServerNqn: string;
  allowHostName: string;
  createdAt: string;
}

export class DiskStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DiskStoreError";
  }
}

export interface DiskStoreOptions {
  stateDir: string;
  /** Root of the RDS file namespace: `/storage-pool/x.img` lives at `<poolDir>/storage-pool/x.img`. */
  poolDir: string;
  /** Names of the pool mount points shown as partition disks (first path components). */
  mountPoints?: string[];
  /** Optional capacity limit in bytes, so tests can fill the pool cheaply. */
  capacityBytes?: number;
}

export interface PoolUsage {
  mountPoint: string;
  total: number;
  free: number;
}

export class DiskStore {
  readonly poolDir: string;
  readonly mountPoints: string[];
  capacityBytes: number | undefined;
  private readonly tablePath: string;
  private disks: Disk[] = [];

  constructor(opts: DiskStoreOptions) {
    this.poolDir = path.resolve(opts.poolDir);
    this.mountPoints = opts.mountPoints ?? ["storage-pool", "storage"];
    this.capacityBytes = opts.capacityBytes;
    this.tablePath = path.join(opts.stateDir, "disks.json");
    fs.mkdirSync(this.poolDir, { recursive: true });
    for (const mp of this.mountPoints)
      fs.mkdirSync(path.join(this.poolDir, mp), { recursive: true });
    if (fs.existsSync(this.tablePath)) {
      this.disks = JSON.parse(fs.readFileSync(this.tablePath, "utf8")) as Disk[];
    }
  }

  list(): readonly Disk[] {
    return this.disks;
  }

  bySlot(slot: string): Disk | undefined {
    return this.disks.find((d) => d.slot === slot);
  }

  byNqn(nqn: string): Disk | undefined {
    return this.disks.find((d) => d.nvmeTcpExport && d.nvmeTcpServerNqn === nqn);
  }

  /** Host path of a RouterOS file path; refuses anything that would leave the pool. */
  hostPath(filePath: string): string {
    const rel = filePath.replace(/^\/+/, "");
    const parts = rel.split("/");
    if (!rel || parts.some((p) => p === "" || p === "." || p === "..")) {
      throw new DiskStoreError("failure: invalid file path");
    }
    return path.join(this.poolDir, ...parts);
  }

  usage(): PoolUsage[] {
    const st = fs.statfsSync(this.poolDir);
    const allocated = this.disks.reduce((n, d) => n + d.fileSize, 0);
    // File disks are sparse here, but a real pool reserves their nominal size: count it as used.
    const total = this.capacityBytes ?? st.blocks * st.bsize;
    const free = Math.max(0, (this.capacityBytes ?? st.bavail * st.bsize) - allocated);
    return this.mountPoints.map((mountPoint) => ({ mountPoint, total, free }));
  }

  private freeBytes(): number {
    return this.usage()[0]?.free ?? 0;
  }

  async add(disk: Omit<Disk, "createdAt">, copyFrom?: Disk): Promise<Disk> {
    if (this.bySlot(disk.slot))
      throw new DiskStoreError("failure: item with such slot already exists");
    if (disk.nvmeTcpExport && this.byNqn(disk.nvmeTcpServerNqn)) {
      throw new DiskStoreError("failure: nvme-tcp-server-nqn already in use");
    }
    const file = this.hostPath(disk.filePath);
    const mount = disk.filePath.replace(/^\/+/, "").split("/")[0] ?? "";
    if (!this.mountPoints.includes(mount)) throw new DiskStoreError("failure: no such mount point");
    if (fs.existsSync(file)) throw new DiskStoreError("failure: file already exists");
    if (disk.fileSize > this.freeBytes()) throw new DiskStoreError("failure: not enough space");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (copyFrom) {
      await run(
        ["cp", "--sparse=always", "--reflink=auto", this.hostPath(copyFrom.filePath), file],
        300_000,
      );
      if (fs.statSync(file).size < disk.fileSize) fs.truncateSync(file, disk.fileSize);
    } else {
      const fd = fs.openSync(file, "wx");
      try {
        fs.ftruncateSync(fd, disk.fileSize);
      } finally {
        fs.closeSync(fd);
      }
    }
    const rec: Disk = {
      ...disk,
      fileSize: fs.statSync(file).size,
      createdAt: new Date().toISOString(),
    };
    this.disks.push(rec);
    this.save();
    return rec;
  }

  /** Grows a disk's backing file; shrinking is refused. */
  grow(slot: string, bytes: number): Disk {
    const disk = this.bySlot(slot);
    if (!disk) throw new DiskStoreError("failure: no such item");
    if (bytes < disk.fileSize)
      throw new DiskStoreError("failure: new size is smaller than current size");
    if (bytes - disk.fileSize > this.freeBytes())
      throw new DiskStoreError("failure: not enough space");
    fs.truncateSync(this.hostPath(disk.filePath), bytes);
    disk.fileSize = bytes;
    this.save();
    return disk;
  }

  setAllowHost(slot: string, value: string): Disk {
    const disk = this.bySlot(slot);
    if (!disk) throw new DiskStoreError("failure: no such item");
    disk.allowHostName = value;
    this.save();
    return disk;
  }

  /** Removes the disk entry; like RouterOS, the backing file stays until `/file remove`. */
  remove(slot: string): Disk {
    const disk = this.bySlot(slot);
    if (!disk) throw new DiskStoreError("failure: no such item");
    this.disks = this.disks.filter((d) => d !== disk);
    this.save();
    return disk;
  }

  /** Files and directories under the pool, RouterOS-named (no leading slash). */
  files(): { name: string; type: "directory" | "file"; size: number; mtime: Date }[] {
    const out: { name: string; type: "directory" | "file"; size: number; mtime: Date }[] = [];
    const walk = (dir: string, rel: string): void => {
      for (const ent of fs
        .readdirSync(dir, { withFileTypes: true })
        .sort((a, b) => a.name.localeCompare(b.name))) {
        const full = path.join(dir, ent.name);
        const name = rel ? `${rel}/${ent.name}` : ent.name;
        const st = fs.statSync(full);
        if (ent.isDirectory()) {
          out.push({ name, type: "directory", size: 0, mtime: st.mtime });
          walk(full, name);
        } else if (ent.isFile()) {
          out.push({ name, type: "file", size: st.size, mtime: st.mtime });
        }
      }
    };
    walk(this.poolDir, "");
    return out;
  }

  removeFile(name: string): void {
    const file = this.hostPath(name);
    if (this.disks.some((d) => this.hostPath(d.filePath) === file))
      throw new DiskStoreError("failure: file is in use");
    const st = fs.statSync(file, { throwIfNoEntry: false });
    if (!st) throw new DiskStoreError("failure: no such item");
    if (st.isDirectory()) fs.rmdirSync(file);
    else fs.unlinkSync(file);
  }

  private save(): void {
    const tmp = `${this.tablePath}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.disks, null, 2));
    fs.renameSync(tmp, this.tablePath);
  }
}
