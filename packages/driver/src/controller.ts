// CSI Controller service over a StorageBackend (the RDS, through RouterOS commands).
//
// Order inside every RPC: validate the request (INVALID_ARGUMENT before any lookup) → take the
// per-key lock (ABORTED if busy) → look up → act → read back. Unknown or malformed IDs are
// NOT_FOUND (or OK for deletes), never INVALID_ARGUMENT: csi-sanity uses `fake-vol-id-…`.
// An unreachable RDS surfaces as UNAVAILABLE (BackendUnavailableError from the SSH client),
// a full pool as RESOURCE_EXHAUSTED. Sizes are rounded UP to the RDS allocation unit and the
// size actually allocated (read back from the RDS) is what is returned and compared on retries.
import {
  type ControllerServiceCapability,
  ControllerServiceCapability_RPC_Type as Rpc,
  type ControllerService,
  type CapacityRange,
  type ListSnapshotsResponse_Entry,
  type Snapshot,
  type Volume,
  type VolumeCapability,
  VolumeCapability_AccessMode_Mode as Mode,
  type VolumeContentSource,
} from "./gen/csi.js";
import type { Disk, StorageBackend } from "./backend/backend.js";
import { ALLOCATION_UNIT, roundUpToAllocation } from "./backend/routeros/commands.js";
import {
  AbortedError,
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  OutOfRangeError,
  RouterOSCommandError,
} from "./errors.js";
import { KeyedLocks } from "./locks.js";
import type { ServiceImplementation } from "./server.js";
import {
  isVolumeId,
  nqnForVolume,
  parseSnapshotFile,
  parseSnapshotId,
  parseVolumeFile,
  snapshotFilePath,
  snapshotIdFor,
  snapshotKeyForName,
  volumeFilePath,
  volumeIdForName,
} from "./volume-id.js";

const MiB = 1024n * 1024n;
const GiB = 1024n * MiB;

/** Volume context keys handed to the node (contracts.md). */
export const VolumeContextKeys = {
  nqn: "nqn",
  nvmeAddress: "nvmeAddress",
  nvmePort: "nvmePort",
  pvcName: "csi.storage.k8s.io/pvc/name",
  pvcNamespace: "csi.storage.k8s.io/pvc/namespace",
} as const;

/** StorageClass parameters this controller reads. */
export const Parameters = {
  nvmeAddress: "nvmeAddress",
  nvmePort: "nvmePort",
} as const;

export interface ControllerOptions {
  backend: StorageBackend;
  /** Directory on the RDS holding backing files, e.g. `/storage/csi`. */
  poolDir: string;
  /** Address nodes connect to for NVMe/TCP (data plane). */
  nvmeAddress: string;
  /** NVMe/TCP port exported for new volumes. */
  nvmePort: number;
  minVolumeBytes?: bigint;
  maxVolumeBytes?: bigint;
  /** Size when the request gives none. */
  defaultVolumeBytes?: bigint;
  locks?: KeyedLocks;
  /** Clock for snapshot creation times (tests). */
  now?: () => number;
}

export const CONTROLLER_CAPABILITIES: readonly Rpc[] = [
  Rpc.CREATE_DELETE_VOLUME,
  Rpc.LIST_VOLUMES,
  Rpc.GET_CAPACITY,
  Rpc.CREATE_DELETE_SNAPSHOT,
  Rpc.LIST_SNAPSHOTS,
  Rpc.CLONE_VOLUME,
  Rpc.EXPAND_VOLUME,
];

/** Modes whose data safety does not depend on the access type. */
const SINGLE_NODE_MODES = new Set([
  Mode.SINGLE_NODE_WRITER,
  Mode.SINGLE_NODE_READER_ONLY,
  Mode.SINGLE_NODE_SINGLE_WRITER,
  Mode.SINGLE_NODE_MULTI_WRITER,
  Mode.MULTI_NODE_READER_ONLY,
]);
/** Several writers on several nodes: only raw block (a shared filesystem would be corrupted). */
const MULTI_WRITER_MODES = new Set([Mode.MULTI_NODE_SINGLE_WRITER, Mode.MULTI_NODE_MULTI_WRITER]);

/** Why a capability is unsupported, or undefined when it is fine. */
export function capabilityProblem(cap: VolumeCapability): string | undefined {
  const access = cap.accessType?.$case;
  if (access !== "block" && access !== "mount") return "volume capability must set block or mount";
  const mode = cap.accessMode?.mode;
  if (mode === undefined || mode === Mode.UNKNOWN || mode === Mode.UNRECOGNIZED) return "volume capability needs an access mode";
  if (SINGLE_NODE_MODES.has(mode)) return undefined;
  if (MULTI_WRITER_MODES.has(mode)) return access === "block" ? undefined : `access mode ${Mode[mode]} is only supported for block volumes`;
  return `access mode ${String(mode)} is not supported`;
}

function requireCapabilities(caps: VolumeCapability[] | undefined): VolumeCapability[] {
  if (!caps || caps.length === 0) throw new InvalidArgumentError("volume_capabilities is required");
  for (const cap of caps) {
    const problem = capabilityProblem(cap);
    if (problem) throw new InvalidArgumentError(problem);
  }
  return caps;
}

function required(value: string, field: string): string {
  if (value === "") throw new InvalidArgumentError(`${field} is required`);
  return value;
}

/** Decimal-offset page token; anything else (csi-sanity sends `invalid-token`) → ABORTED. */
export function parseToken(token: string, total: number): number {
  if (token === "") return 0;
  if (!/^\d{1,9}$/.test(token)) throw new AbortedError(`invalid starting_token ${JSON.stringify(token)}`);
  const n = Number(token);
  if (n > total) throw new AbortedError(`starting_token ${n} is beyond the ${total} entries`);
  return n;
}

function page<T>(items: T[], maxEntries: number, token: string): { items: T[]; nextToken: string } {
  if (maxEntries < 0) throw new InvalidArgumentError("max_entries must not be negative");
  const start = parseToken(token, items.length);
  const end = maxEntries === 0 ? items.length : Math.min(items.length, start + maxEntries);
  return { items: items.slice(start, end), nextToken: end < items.length ? String(end) : "" };
}

const HOST = /^[A-Za-z0-9]([A-Za-z0-9.:-]{0,252})$/;

export function createControllerService(options: ControllerOptions): ServiceImplementation<typeof ControllerService> {
  const backend = options.backend;
  const poolDir = options.poolDir.replace(/\/+$/, "");
  const minBytes = roundUpToAllocation(options.minVolumeBytes ?? ALLOCATION_UNIT);
  const maxBytes = options.maxVolumeBytes ?? 16n * 1024n * GiB;
  const defaultBytes = options.defaultVolumeBytes ?? GiB;
  const locks = options.locks ?? new KeyedLocks();
  const now = options.now ?? Date.now;

  /**
   * The allocation for a capacity range: at least `required`, never above `limit`, rounded up
   * to the allocation unit. limit < required → INVALID_ARGUMENT; impossible ranges → OUT_OF_RANGE.
   */
  function sizeFor(range: CapacityRange | undefined, atLeast = 0n): bigint {
    const req = range?.requiredBytes ?? 0n;
    const limit = range?.limitBytes ?? 0n;
    if (req < 0n || limit < 0n) throw new InvalidArgumentError("capacity_range values must not be negative");
    if (limit > 0n && limit < req) throw new InvalidArgumentError(`limit_bytes ${limit} is smaller than required_bytes ${req}`);
    if (req > maxBytes) throw new OutOfRangeError(`required_bytes ${req} exceeds the maximum volume size ${maxBytes}`);
    let want = req > 0n ? req : limit > 0n && limit < defaultBytes ? (limit / ALLOCATION_UNIT) * ALLOCATION_UNIT : defaultBytes;
    if (want < atLeast) want = atLeast;
    if (want < minBytes) want = minBytes;
    const size = roundUpToAllocation(want);
    if (limit > 0n && size > limit) {
      throw new OutOfRangeError(`cannot allocate ${size} bytes (allocation unit ${ALLOCATION_UNIT}, minimum ${minBytes}) within limit_bytes ${limit}`);
    }
    if (size > maxBytes) throw new OutOfRangeError(`size ${size} exceeds the maximum volume size ${maxBytes}`);
    return size;
  }

  function sizeFits(size: bigint | undefined, range: CapacityRange | undefined): boolean {
    if (size === undefined) return false;
    const req = range?.requiredBytes ?? 0n;
    const limit = range?.limitBytes ?? 0n;
    return size >= req && (limit === 0n || size <= limit);
  }

  /** A disk this driver created as a volume (slot = volume ID, backing file in the pool, exported). */
  function volumeInfo(disk: Disk | undefined): { sourceId: string | undefined } | undefined {
    if (!disk || !isVolumeId(disk.slot) || !disk.export) return undefined;
    const f = parseVolumeFile(poolDir, disk.filePath);
    return f && f.volumeId === disk.slot ? { sourceId: f.sourceId } : undefined;
  }

  function snapshotInfo(disk: Disk | undefined): { sourceVolumeId: string; createdAtSeconds: number } | undefined {
    if (!disk || disk.export) return undefined;
    const id = parseSnapshotId(disk.slot);
    const f = parseSnapshotFile(poolDir, disk.filePath);
    return id && f && f.snapshotId === disk.slot ? { sourceVolumeId: id.sourceVolumeId, createdAtSeconds: f.createdAtSeconds } : undefined;
  }

  function contentSourceOf(sourceId: string | undefined): VolumeContentSource | undefined {
    if (sourceId === undefined) return undefined;
    return parseSnapshotId(sourceId)
      ? { type: { $case: "snapshot", value: { snapshotId: sourceId } } }
      : { type: { $case: "volume", value: { volumeId: sourceId } } };
  }

  function toVolume(disk: Disk, sourceId: string | undefined, params: Record<string, string>): Volume {
    const ctx: Record<string, string> = {
      [VolumeContextKeys.nqn]: disk.export?.nqn ?? nqnForVolume(disk.slot),
      [VolumeContextKeys.nvmeAddress]: params[Parameters.nvmeAddress] ?? options.nvmeAddress,
      [VolumeContextKeys.nvmePort]: String(disk.export?.port ?? options.nvmePort),
    };
    for (const key of [VolumeContextKeys.pvcName, VolumeContextKeys.pvcNamespace]) {
      const v = params[key];
      if (v !== undefined && v !== "") ctx[key] = v;
    }
    return {
      volumeId: disk.slot,
      capacityBytes: disk.sizeBytes ?? 0n,
      volumeContext: ctx,
      contentSource: contentSourceOf(sourceId),
      accessibleTopology: [],
    };
  }

  function toSnapshot(disk: Disk, info: { sourceVolumeId: string; createdAtSeconds: number }): Snapshot {
    return {
      snapshotId: disk.slot,
      sourceVolumeId: info.sourceVolumeId,
      sizeBytes: disk.sizeBytes ?? 0n,
      creationTime: { seconds: BigInt(info.createdAtSeconds), nanos: 0 },
      readyToUse: true,
      groupSnapshotId: "",
    };
  }

  function validateParameters(params: Record<string, string>): number {
    const addr = params[Parameters.nvmeAddress];
    if (addr !== undefined && !HOST.test(addr)) throw new InvalidArgumentError(`invalid parameter ${Parameters.nvmeAddress}: ${JSON.stringify(addr)}`);
    const port = params[Parameters.nvmePort];
    if (port === undefined) return options.nvmePort;
    if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
      throw new InvalidArgumentError(`invalid parameter ${Parameters.nvmePort}: ${JSON.stringify(port)}`);
    }
    return Number(port);
  }

  async function listOurs(): Promise<{ volumes: { disk: Disk; sourceId: string | undefined }[]; snapshots: { disk: Disk; info: { sourceVolumeId: string; createdAtSeconds: number } }[] }> {
    const disks = await backend.listDisks();
    const volumes = [];
    const snapshots = [];
    for (const disk of disks) {
      const v = volumeInfo(disk);
      if (v) volumes.push({ disk, sourceId: v.sourceId });
      const s = snapshotInfo(disk);
      if (s) snapshots.push({ disk, info: s });
    }
    const bySlot = (a: { disk: Disk }, b: { disk: Disk }) => (a.disk.slot < b.disk.slot ? -1 : a.disk.slot > b.disk.slot ? 1 : 0);
    return { volumes: volumes.sort(bySlot), snapshots: snapshots.sort(bySlot) };
  }

  return {
    controllerGetCapabilities: async () => ({
      capabilities: CONTROLLER_CAPABILITIES.map(
        (type): ControllerServiceCapability => ({ type: { $case: "rpc", value: { type } } }),
      ),
    }),

    createVolume: async (req, ctx) => {
      const name = required(req.name, "name");
      requireCapabilities(req.volumeCapabilities);
      const port = validateParameters(req.parameters);
      const source = req.volumeContentSource?.type;
      if (req.volumeContentSource && !source) throw new InvalidArgumentError("volume_content_source has no source set");
      const sourceId = source?.$case === "snapshot" ? source.value.snapshotId : source?.$case === "volume" ? source.value.volumeId : undefined;
      if (source && !sourceId) throw new InvalidArgumentError(`volume_content_source.${source.$case} needs an ID`);
      sizeFor(req.capacityRange); // range checks before any lookup

      const volumeId = volumeIdForName(name);
      ctx.log.info({ volumeId }, "CreateVolume: name mapped to volume ID");
      // The source is only read: held shared, so many volumes can be made from one snapshot at
      // once, while deleting that snapshot (exclusive) conflicts with them.
      return locks.withLocks({ exclusive: [volumeId], shared: sourceId ? [sourceId] : [] }, "CreateVolume", async () => {
        const existing = await backend.getDisk(volumeId);
        if (existing) {
          const info = volumeInfo(existing);
          if (!info) throw new AlreadyExistsError(`RDS slot ${volumeId} is taken by a disk that is not a volume of this driver`);
          if (info.sourceId !== sourceId) {
            throw new AlreadyExistsError(`volume ${volumeId} exists with content source ${info.sourceId ?? "none"}, requested ${sourceId ?? "none"}`);
          }
          if (!sizeFits(existing.sizeBytes, req.capacityRange)) {
            throw new AlreadyExistsError(`volume ${volumeId} exists with ${existing.sizeBytes ?? "unknown"} bytes, incompatible with the requested capacity range`);
          }
          return { volume: toVolume(existing, info.sourceId, req.parameters) };
        }

        // The source must exist (NOT_FOUND otherwise) and bounds the size from below.
        let sourceDisk: Disk | undefined;
        if (sourceId !== undefined) {
          const isSnap = source?.$case === "snapshot";
          const wellFormed = isSnap ? parseSnapshotId(sourceId) !== undefined : isVolumeId(sourceId);
          sourceDisk = wellFormed ? await backend.getDisk(sourceId) : undefined;
          const ok = isSnap ? snapshotInfo(sourceDisk) : volumeInfo(sourceDisk);
          if (!sourceDisk || !ok) throw new NotFoundError(`source ${isSnap ? "snapshot" : "volume"} ${sourceId} does not exist`);
        }
        const size = sizeFor(req.capacityRange, sourceDisk?.sizeBytes ?? 0n);

        const spec = {
          slot: volumeId,
          filePath: volumeFilePath(poolDir, volumeId, sourceId),
          sizeBytes: size,
          copyFromSlot: sourceId,
          export: { nqn: nqnForVolume(volumeId), port },
        };
        try {
          await backend.createDisk(spec);
        } catch (err) {
          // A crash between `/disk remove` and `/file remove` (or during a copy) can leave this
          // volume's own backing file without a disk. The name is this volume's, and RouterOS
          // refuses to remove a file a disk uses, so clearing it and retrying once is safe.
          if (!(err instanceof RouterOSCommandError) || !/file already exists/i.test(err.stdout + err.stderr)) throw err;
          ctx.log.warn({ volumeId, filePath: spec.filePath }, "removing an orphaned backing file of this volume and retrying");
          await backend.removeFile(spec.filePath);
          await backend.createDisk(spec);
        }
        const created = await backend.getDisk(volumeId);
        if (!created || !volumeInfo(created)) throw new Error(`RDS accepted /disk add for ${volumeId} but does not show the disk`);
        if (created.sizeBytes !== undefined && created.sizeBytes < size) {
          ctx.log.warn({ volumeId, requested: size, actual: created.sizeBytes }, "RDS allocated less than requested");
        }
        return { volume: toVolume(created, sourceId, req.parameters) };
      });
    },

    deleteVolume: async (req) => {
      const volumeId = required(req.volumeId, "volume_id");
      if (!isVolumeId(volumeId)) return {}; // no such volume can exist
      return locks.withLock(volumeId, "DeleteVolume", async () => {
        const disk = await backend.getDisk(volumeId);
        if (!disk) {
          // A previous attempt may have removed the disk but not its file.
          await backend.removeFile(volumeFilePath(poolDir, volumeId));
          return {};
        }
        if (!volumeInfo(disk)) throw new FailedPreconditionError(`RDS slot ${volumeId} is not a volume of this driver; not deleting it`);
        await backend.removeDisk(volumeId);
        if (disk.filePath) await backend.removeFile(disk.filePath);
        return {};
      });
    },

    validateVolumeCapabilities: async (req) => {
      const volumeId = required(req.volumeId, "volume_id");
      if (req.volumeCapabilities.length === 0) throw new InvalidArgumentError("volume_capabilities is required");
      const disk = isVolumeId(volumeId) ? await backend.getDisk(volumeId) : undefined;
      if (!volumeInfo(disk)) throw new NotFoundError(`volume ${volumeId} does not exist`);
      const problems = req.volumeCapabilities.map(capabilityProblem).filter((p): p is string => p !== undefined);
      if (problems.length > 0) return { message: problems.join("; ") };
      return {
        message: "",
        confirmed: {
          volumeContext: req.volumeContext,
          volumeCapabilities: req.volumeCapabilities,
          parameters: req.parameters,
          mutableParameters: {},
        },
      };
    },

    listVolumes: async (req) => {
      const { volumes } = await listOurs();
      const p = page(volumes, req.maxEntries, req.startingToken);
      return {
        entries: p.items.map(({ disk, sourceId }) => ({ volume: toVolume(disk, sourceId, {}) })),
        nextToken: p.nextToken,
      };
    },

    getCapacity: async (req) => {
      for (const cap of req.volumeCapabilities) {
        const problem = capabilityProblem(cap);
        if (problem) return { availableCapacity: 0n, minimumVolumeSize: minBytes };
      }
      const { freeBytes } = await backend.capacity(poolDir);
      const usable = (freeBytes / ALLOCATION_UNIT) * ALLOCATION_UNIT;
      return {
        availableCapacity: freeBytes,
        maximumVolumeSize: usable < maxBytes ? usable : maxBytes,
        minimumVolumeSize: minBytes,
      };
    },

    controllerExpandVolume: async (req) => {
      const volumeId = required(req.volumeId, "volume_id");
      if (!req.capacityRange) throw new InvalidArgumentError("capacity_range is required");
      if (req.volumeCapability) {
        const problem = capabilityProblem(req.volumeCapability);
        if (problem) throw new InvalidArgumentError(problem);
      }
      const size = sizeFor(req.capacityRange);
      const nodeExpansionRequired = req.volumeCapability?.accessType?.$case !== "block";
      if (!isVolumeId(volumeId)) throw new NotFoundError(`volume ${volumeId} does not exist`);
      return locks.withLock(volumeId, "ControllerExpandVolume", async () => {
        const disk = await backend.getDisk(volumeId);
        if (!volumeInfo(disk) || !disk) throw new NotFoundError(`volume ${volumeId} does not exist`);
        if (disk.sizeBytes !== undefined && disk.sizeBytes >= size) {
          return { capacityBytes: disk.sizeBytes, nodeExpansionRequired };
        }
        await backend.resizeDisk(volumeId, size);
        const after = await backend.getDisk(volumeId);
        if (!after) throw new Error(`volume ${volumeId} vanished during expansion`);
        return { capacityBytes: after.sizeBytes ?? size, nodeExpansionRequired };
      });
    },

    createSnapshot: async (req, ctx) => {
      const name = required(req.name, "name");
      const sourceVolumeId = required(req.sourceVolumeId, "source_volume_id");
      if (!isVolumeId(sourceVolumeId)) throw new NotFoundError(`source volume ${sourceVolumeId} does not exist`);
      const snapshotId = snapshotIdFor(name, sourceVolumeId);
      const key = snapshotKeyForName(name);
      return locks.withLocks({ exclusive: [`snapshot-name:${key}`], shared: [sourceVolumeId] }, "CreateSnapshot", async () => {
        // Same name taken from another source? The key is the name part of every snapshot ID.
        const { snapshots } = await listOurs();
        const sameName = snapshots.find((s) => parseSnapshotId(s.disk.slot)?.key === key);
        if (sameName) {
          if (sameName.info.sourceVolumeId !== sourceVolumeId) {
            throw new AlreadyExistsError(`snapshot ${name} exists for source volume ${sameName.info.sourceVolumeId}`);
          }
          return { snapshot: toSnapshot(sameName.disk, sameName.info) };
        }
        const source = await backend.getDisk(sourceVolumeId);
        if (!volumeInfo(source)) throw new NotFoundError(`source volume ${sourceVolumeId} does not exist`);
        const createdAtSeconds = Math.floor(now() / 1000);
        const filePath = snapshotFilePath(poolDir, snapshotId, createdAtSeconds);
        ctx.log.info({ snapshotId, filePath }, "CreateSnapshot: copying source volume");
        await backend.createDisk({ slot: snapshotId, filePath, copyFromSlot: sourceVolumeId });
        const created = await backend.getDisk(snapshotId);
        const info = snapshotInfo(created);
        if (!created || !info) throw new Error(`RDS accepted /disk add for ${snapshotId} but does not show the snapshot`);
        return { snapshot: toSnapshot(created, info) };
      });
    },

    deleteSnapshot: async (req) => {
      const snapshotId = required(req.snapshotId, "snapshot_id");
      if (!parseSnapshotId(snapshotId)) return {};
      return locks.withLock(snapshotId, "DeleteSnapshot", async () => {
        const disk = await backend.getDisk(snapshotId);
        if (!disk) return {};
        if (!snapshotInfo(disk)) throw new FailedPreconditionError(`RDS slot ${snapshotId} is not a snapshot of this driver; not deleting it`);
        await backend.removeDisk(snapshotId);
        if (disk.filePath) await backend.removeFile(disk.filePath);
        return {};
      });
    },

    listSnapshots: async (req) => {
      if (req.snapshotId !== "" && !parseSnapshotId(req.snapshotId)) return { entries: [], nextToken: "" };
      let { snapshots } = await listOurs();
      if (req.snapshotId !== "") snapshots = snapshots.filter((s) => s.disk.slot === req.snapshotId);
      if (req.sourceVolumeId !== "") snapshots = snapshots.filter((s) => s.info.sourceVolumeId === req.sourceVolumeId);
      const p = page(snapshots, req.maxEntries, req.startingToken);
      return {
        entries: p.items.map(({ disk, info }): ListSnapshotsResponse_Entry => ({ snapshot: toSnapshot(disk, info) })),
        nextToken: p.nextToken,
      };
    },
  };
}
