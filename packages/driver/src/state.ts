// The node's volume records: one JSON file per staged volume under <stateDir>/volumes/. They are
// what lets the health monitor (and a restarted plugin) know which NQN, device and publish targets
// belong to a staging path. Writes are atomic (temp file + fsync + rename + fsync of the directory),
// so a crash leaves either the old or the new record, never half of one.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";

export type AccessType = "mount" | "block";

export interface PublishTarget {
  targetPath: string;
  readonly: boolean;
  mountFlags: string[];
}

export interface VolumeRecord {
  version: 1;
  volumeId: string;
  nqn: string;
  /** what `nvme connect` was run with, so a reconnect after a restart needs no CSI call */
  connect: { address: string; port: number; ctrlLossTmo: number; reconnectDelay: number; keepAliveTmo: number };
  stagingPath: string;
  accessType: AccessType;
  /** filesystem type (mount access only) */
  fsType?: string;
  /** mount flags of the staging mount (mount access only) */
  mountFlags: string[];
  /** CSI access mode number of the stage request (for compatibility checks) */
  accessMode: number;
  /** the namespace block device as of the last successful stage or recovery */
  device: { name: string; devPath: string; major: number; minor: number };
  /** the PVC the volume belongs to, from the volume context */
  pvc?: { namespace: string; name: string };
  publishTargets: PublishTarget[];
  stagedAt: string;
  updatedAt: string;
}

export class StateCorruptError extends Error {
  override readonly name = "StateCorruptError";
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`volume record ${file}: ${message}`);
  }
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** File name of a volume's record. IDs outside a safe charset are hashed (never used as a path). */
export function recordFileName(volumeId: string): string {
  if (SAFE_ID.test(volumeId)) return `${volumeId}.json`;
  return `h-${createHash("sha256").update(volumeId).digest("hex").slice(0, 40)}.json`;
}

function checkRecord(file: string, v: unknown): VolumeRecord {
  const r = v as Partial<VolumeRecord> | null;
  if (typeof r !== "object" || r === null) throw new StateCorruptError(file, "not an object");
  if (r.version !== 1) throw new StateCorruptError(file, `unknown version ${String(r.version)}`);
  for (const key of ["volumeId", "nqn", "stagingPath", "accessType"] as const) {
    if (typeof r[key] !== "string" || r[key] === "") throw new StateCorruptError(file, `field ${key} missing`);
  }
  if (!r.device || typeof r.device.major !== "number" || typeof r.device.minor !== "number") {
    throw new StateCorruptError(file, "field device missing");
  }
  if (!r.connect || typeof r.connect.address !== "string") throw new StateCorruptError(file, "field connect missing");
  if (!Array.isArray(r.publishTargets)) throw new StateCorruptError(file, "field publishTargets missing");
  if (!Array.isArray(r.mountFlags)) throw new StateCorruptError(file, "field mountFlags missing");
  return r as VolumeRecord;
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Durable store of volume records with an in-memory copy (the monitor reads it every cycle). One
 * process owns a state directory; callers serialise writes to one volume (the per-volume lock).
 */
export class StateStore {
  private readonly dir: string;
  private readonly records = new Map<string, VolumeRecord>();
  private opened = false;

  constructor(stateDir: string) {
    this.dir = path.join(stateDir, "volumes");
  }

  /**
   * Creates the directory and loads every record. Corrupt files are reported (and left in place
   * for a human to look at) rather than thrown, so one bad file does not take the node down.
   */
  async open(): Promise<{ loaded: number; corrupt: StateCorruptError[] }> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const corrupt: StateCorruptError[] = [];
    this.records.clear();
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith(".json")) continue; // temp files of an interrupted write
      const file = path.join(this.dir, name);
      try {
        const rec = checkRecord(file, JSON.parse(await readFile(file, "utf8")));
        if (recordFileName(rec.volumeId) !== name) throw new StateCorruptError(file, `holds volume ${rec.volumeId}`);
        this.records.set(rec.volumeId, rec);
      } catch (err) {
        corrupt.push(err instanceof StateCorruptError ? err : new StateCorruptError(file, (err as Error).message));
      }
    }
    // Leftover temp files from a crash mid-write are garbage by construction.
    for (const name of await readdir(this.dir)) {
      if (name.includes(".tmp-")) await rm(path.join(this.dir, name), { force: true });
    }
    this.opened = true;
    return { loaded: this.records.size, corrupt };
  }

  private ensureOpen(): void {
    if (!this.opened) throw new Error("StateStore used before open()");
  }

  get(volumeId: string): VolumeRecord | undefined {
    this.ensureOpen();
    const r = this.records.get(volumeId);
    return r ? structuredClone(r) : undefined;
  }

  list(): VolumeRecord[] {
    this.ensureOpen();
    return [...this.records.values()].map((r) => structuredClone(r));
  }

  /** Records whose staging path or one of whose publish targets is `p`. */
  findByPath(p: string): VolumeRecord | undefined {
    this.ensureOpen();
    for (const r of this.records.values()) {
      if (r.stagingPath === p || r.publishTargets.some((t) => t.targetPath === p)) return structuredClone(r);
    }
    return undefined;
  }

  async save(record: VolumeRecord): Promise<void> {
    this.ensureOpen();
    const rec: VolumeRecord = { ...structuredClone(record), updatedAt: new Date().toISOString() };
    const file = path.join(this.dir, recordFileName(rec.volumeId));
    const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    const fh = await open(tmp, "w", 0o600);
    try {
      await fh.writeFile(JSON.stringify(rec, null, 2) + "\n");
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    await fsyncDir(this.dir);
    this.records.set(rec.volumeId, rec);
  }

  async remove(volumeId: string): Promise<void> {
    this.ensureOpen();
    await rm(path.join(this.dir, recordFileName(volumeId)), { force: true });
    await fsyncDir(this.dir);
    this.records.delete(volumeId);
  }
}
