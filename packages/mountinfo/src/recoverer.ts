// Recovery of a stale staging mount: move the staging mount and every publish target that came
// from it (found through mountinfo: same old device, root inside the staging root) onto the
// device the NQN resolves to now, so running pods' target paths reach the live device again.
// Bounded attempts with exponential backoff and jitter; each attempt re-reads the facts and
// only does what is still missing, so a retry after partial progress is safe.
//
// Nothing is torn down before the current device has shown the volume's filesystem: a device
// that is gone again, not readable yet or flapping must leave the stale mounts where they are —
// unmounted targets are empty directories on the node's disk, where a pod's reads find nothing
// and its writes land outside the volume. The check READS the device (blkid) and does not mount
// it: a second, independent mount of the same filesystem while the stale one is still live
// reads an unfinished journal and corrupts what it sees (EBADMSG in the int test that tried it).
import { stat } from "node:fs/promises";
import * as path from "node:path";
import { type DeviceNumber, sameDev, splitDevT } from "./devnum.js";
import {
  DeviceNotFoundError,
  InvalidArgumentError,
  MountBusyError,
  RecoveryFailedError,
  errorText,
} from "./errors.js";
import { processHolders } from "./holders.js";
import type { Mounter } from "./mounter.js";
import { type MountEntry, type MountTable, isInside, isReadOnly } from "./mountinfo.js";
import type { DeviceResolver, ResolvedDevice } from "./resolver.js";

/** Stacked mounts at one path we are willing to peel off (a mount storm needs a human). */
const MAX_STACK = 16;

export interface RecovererOptions {
  mounter: Mounter;
  resolver: DeviceResolver;
  /** default 3 */
  maxAttempts?: number;
  /** first backoff, doubled after every failed attempt (default 500 ms) */
  initialBackoffMs?: number;
  /** default 10 s */
  maxBackoffMs?: number;
  /** +- this fraction of each backoff (default 0.2) */
  jitter?: number;
  /** injectable for deterministic tests of the schedule */
  random?: () => number;
}

export interface FilesystemRecoveryRequest {
  stagingPath: string;
  nqn: string;
  /** the original fs type (default: the stale mount's) */
  fsType?: string;
  /** the original mount options (default: the stale mount's per-mount options) */
  mountOptions?: readonly string[];
  /** the stale device, used to find publish targets if the staging mount is already gone */
  oldDevice?: DeviceNumber;
  /** extra publish targets known to the caller (found through mountinfo anyway when mounted) */
  publishTargets?: readonly string[];
  signal?: AbortSignal;
}

export interface BlockRecoveryRequest {
  nqn: string;
  /** the stale device whose node is bound onto the targets */
  oldDevice: DeviceNumber;
  /** target files; if omitted, mounts under `discoverUnder` carrying oldDevice are used */
  targets?: readonly string[];
  discoverUnder?: string;
  signal?: AbortSignal;
}

export interface ReboundTarget {
  target: string;
  readonly: boolean;
  /** per-mount flags the target had (nosuid, nodev, noexec, …; without ro/rw), re-applied */
  mountOptions: readonly string[];
  /** directory inside the staging mount that is bound there ("" = the whole staging mount) */
  subPath: string;
}

export interface RecoveryResult {
  attempts: number;
  durationMs: number;
  device: ResolvedDevice;
  previousDevice?: DeviceNumber;
  /** the staging mount was re-mounted (false when it already was on the current device) */
  remountedStaging: boolean;
  rebound: ReboundTarget[];
  /** per failed attempt, why (the last attempt's error is the thrown one) */
  attemptErrors: string[];
}

type BlockTarget = Omit<ReboundTarget, "subPath">;

/**
 * How a target is mounted now, so the re-bind gives the pod the same view: read-only or not, and
 * the per-mount flags a publish applied (nosuid, nodev, …) — a plain bind would drop them.
 */
function targetFlags(target: string, entry: MountEntry | undefined): BlockTarget {
  return {
    target,
    readonly: entry ? isReadOnly(entry) : false,
    mountOptions: entry ? entry.mountOptions.filter((o) => o !== "ro" && o !== "rw") : [],
  };
}

interface FsPlan {
  fsType: string;
  mountOptions: readonly string[];
  previousDevice?: DeviceNumber;
  targets: ReboundTarget[];
}

export class Recoverer {
  private readonly mounter: Mounter;
  private readonly resolver: DeviceResolver;
  private readonly maxAttempts: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(o: RecovererOptions) {
    this.mounter = o.mounter;
    this.resolver = o.resolver;
    this.maxAttempts = Math.max(1, o.maxAttempts ?? 3);
    this.initialBackoffMs = o.initialBackoffMs ?? 500;
    this.maxBackoffMs = o.maxBackoffMs ?? 10_000;
    this.jitter = o.jitter ?? 0.2;
    this.random = o.random ?? Math.random;
  }

  /** Delay before attempt `n+1` after `n` failures: initial * 2^(n-1), capped, +- jitter. */
  backoffMs(failures: number): number {
    const base = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** (failures - 1));
    return Math.max(0, Math.round(base * (1 + this.jitter * (2 * this.random() - 1))));
  }

  async recoverFilesystem(req: FilesystemRecoveryRequest): Promise<RecoveryResult> {
    const stagingPath = absolute(req.stagingPath);
    let plan: FsPlan | undefined;
    return this.withRetries(stagingPath, req.signal, async () => {
      const table = await this.mounter.mountTable();
      const device = await this.current(req.nqn);
      plan ??= this.planFilesystem(table, stagingPath, req);
      const own = [stagingPath, ...plan.targets.map((t) => t.target)];

      let remountedStaging = false;
      const staging = table.byMountPoint(stagingPath);
      if (!staging || !sameDev(staging, device)) {
        // Before tearing anything down: if a process uses the old filesystem, stop here, so a
        // refusal never leaves some targets unmounted and others not.
        await this.refuseIfInUse(stagingPath, plan.previousDevice, false);
        await this.requireFilesystem(req.nqn, device, plan.fsType);
        // targets first: while they are mounted the old filesystem is still in use
        for (const t of plan.targets) await this.peel(t.target, device, own);
        if (!(await this.peel(stagingPath, device, own))) {
          await this.mounter.mount(device.devPath, stagingPath, plan.fsType, plan.mountOptions);
          remountedStaging = true;
        }
      }

      const rebound: ReboundTarget[] = [];
      for (const t of plan.targets) {
        if (await this.peel(t.target, device, own)) continue; // already done by an earlier attempt
        await this.mounter.bindMount(path.join(stagingPath, t.subPath), t.target, {
          readonly: t.readonly,
          mountOptions: t.mountOptions,
        });
        rebound.push(t);
      }
      return { device, previousDevice: plan.previousDevice, remountedStaging, rebound };
    });
  }

  async recoverBlock(req: BlockRecoveryRequest): Promise<RecoveryResult> {
    if (!req.targets && !req.discoverUnder) {
      throw new InvalidArgumentError("recoverBlock needs targets or discoverUnder");
    }
    let targets: BlockTarget[] | undefined;
    return this.withRetries(req.targets?.[0] ?? req.discoverUnder!, req.signal, async () => {
      const table = await this.mounter.mountTable();
      const device = await this.current(req.nqn);
      targets ??= await this.planBlock(table, req);
      const own = targets.map((t) => t.target);
      await this.refuseIfInUse(own[0] ?? req.nqn, req.oldDevice, true);
      await this.requireReadable(req.nqn, device);
      const rebound: ReboundTarget[] = [];
      for (const t of targets) {
        const e = table.byMountPoint(t.target);
        if (e && sameDev(await rdevOf(t.target), device)) continue;
        if (e) await this.mounter.unmount(t.target, { ownMounts: own });
        await this.mounter.bindMount(device.devPath, t.target, {
          readonly: t.readonly,
          mountOptions: t.mountOptions,
        });
        rebound.push({ ...t, subPath: "" });
      }
      return { device, previousDevice: req.oldDevice, remountedStaging: false, rebound };
    });
  }

  /**
   * DeviceNotFoundError unless `device` is readable now and blkid finds `fsType` on it. blkid
   * opens, reads and closes the device; the page cache it filled goes with that last close, so
   * the mount that follows the unmount of the stale filesystem reads the device afresh.
   */
  /**
   * The current device must answer a read before any stale mount is taken down: a device that is
   * gone again must not leave the pods' paths as empty directories on the node's disk. Returns
   * the filesystem type blkid sees (undefined: none — a raw block volume may legitimately be so).
   */
  private async requireReadable(nqn: string, device: ResolvedDevice): Promise<string | undefined> {
    try {
      return (await this.mounter.probe(device.devPath))?.type;
    } catch (e) {
      throw new DeviceNotFoundError(
        nqn,
        `${device.devPath} (${device.major}:${device.minor}) is not readable: ${errorText(e)}`,
      );
    }
  }

  private async requireFilesystem(
    nqn: string,
    device: ResolvedDevice,
    fsType: string,
  ): Promise<void> {
    const found = await this.requireReadable(nqn, device);
    if (found !== fsType) {
      throw new DeviceNotFoundError(
        nqn,
        `${device.devPath} (${device.major}:${device.minor}) shows ${found ?? "no filesystem"}, not ${fsType}`,
      );
    }
  }

  /** MountBusyError naming the processes that hold files on (or open) the old device. */
  private async refuseIfInUse(
    what: string,
    old: DeviceNumber | undefined,
    block: boolean,
  ): Promise<void> {
    if (!old) return;
    const holders = await processHolders(old, block, this.mounter.procRoot);
    if (holders.length > 0) throw new MountBusyError(what, holders);
  }

  /**
   * Unmount what is visible at `p` until nothing is, or what is visible is on `device`. A path
   * can carry a stack of mounts (a retried stage, an earlier partial recovery); peeling only
   * the top one would leave the old device underneath. True = `p` now shows `device`.
   */
  private async peel(p: string, device: DeviceNumber, own: readonly string[]): Promise<boolean> {
    for (let i = 0; i < MAX_STACK; i++) {
      const top = (await this.mounter.mountTable()).byMountPoint(p);
      if (!top) return false;
      if (sameDev(top, device)) return true;
      await this.mounter.unmount(p, { ownMounts: own });
    }
    throw new MountBusyError(p, [
      { kind: "mount", path: `${p} (more than ${MAX_STACK} stacked mounts)` },
    ]);
  }

  /** What to restore, decided once from the stale state (later attempts see it half undone). */
  private planFilesystem(
    table: MountTable,
    stagingPath: string,
    req: FilesystemRecoveryRequest,
  ): FsPlan {
    const staging = table.byMountPoint(stagingPath);
    const previousDevice = staging ? { major: staging.major, minor: staging.minor } : req.oldDevice;
    const fsType = req.fsType ?? staging?.fsType;
    if (!fsType) {
      throw new InvalidArgumentError(
        `${stagingPath} is not mounted and no fsType was given: cannot restore it`,
      );
    }
    let sources: MountEntry[] = [];
    if (staging) sources = table.bindMountsOf(staging, { subtrees: true });
    else if (previousDevice) sources = table.byDevice(previousDevice.major, previousDevice.minor);
    const stagingRoot = staging?.root ?? "/";
    const targets = new Map<string, ReboundTarget>();
    for (const e of sources) {
      if (e.mountPoint === stagingPath || isInside(e.mountPoint, stagingPath)) continue;
      if (!isInside(e.root, stagingRoot)) continue;
      targets.set(e.mountPoint, {
        ...targetFlags(e.mountPoint, e),
        subPath: path.relative(stagingRoot, e.root),
      });
    }
    for (const t of req.publishTargets ?? []) {
      const p = absolute(t);
      if (!targets.has(p)) {
        const e = table.byMountPoint(p);
        targets.set(p, { ...targetFlags(p, e), subPath: "" });
      }
    }
    return {
      fsType,
      mountOptions: req.mountOptions ?? staging?.mountOptions ?? [],
      previousDevice,
      targets: [...targets.values()],
    };
  }

  private async planBlock(
    table: MountTable,
    req: BlockRecoveryRequest,
  ): Promise<BlockTarget[]> {
    const candidates = req.targets
      ? req.targets.map(absolute)
      : table.entries
          .map((e) => e.mountPoint)
          .filter((p) => isInside(p, absolute(req.discoverUnder!)));
    const out: BlockTarget[] = [];
    for (const p of new Set(candidates)) {
      const e = table.byMountPoint(p);
      // discovered targets must carry the old device; explicit ones are taken as given
      if (!req.targets && !sameDev(await rdevOf(p), req.oldDevice)) continue;
      out.push(targetFlags(p, e));
    }
    return out;
  }

  private async current(nqn: string): Promise<ResolvedDevice> {
    const device = await this.resolver.resolve(nqn);
    if (!device) throw new DeviceNotFoundError(nqn, "the NQN does not resolve to a device now");
    return device;
  }

  private async withRetries(
    what: string,
    signal: AbortSignal | undefined,
    attempt: () => Promise<Omit<RecoveryResult, "attempts" | "durationMs" | "attemptErrors">>,
  ): Promise<RecoveryResult> {
    const started = performance.now();
    const attemptErrors: string[] = [];
    for (let n = 1; ; n++) {
      signal?.throwIfAborted();
      try {
        const r = await attempt();
        return { ...r, attempts: n, durationMs: performance.now() - started, attemptErrors };
      } catch (e) {
        attemptErrors.push(e instanceof Error ? e.message : String(e));
        // In use or a bad request: waiting does not change the answer; say so at once.
        const final =
          e instanceof MountBusyError || e instanceof InvalidArgumentError || n >= this.maxAttempts;
        if (final) throw new RecoveryFailedError(what, n, e);
      }
      await sleep(this.backoffMs(n), signal);
    }
  }
}

async function rdevOf(p: string): Promise<DeviceNumber | undefined> {
  try {
    const st = await stat(p, { bigint: true });
    return st.isBlockDevice() ? splitDevT(st.rdev) : undefined;
  } catch {
    return undefined;
  }
}

function absolute(p: string): string {
  if (!path.isAbsolute(p))
    throw new InvalidArgumentError(`path must be absolute, got ${JSON.stringify(p)}`);
  return path.resolve(p);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
