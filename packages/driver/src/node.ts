// The CSI Node service: NVMe/TCP connect, staging (format only when blkid says empty, mount),
// publish (bind mounts; block volumes bind the device node onto a file), stats, expansion.
//
// Every mutating RPC holds the per-volume lock (a concurrent call on the same volume gets ABORTED,
// the health monitor's recovery takes the same lock) and is idempotent: it looks at what is
// really there (mountinfo, sysfs, the volume record) before doing anything. The volume record in
// the state dir is written after the host change it describes, so a crash in between leaves a
// host state the next call (or the monitor's reconcile) recognises.
import { mkdir, lstat, open, rm, rmdir } from "node:fs/promises";
import path from "node:path";
import {
  blockDeviceNumber,
  FormatRefusedError,
  readMountTable,
  sameDev,
  SUPPORTED_FILESYSTEMS,
  type DeviceResolver,
  type Mounter,
  type ResolvedDevice,
} from "@rds-nvme-csi/mountinfo";
import { status } from "@grpc/grpc-js";
import { connectionFailure, mountFailure, expansionFailed, volumeResized } from "@rds-nvme-csi/events";
import * as csi from "./gen/csi.js";
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  CsiError,
} from "./errors.js";
import type { KeyedLocks } from "./locks.js";
import type { RpcContext, ServiceImplementation } from "./server.js";
import { connectParamsFromContext, type ConnectDefaults, type ConnectParams } from "./nvme/connect-params.js";
import type { NvmeConnector } from "./nvme/connector.js";
import { InvalidConnectParamsError } from "./nvme/errors.js";
import { pvcFromContext, type NodeEvents } from "./node-events.js";
import type { AccessType, PublishTarget, StateStore, VolumeRecord } from "./state.js";

const Mode = csi.VolumeCapability_AccessMode_Mode;

export const SUPPORTED_FS_TYPES: readonly string[] = SUPPORTED_FILESYSTEMS;
export const DEFAULT_FS_TYPE = "ext4";

/** What the health monitor knows about a volume, for NodeGetVolumeStats. */
export interface VolumeConditionSource {
  condition(volumeId: string): csi.VolumeCondition | undefined;
  /** Wakes the monitor (after a stage or publish changed what it watches). */
  wake(): void;
}

export interface NodeServiceOptions {
  nodeId: string;
  connector: NvmeConnector;
  resolver: DeviceResolver;
  mounter: Mounter;
  state: StateStore;
  locks: KeyedLocks;
  events: NodeEvents;
  connectDefaults: ConnectDefaults;
  conditions?: VolumeConditionSource;
  /** root of /proc (mountinfo); default /proc */
  procRoot?: string;
  /** Upper bound for waiting on a device when the caller set no deadline (default 120 s). */
  deviceWaitMs?: number;
  /** Upper bound for waiting on a grown namespace after ns-rescan (default 30 s). */
  expandWaitMs?: number;
}

interface Capability {
  accessType: AccessType;
  fsType?: string;
  mountFlags: string[];
  accessMode: csi.VolumeCapability_AccessMode_Mode;
}

function requireField(value: string, name: string): string {
  if (!value) throw new InvalidArgumentError(`${name} is required`);
  return value;
}

function requireAbsolute(p: string, name: string): string {
  requireField(p, name);
  if (!path.isAbsolute(p)) throw new InvalidArgumentError(`${name} must be an absolute path, got ${JSON.stringify(p)}`);
  return path.resolve(p);
}

/** Reads a VolumeCapability; missing parts are InvalidArgument, unsupported ones FailedPrecondition (spec). */
function capabilityOf(vc: csi.VolumeCapability | undefined): Capability {
  if (!vc) throw new InvalidArgumentError("volume_capability is required");
  if (!vc.accessType) throw new InvalidArgumentError("volume_capability needs block or mount access type");
  const mode = vc.accessMode?.mode ?? Mode.UNKNOWN;
  if (mode === Mode.UNKNOWN || mode === Mode.UNRECOGNIZED) throw new InvalidArgumentError("volume_capability.access_mode is required");
  if (vc.accessType.$case === "block") return { accessType: "block", mountFlags: [], accessMode: mode };
  // A filesystem can be mounted by one node only: multi-node writers would corrupt it.
  if (mode === Mode.MULTI_NODE_MULTI_WRITER || mode === Mode.MULTI_NODE_SINGLE_WRITER) {
    throw new FailedPreconditionError(`access mode ${Mode[mode]} is not supported for filesystem volumes`);
  }
  const fsType = vc.accessType.value.fsType || DEFAULT_FS_TYPE;
  if (!SUPPORTED_FS_TYPES.includes(fsType)) {
    throw new FailedPreconditionError(`fs_type ${JSON.stringify(fsType)} is not supported (${SUPPORTED_FS_TYPES.join(", ")})`);
  }
  return { accessType: "mount", fsType, mountFlags: [...vc.accessType.value.mountFlags], accessMode: mode };
}

const sameFlags = (a: readonly string[], b: readonly string[]) => [...a].sort().join("\0") === [...b].sort().join("\0");

export function isReadOnlyMode(mode: number): boolean {
  const m = mode as csi.VolumeCapability_AccessMode_Mode;
  return m === Mode.SINGLE_NODE_READER_ONLY || m === Mode.MULTI_NODE_READER_ONLY;
}

/** Remaining time of the RPC: the signal covers the deadline; this bounds waits when there is none. */
function deadlineFrom(ms: number): number {
  return Date.now() + ms;
}

async function pathKind(p: string): Promise<"dir" | "file" | "other" | "missing"> {
  try {
    const st = await lstat(p);
    if (st.isDirectory()) return "dir";
    if (st.isFile()) return "file";
    return "other";
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "missing";
    throw err;
  }
}

function deviceOf(d: ResolvedDevice): VolumeRecord["device"] {
  return { name: d.name, devPath: d.devPath, major: d.major, minor: d.minor };
}

export class NodeService {
  private readonly o: Required<Pick<NodeServiceOptions, "procRoot" | "deviceWaitMs" | "expandWaitMs">> & NodeServiceOptions;

  constructor(options: NodeServiceOptions) {
    this.o = { procRoot: "/proc", deviceWaitMs: 120_000, expandWaitMs: 30_000, ...options };
  }

  /** The handlers for CsiServer.addService("Node", csi.NodeService, …). */
  handlers(): ServiceImplementation<typeof csi.NodeService> {
    return {
      nodeStageVolume: (r, c) => this.nodeStageVolume(r, c),
      nodeUnstageVolume: (r, c) => this.nodeUnstageVolume(r, c),
      nodePublishVolume: (r, c) => this.nodePublishVolume(r, c),
      nodeUnpublishVolume: (r, c) => this.nodeUnpublishVolume(r, c),
      nodeGetVolumeStats: (r, c) => this.nodeGetVolumeStats(r, c),
      nodeExpandVolume: (r, c) => this.nodeExpandVolume(r, c),
      nodeGetCapabilities: () => this.nodeGetCapabilities(),
      nodeGetInfo: () => this.nodeGetInfo(),
    };
  }

  // ------------------------------------------------------------------ stage

  async nodeStageVolume(req: csi.NodeStageVolumeRequest, ctx: RpcContext): Promise<csi.NodeStageVolumeResponse> {
    const volumeId = requireField(req.volumeId, "volume_id");
    const stagingPath = requireAbsolute(req.stagingTargetPath, "staging_target_path");
    const cap = capabilityOf(req.volumeCapability);
    let params: ConnectParams;
    try {
      params = connectParamsFromContext(req.volumeContext, this.o.connectDefaults);
    } catch (err) {
      if (err instanceof InvalidConnectParamsError) throw new InvalidArgumentError(`volume_context.${err.message}`);
      throw err;
    }
    const pvc = pvcFromContext(req.volumeContext);

    return this.o.locks.withLock(volumeId, "NodeStageVolume", async () => {
      const existing = this.o.state.get(volumeId);
      if (existing) {
        if (existing.stagingPath !== stagingPath) {
          throw new AlreadyExistsError(`volume ${volumeId} is already staged at ${existing.stagingPath}`);
        }
        if (existing.accessType !== cap.accessType || existing.fsType !== cap.fsType || !sameFlags(existing.mountFlags, cap.mountFlags)) {
          throw new AlreadyExistsError(`volume ${volumeId} is already staged at ${stagingPath} with a different capability`);
        }
        if (existing.nqn !== params.nqn) {
          throw new AlreadyExistsError(`volume ${volumeId} is already staged with NQN ${existing.nqn}, not ${params.nqn}`);
        }
        if (await this.stagedAndCurrent(existing)) {
          ctx.log.info({ device: existing.device.name }, "already staged on the current device");
          return {};
        }
        ctx.log.warn("volume record exists but the staging is not current; staging again");
      }

      // Step durations, logged once at the end (where the time of a stage goes).
      const started = performance.now();
      const steps: Record<string, number> = {};
      const step = (name: string, since: number) => (steps[name] = Math.round(performance.now() - since));

      // 1. connect (idempotent: an existing connection is reused)
      let device: ResolvedDevice;
      try {
        const t = performance.now();
        const res = await this.o.connector.connect(params, { deadline: deadlineFrom(this.o.deviceWaitMs), signal: ctx.signal });
        step("connectMs", t);
        device = res.device;
        ctx.log.info({ how: res.how, device: device.name, dev: `${device.major}:${device.minor}` }, "NVMe device ready");
      } catch (err) {
        await this.o.events.emit(
          volumeId,
          pvc ?? existing?.pvc,
          connectionFailure({ volumeId, node: this.o.nodeId, nqn: params.nqn, address: `${params.address}:${params.port}`, attempts: 1, error: err }),
        );
        throw err;
      }

      // 2. filesystem volumes: format only if blkid says empty, then mount
      if (cap.accessType === "mount") {
        try {
          const t = performance.now();
          await this.mountStaging(device, stagingPath, cap, steps);
          step("formatAndMountMs", t);
        } catch (err) {
          await this.o.events.emit(
            volumeId,
            pvc ?? existing?.pvc,
            mountFailure({ volumeId, node: this.o.nodeId, target: stagingPath, device, error: err }),
          );
          // Do not leave a connection behind that no staged volume accounts for.
          if (!existing) await this.disconnectIfUnused(volumeId, params.nqn, ctx);
          throw err;
        }
      }

      const now = new Date().toISOString();
      const record: VolumeRecord = {
        version: 1,
        volumeId,
        nqn: params.nqn,
        connect: {
          address: params.address,
          port: params.port,
          ctrlLossTmo: params.ctrlLossTmo,
          reconnectDelay: params.reconnectDelay,
          keepAliveTmo: params.keepAliveTmo,
        },
        stagingPath,
        accessType: cap.accessType,
        ...(cap.fsType ? { fsType: cap.fsType } : {}),
        mountFlags: cap.mountFlags,
        accessMode: cap.accessMode,
        device: deviceOf(device),
        ...(pvc ?? existing?.pvc ? { pvc: pvc ?? existing?.pvc } : {}),
        publishTargets: existing?.publishTargets ?? [],
        stagedAt: existing?.stagedAt ?? now,
        updatedAt: now,
      };
      const t = performance.now();
      await this.o.state.save(record);
      step("recordMs", t);
      step("totalMs", started);
      ctx.log.info({ device: device.name, steps }, "staged");
      this.o.conditions?.wake();
      return {};
    });
  }

  /** Is the recorded staging in place: the NQN's device is the recorded one (and mounted at staging for fs)? */
  private async stagedAndCurrent(rec: VolumeRecord): Promise<boolean> {
    const dev = await this.o.resolver.resolve(rec.nqn);
    if (!dev || !sameDev(dev, rec.device)) return false;
    if (rec.accessType === "block") return true;
    const table = await readMountTable(this.o.procRoot);
    const m = table.byMountPoint(rec.stagingPath);
    return m !== undefined && m.major === dev.major && m.minor === dev.minor;
  }

  private async mountStaging(device: ResolvedDevice, stagingPath: string, cap: Capability, steps: Record<string, number>): Promise<void> {
    const fsType = cap.fsType ?? DEFAULT_FS_TYPE;
    await mkdir(stagingPath, { recursive: true, mode: 0o750 });
    const table = await readMountTable(this.o.procRoot);
    const current = table.byMountPoint(stagingPath);
    if (current) {
      if (current.major === device.major && current.minor === device.minor) return; // already mounted
      throw new FailedPreconditionError(
        `staging path ${stagingPath} already has a mount of ${current.source || "?"} (${current.major}:${current.minor}), not ${device.devPath}`,
      );
    }
    // Nothing is formatted unless blkid positively says the device is empty: Mounter.format
    // probes and refuses on any doubt. A refusal because the device already holds the requested
    // filesystem is the normal re-stage case; any other content is not ours to overwrite.
    const t = performance.now();
    try {
      await this.o.mounter.format(device.devPath, fsType);
      steps.formatMs = Math.round(performance.now() - t);
    } catch (err) {
      if (!(err instanceof FormatRefusedError) || err.existingType === undefined) throw err;
      if (err.existingType !== fsType) {
        throw new FailedPreconditionError(`device ${device.devPath} holds ${err.existingType}, the capability asks for ${fsType}`);
      }
    }
    const options = isReadOnlyMode(cap.accessMode) ? [...cap.mountFlags, "ro"] : cap.mountFlags;
    await this.o.mounter.mount(device.devPath, stagingPath, fsType, options);
  }

  // ------------------------------------------------------------------ unstage

  async nodeUnstageVolume(req: csi.NodeUnstageVolumeRequest, ctx: RpcContext): Promise<csi.NodeUnstageVolumeResponse> {
    const volumeId = requireField(req.volumeId, "volume_id");
    const stagingPath = requireAbsolute(req.stagingTargetPath, "staging_target_path");
    return this.o.locks.withLock(volumeId, "NodeUnstageVolume", async () => {
      const rec = this.o.state.get(volumeId);
      if (!rec) {
        // Not ours (never staged, or already unstaged). A leftover mount at the path is still
        // cleaned up so the CO's staging directory ends up empty.
        // (The record can be missing with the volume still staged when the state dir was lost:
        // then the NVMe subsystem behind the mount is disconnected too, if no record uses it.)
        const entry = (await readMountTable(this.o.procRoot)).byMountPoint(stagingPath);
        if (entry) {
          ctx.log.warn({ stagingPath }, "no volume record, but the staging path is mounted; unmounting it");
          const nqn = this.o.resolver.readModel().namespaceByDevice(entry.major, entry.minor)?.subsysnqn;
          await this.o.mounter.unmount(stagingPath);
          if (nqn && !this.o.state.list().some((r) => r.nqn === nqn)) await this.disconnectIfUnused(volumeId, nqn, ctx);
        }
        return {};
      }
      if (rec.stagingPath !== stagingPath) {
        throw new NotFoundError(`volume ${volumeId} is not staged at ${stagingPath} (it is staged at ${rec.stagingPath})`);
      }
      // Our own bind mounts (publish targets the CO did not unpublish) are removed first; any
      // other holder makes the unmount fail with MountBusyError naming it → FailedPrecondition.
      for (const t of rec.publishTargets) await this.removeTarget(t.targetPath, ctx);
      if (rec.accessType === "mount") {
        await this.o.mounter.unmount(stagingPath);
      } else {
        await this.assertBlockUnused(rec);
      }
      await this.disconnectIfUnused(volumeId, rec.nqn, ctx);
      await this.o.state.remove(volumeId);
      this.o.conditions?.wake();
      return {};
    });
  }

  /** A block volume may only be unstaged when nothing but our (already removed) binds uses the device. */
  private async assertBlockUnused(rec: VolumeRecord): Promise<void> {
    const table = await readMountTable(this.o.procRoot);
    const holders = table.byDevice(rec.device.major, rec.device.minor).map((e) => e.mountPoint);
    if (holders.length > 0) {
      throw new FailedPreconditionError(`block volume ${rec.volumeId} (${rec.device.name}) is still mounted at ${holders.join(", ")}`);
    }
  }

  private async disconnectIfUnused(volumeId: string, nqn: string, ctx: RpcContext): Promise<void> {
    const others = this.o.state.list().filter((r) => r.nqn === nqn && r.volumeId !== volumeId);
    if (others.length > 0) {
      ctx.log.info({ nqn, usedBy: others.map((r) => r.volumeId) }, "NQN still used by another staged volume; not disconnecting");
      return;
    }
    const n = await this.o.connector.disconnect(nqn, ctx.signal);
    ctx.log.info({ nqn, controllers: n }, "disconnected");
  }

  // ------------------------------------------------------------------ publish

  async nodePublishVolume(req: csi.NodePublishVolumeRequest, ctx: RpcContext): Promise<csi.NodePublishVolumeResponse> {
    const volumeId = requireField(req.volumeId, "volume_id");
    const targetPath = requireAbsolute(req.targetPath, "target_path");
    const cap = capabilityOf(req.volumeCapability);
    if (!req.stagingTargetPath) {
      throw new FailedPreconditionError("staging_target_path is required: this plugin has STAGE_UNSTAGE_VOLUME");
    }
    const stagingPath = requireAbsolute(req.stagingTargetPath, "staging_target_path");
    const readonly = req.readonly || isReadOnlyMode(cap.accessMode);

    return this.o.locks.withLock(volumeId, "NodePublishVolume", async () => {
      const rec = this.o.state.get(volumeId);
      if (!rec) throw new FailedPreconditionError(`volume ${volumeId} is not staged on this node (call NodeStageVolume first)`);
      if (rec.stagingPath !== stagingPath) {
        throw new FailedPreconditionError(`volume ${volumeId} is staged at ${rec.stagingPath}, not ${stagingPath}`);
      }
      if (rec.accessType !== cap.accessType) {
        throw new AlreadyExistsError(`volume ${volumeId} was staged for ${rec.accessType} access, publish asks for ${cap.accessType}`);
      }
      const want: PublishTarget = { targetPath, readonly, mountFlags: cap.mountFlags };
      const known = rec.publishTargets.find((t) => t.targetPath === targetPath);
      if (known) {
        if (known.readonly !== want.readonly || !sameFlags(known.mountFlags, want.mountFlags)) {
          throw new AlreadyExistsError(`volume ${volumeId} is already published at ${targetPath} with different arguments`);
        }
        if (await this.targetIsCurrent(rec, targetPath)) return {};
        ctx.log.warn({ targetPath }, "recorded publish target is not bound to the current device; binding again");
      } else if (
        cap.accessMode === Mode.SINGLE_NODE_SINGLE_WRITER &&
        rec.publishTargets.some((t) => t.targetPath !== targetPath)
      ) {
        throw new FailedPreconditionError(`volume ${volumeId} (SINGLE_NODE_SINGLE_WRITER) is already published at another target`);
      }

      await this.bindTarget(rec, want, ctx);
      if (!known) rec.publishTargets.push(want);
      await this.o.state.save(rec);
      this.o.conditions?.wake();
      return {};
    });
  }

  /** Is `targetPath` bound to this volume's current device? */
  private async targetIsCurrent(rec: VolumeRecord, targetPath: string): Promise<boolean> {
    if (rec.accessType === "block") {
      // The bind-mounted file IS the device node: its rdev is the device number.
      const table = await readMountTable(this.o.procRoot);
      if (!table.isMountPoint(targetPath)) return false;
      return sameDev(await blockDeviceNumber(targetPath), rec.device);
    }
    const table = await readMountTable(this.o.procRoot);
    const m = table.byMountPoint(targetPath);
    return m !== undefined && m.major === rec.device.major && m.minor === rec.device.minor;
  }

  private async bindTarget(rec: VolumeRecord, t: PublishTarget, ctx: RpcContext): Promise<void> {
    const created = await this.createTarget(t.targetPath, rec.accessType);
    try {
      if (await this.o.mounter.isMountPoint(t.targetPath)) {
        // Bound to our current device by an earlier call whose record write was lost: adopt it.
        if (await this.targetIsCurrent(rec, t.targetPath)) return;
        if (rec.publishTargets.some((x) => x.targetPath === t.targetPath)) {
          throw new CsiError(status.UNAVAILABLE, `target ${t.targetPath} is bound to a stale device; the health monitor is recovering it`);
        }
        throw new AlreadyExistsError(`target ${t.targetPath} already has a different mount`);
      }
      const source = rec.accessType === "block" ? rec.device.devPath : rec.stagingPath;
      // The capability's mount_flags apply to the bind too (nosuid, nodev, noexec...): the
      // mounter remounts the bind with them. A block capability has none.
      const mountOptions = rec.accessType === "mount" ? t.mountFlags : [];
      await this.o.mounter.bindMount(source, t.targetPath, { readonly: t.readonly, mountOptions });
    } catch (err) {
      if (created) {
        // What we created goes again: an (empty) directory needs rmdir — rm without recursive
        // refuses every directory — and rmdir never takes content with it.
        const remove = rec.accessType === "mount" ? rmdir(t.targetPath) : rm(t.targetPath, { force: true });
        await remove.catch(() => undefined);
      }
      ctx.log.error({ targetPath: t.targetPath, err: (err as Error).message }, "bind mount failed");
      throw err;
    }
  }

  /**
   * Creates the target the CO asked for: a directory (mount) or an empty file (block). The parent
   * must exist (the CO creates it); we never create missing parents. Returns whether we created it.
   */
  private async createTarget(targetPath: string, accessType: AccessType): Promise<boolean> {
    const kind = await pathKind(targetPath);
    const want = accessType === "block" ? "file" : "dir";
    if (kind === want) return false;
    if (kind !== "missing") throw new AlreadyExistsError(`target ${targetPath} exists and is not a ${want === "dir" ? "directory" : "file"}`);
    const parent = path.dirname(targetPath);
    if ((await pathKind(parent)) !== "dir") throw new FailedPreconditionError(`parent directory of ${targetPath} does not exist`);
    if (want === "dir") {
      await mkdir(targetPath, { mode: 0o750 });
    } else {
      const fh = await open(targetPath, "wx", 0o640);
      await fh.close();
    }
    return true;
  }

  // ------------------------------------------------------------------ unpublish

  async nodeUnpublishVolume(req: csi.NodeUnpublishVolumeRequest, ctx: RpcContext): Promise<csi.NodeUnpublishVolumeResponse> {
    const volumeId = requireField(req.volumeId, "volume_id");
    const targetPath = requireAbsolute(req.targetPath, "target_path");
    return this.o.locks.withLock(volumeId, "NodeUnpublishVolume", async () => {
      await this.removeTarget(targetPath, ctx);
      const rec = this.o.state.get(volumeId);
      if (rec && rec.publishTargets.some((t) => t.targetPath === targetPath)) {
        rec.publishTargets = rec.publishTargets.filter((t) => t.targetPath !== targetPath);
        await this.o.state.save(rec);
      }
      return {};
    });
  }

  /** Unmounts every mount stacked at `targetPath` and deletes the file or directory. Idempotent. */
  private async removeTarget(targetPath: string, ctx: RpcContext): Promise<void> {
    for (let i = 0; i < 16 && (await this.o.mounter.isMountPoint(targetPath)); i++) {
      await this.o.mounter.unmount(targetPath);
    }
    const kind = await pathKind(targetPath);
    if (kind === "dir") {
      try {
        await rmdir(targetPath);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOTEMPTY") {
          throw new FailedPreconditionError(`target ${targetPath} is not a mount point and not empty; refusing to delete it`);
        }
        throw err;
      }
    } else if (kind === "file") {
      await rm(targetPath, { force: true });
    } else if (kind === "other") {
      ctx.log.warn({ targetPath }, "target is neither a file nor a directory; left in place");
    }
  }

  // ------------------------------------------------------------------ stats

  /** The record of `volumeId` if `p` is its staging path or one of its publish targets. */
  private recordAt(volumeId: string, p: string): VolumeRecord {
    const rec = this.o.state.get(volumeId);
    const abs = path.isAbsolute(p) ? path.resolve(p) : undefined;
    if (!rec || abs === undefined || (rec.stagingPath !== abs && !rec.publishTargets.some((t) => t.targetPath === abs))) {
      throw new NotFoundError(`volume ${volumeId} is not staged or published at ${JSON.stringify(p)} on this node`);
    }
    return rec;
  }

  async nodeGetVolumeStats(req: csi.NodeGetVolumeStatsRequest, _ctx: RpcContext): Promise<csi.NodeGetVolumeStatsResponse> {
    const volumeId = requireField(req.volumeId, "volume_id");
    const volumePath = requireField(req.volumePath, "volume_path");
    const rec = this.recordAt(volumeId, volumePath);
    const abs = path.resolve(volumePath);
    if ((await pathKind(abs)) === "missing") throw new NotFoundError(`${abs} does not exist`);
    const volumeCondition = this.o.conditions?.condition(volumeId) ?? { abnormal: false, message: "volume is healthy" };

    if (rec.accessType === "block") {
      const dev = await this.o.resolver.resolve(rec.nqn);
      const total = BigInt(dev?.sizeBytes ?? 0);
      return { usage: [{ total, available: 0n, used: 0n, unit: csi.VolumeUsage_Unit.BYTES }], volumeCondition };
    }
    try {
      const s = await this.o.mounter.statfs(abs);
      const n = BigInt;
      return {
        usage: [
          { total: n(s.totalBytes), available: n(s.availableBytes), used: n(s.usedBytes), unit: csi.VolumeUsage_Unit.BYTES },
          { total: n(s.totalInodes), available: n(s.freeInodes), used: n(s.usedInodes), unit: csi.VolumeUsage_Unit.INODES },
        ],
        volumeCondition,
      };
    } catch (err) {
      // statfs on a dead device can fail (EIO); the condition is what matters then.
      return { usage: [], volumeCondition: { abnormal: true, message: `statfs failed: ${(err as Error).message}` } };
    }
  }

  // ------------------------------------------------------------------ expand

  async nodeExpandVolume(req: csi.NodeExpandVolumeRequest, ctx: RpcContext): Promise<csi.NodeExpandVolumeResponse> {
    const volumeId = requireField(req.volumeId, "volume_id");
    const volumePath = requireField(req.volumePath, "volume_path");
    const rec = this.recordAt(volumeId, volumePath);
    if (req.volumeCapability?.accessType && req.volumeCapability.accessType.$case !== rec.accessType) {
      throw new InvalidArgumentError(`volume ${volumeId} is a ${rec.accessType} volume`);
    }
    const required = req.capacityRange?.requiredBytes ?? 0n;
    return this.o.locks.withLock(volumeId, "NodeExpandVolume", async () => {
      let dev = await this.o.resolver.resolve(rec.nqn);
      if (!dev) throw new FailedPreconditionError(`volume ${volumeId}: no NVMe device for ${rec.nqn} (stale; the health monitor is recovering it)`);
      // What the user sees grow: the filesystem (mount) or the device (block).
      const sizeNow = async (d: ResolvedDevice) => (rec.accessType === "mount" ? (await this.o.mounter.statfs(rec.stagingPath)).totalBytes : d.sizeBytes);
      const before = await sizeNow(dev);
      try {
        // The kernel learns the new namespace size from a rescan; verify it before growing the fs.
        await this.o.connector.rescan(dev, ctx.signal);
        dev = await this.waitForSize(rec.nqn, required, ctx);
        if (rec.accessType === "mount") {
          await this.o.mounter.resize(dev.devPath, rec.stagingPath, rec.fsType ?? DEFAULT_FS_TYPE);
        }
      } catch (err) {
        await this.o.events.emit(volumeId, rec.pvc, expansionFailed({ volumeId, node: this.o.nodeId, device: dev, requestedBytes: required, error: err }));
        throw err;
      }
      const after = await sizeNow(dev);
      if (after !== before) {
        await this.o.events.emit(volumeId, rec.pvc, volumeResized({ volumeId, node: this.o.nodeId, device: dev, oldBytes: before, newBytes: after }));
      }
      return { capacityBytes: BigInt(dev.sizeBytes) };
    });
  }

  /** Polls the resolver until the device is at least `required` bytes, bounded by the RPC. */
  private async waitForSize(nqn: string, required: bigint, ctx: RpcContext): Promise<ResolvedDevice> {
    const until = Date.now() + this.o.expandWaitMs;
    for (;;) {
      ctx.signal.throwIfAborted();
      this.o.resolver.invalidate(nqn);
      const dev = await this.o.resolver.resolve(nqn);
      if (!dev) throw new FailedPreconditionError(`the NVMe device of ${nqn} disappeared during expansion`);
      if (BigInt(dev.sizeBytes) >= required) return dev;
      if (Date.now() >= until) {
        throw new CsiError(
          status.UNAVAILABLE, // the kernel may still catch up: the CO retries
          `device ${dev.name} is still ${dev.sizeBytes} bytes after ns-rescan, ${required} requested`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  // ------------------------------------------------------------------ info

  async nodeGetCapabilities(): Promise<csi.NodeGetCapabilitiesResponse> {
    const T = csi.NodeServiceCapability_RPC_Type;
    return {
      capabilities: [T.STAGE_UNSTAGE_VOLUME, T.GET_VOLUME_STATS, T.EXPAND_VOLUME, T.VOLUME_CONDITION].map((type) => ({
        type: { $case: "rpc" as const, value: { type } },
      })),
    };
  }

  async nodeGetInfo(): Promise<csi.NodeGetInfoResponse> {
    return { nodeId: this.o.nodeId, maxVolumesPerNode: 0n };
  }
}
