// NQN -> namespace block device. Identity is the device NUMBER plus the owning subsysnqn, read
// from sysfs; the /dev node must be a block device with that same number. Names and path
// existence prove nothing (the kernel reuses both, see nvme-sysfs-and-cli.md §b).
import { type FSWatcher, watch } from "node:fs";
import * as path from "node:path";
import { blockDeviceNumber, sameDev } from "./devnum.js";
import { DeviceWaitTimeoutError, InvalidArgumentError, SysfsFormatError } from "./errors.js";
import {
  type NvmeController,
  type NvmeNamespace,
  type NvmeSysfsModel,
  listDir,
  readAttr,
  readController,
  readNamespace,
  readNvmeSysfs,
} from "./sysfs.js";

export interface ControllerInfo {
  name: string;
  state: string;
  address: Record<string, string>;
  transport: string;
}

export interface ResolvedDevice {
  /** kernel disk name, e.g. nvme0n1 */
  name: string;
  /** node under the dev root */
  devPath: string;
  major: number;
  minor: number;
  sizeBytes: number;
  subsysnqn: string;
  nsid?: number;
  uuid?: string;
  wwid?: string;
  kind: "head" | "plain";
  controllers: ControllerInfo[];
}

export interface DeviceResolverOptions {
  sysfsRoot?: string;
  devRoot?: string;
  /** keep a cache of NQN -> sysfs location; every hit is re-validated (default true) */
  cache?: boolean;
  /** poll interval of waitFor, also used when fs.watch works (events can be missed) */
  pollIntervalMs?: number;
}

export interface WaitOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

interface CacheEntry {
  ns: NvmeNamespace;
}

export class DeviceResolver {
  readonly sysfsRoot: string;
  readonly devRoot: string;
  private readonly useCache: boolean;
  private readonly pollMs: number;
  private readonly cache = new Map<string, CacheEntry>();
  /** counters for observability and tests: how lookups were answered */
  readonly stats = { hits: 0, misses: 0, invalidations: 0 };

  constructor(options: DeviceResolverOptions = {}) {
    this.sysfsRoot = options.sysfsRoot ?? "/sys";
    this.devRoot = options.devRoot ?? "/dev";
    this.useCache = options.cache ?? true;
    this.pollMs = options.pollIntervalMs ?? 250;
  }

  /** Full scan of the sysfs model (for callers that look at many volumes at once). */
  readModel(): NvmeSysfsModel {
    return readNvmeSysfs(this.sysfsRoot);
  }

  /**
   * The usable block device for `nqn`, or undefined when there is none right now (not
   * connected, orphaned subsystem, or the /dev node is missing or carries another number).
   */
  async resolve(nqn: string): Promise<ResolvedDevice | undefined> {
    if (!nqn) throw new InvalidArgumentError("resolve: empty NQN");
    if (this.useCache) {
      const hit = this.cache.get(nqn);
      if (hit) {
        const fresh = this.revalidate(nqn, hit.ns);
        if (fresh) {
          const dev = await this.withDevNode(fresh.ns, fresh.controllers);
          if (dev) {
            this.stats.hits++;
            return dev;
          }
        }
        this.cache.delete(nqn);
        this.stats.invalidations++;
      }
    }
    this.stats.misses++;
    return this.resolveIn(readNvmeSysfs(this.sysfsRoot, "identity"), nqn);
  }

  /**
   * Resolve against an already-read model (one scan for many volumes; an "identity" scan is
   * enough: the chosen namespace and its controllers are re-read in full here). Fills the cache.
   */
  async resolveIn(model: NvmeSysfsModel, nqn: string): Promise<ResolvedDevice | undefined> {
    const controllers = model
      .controllersFor(nqn)
      .map((c) => readController(c.sysfsPath, c.name))
      .filter((c): c is NvmeController => c !== undefined && c.subsysnqn === nqn);
    for (const candidate of model.namespacesFor(nqn)) {
      const ns = readNamespace(
        candidate.sysfsPath,
        candidate.name,
        candidate.kind,
        candidate.ownerPath,
        nqn,
      );
      if (!ns || !sameDev(ns, candidate)) continue; // changed under us: not this one
      const owners =
        ns.kind === "plain" ? controllers.filter((c) => c.sysfsPath === ns.ownerPath) : controllers;
      const dev = await this.withDevNode(ns, owners);
      if (dev) {
        if (this.useCache) this.cache.set(nqn, { ns });
        return dev;
      }
    }
    return undefined;
  }

  /** Drop the cache entry of one NQN (e.g. after nvme disconnect), or all. */
  invalidate(nqn?: string): void {
    if (nqn === undefined) this.cache.clear();
    else this.cache.delete(nqn);
  }

  /**
   * Re-read the cached namespace's identity from sysfs: same directory, same `dev`, owner's
   * subsysnqn still the NQN. Size and controllers are re-read too, since they change in place.
   */
  private revalidate(
    nqn: string,
    cached: NvmeNamespace,
  ): { ns: NvmeNamespace; controllers: NvmeController[] } | undefined {
    const ownerNqn = readAttr(cached.ownerPath, "subsysnqn");
    if (ownerNqn !== nqn) return undefined;
    let ns: NvmeNamespace | undefined;
    try {
      ns = readNamespace(cached.sysfsPath, cached.name, cached.kind, cached.ownerPath, nqn);
    } catch {
      return undefined;
    }
    if (!ns || !sameDev(ns, cached)) return undefined;
    let controllers: NvmeController[];
    if (ns.kind === "plain") {
      const c = readController(ns.ownerPath, path.basename(ns.ownerPath));
      controllers = c ? [c] : [];
    } else {
      const ctrlClass = path.join(this.sysfsRoot, "class", "nvme");
      controllers = listDir(ns.ownerPath)
        .filter((n) => /^nvme\d+$/.test(n))
        .map((n) => readController(path.join(ctrlClass, n), n))
        .filter((c): c is NvmeController => c !== undefined && c.subsysnqn === nqn);
    }
    return { ns, controllers };
  }

  /** The /dev node must exist, be a block device and carry the namespace's number. */
  private async withDevNode(
    ns: NvmeNamespace,
    controllers: NvmeController[],
  ): Promise<ResolvedDevice | undefined> {
    const devPath = path.join(this.devRoot, ns.name);
    const actual = await blockDeviceNumber(devPath);
    if (!sameDev(actual, ns)) return undefined;
    return {
      name: ns.name,
      devPath,
      major: ns.major,
      minor: ns.minor,
      sizeBytes: ns.sizeBytes,
      subsysnqn: ns.subsysnqn,
      nsid: ns.nsid,
      uuid: ns.uuid,
      wwid: ns.wwid,
      kind: ns.kind,
      controllers: controllers.map((c) => ({
        name: c.name,
        state: c.state,
        address: c.address,
        transport: c.transport,
      })),
    };
  }

  /**
   * Resolve as soon as the device exists. Watches the dev root and sysfs class/block (inotify
   * does not work on real sysfs, but does on a fixture or simulator tree) and polls as well,
   * because watch events can be missed or unsupported.
   */
  async waitFor(nqn: string, options: WaitOptions): Promise<ResolvedDevice> {
    const { timeoutMs, signal } = options;
    signal?.throwIfAborted();
    const first = await this.resolve(nqn).catch((e: unknown) => {
      if (e instanceof SysfsFormatError) return undefined; // see check() below
      throw e;
    });
    if (first) return first;

    return new Promise<ResolvedDevice>((resolve, reject) => {
      const watchers: FSWatcher[] = [];
      let done = false;
      let checking = false;
      let again = false;
      let lastError: string | undefined;

      const cleanup = () => {
        done = true;
        clearTimeout(deadline);
        clearInterval(poller);
        signal?.removeEventListener("abort", onAbort);
        for (const w of watchers) w.close();
      };
      const check = async () => {
        if (done) return;
        if (checking) {
          again = true; // coalesce bursts of events into one more look
          return;
        }
        checking = true;
        try {
          do {
            again = false;
            const dev = await this.resolve(nqn);
            if (dev && !done) {
              cleanup();
              resolve(dev);
              return;
            }
          } while (again && !done);
        } catch (e) {
          // A malformed attribute can be a half-written file of a device still appearing:
          // keep looking; the timeout error carries it if it never settles.
          if (e instanceof SysfsFormatError) lastError = e.message;
          else if (!done) {
            cleanup();
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        } finally {
          checking = false;
        }
      };
      const onAbort = () => {
        if (done) return;
        cleanup();
        reject(signal?.reason instanceof Error ? signal.reason : abortError());
      };

      const deadline = setTimeout(() => {
        if (done) return;
        cleanup();
        reject(new DeviceWaitTimeoutError(nqn, timeoutMs, lastError));
      }, timeoutMs);
      const poller = setInterval(() => void check(), this.pollMs);
      signal?.addEventListener("abort", onAbort, { once: true });

      for (const dir of [this.devRoot, path.join(this.sysfsRoot, "class", "block")]) {
        try {
          const w = watch(dir, { persistent: false }, () => void check());
          w.on("error", () => w.close()); // fall back to polling
          watchers.push(w);
        } catch {
          // not watchable (missing, or a filesystem without inotify): polling covers it
        }
      }
      // the device may have appeared between the first look and the watch being armed
      void check();
    });
  }
}

function abortError(): Error {
  const e = new Error("the operation was aborted");
  e.name = "AbortError";
  return e;
}
