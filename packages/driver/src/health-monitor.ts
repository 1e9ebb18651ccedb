// The node's health monitor: a background loop over every staged volume. Woken at once by any
// change under the dev root (fs.watch: a renumbered or vanished NVMe device shows up there first)
// and otherwise every `intervalMs`. Per volume it asks mountinfo's StaleChecker for a verdict; on
// a stale one it records StaleMountDetected on the PVC, counts it, marks the VolumeCondition
// abnormal and recovers: reconnect first when no device exists for the NQN (the controller was
// deleted — that is what renumbers the device on a real host), then mountinfo's Recoverer
// remounts the current device at the staging path and re-binds every publish target →
// StaleMountRecovered, or RecoveryFailed with the reason (retried with backoff).
//
// Recovery holds the volume's lock, the same one the Node RPCs take, and re-checks the record
// under it, so it never races a NodeUnstage / NodePublish.
//
// Restart: the state dir holds every staged volume; the first cycle after start checks them all
// against mountinfo and sysfs, so a volume whose mount or device changed while the plugin was
// down is recovered like any other stale one.
import { watch, type FSWatcher } from "node:fs";
import {
  sameDev,
  type DeviceResolver,
  type Recoverer,
  type ResolvedDevice,
  type StaleCheckItem,
  type StaleChecker,
  type StaleVerdict,
} from "@rds-nvme-csi/mountinfo";
import {
  recoveryFailed,
  staleMountDetected,
  staleMountRecovered,
  volumeConditionAbnormal,
  volumeConditionNormal,
} from "@rds-nvme-csi/events";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Logger } from "pino";
import type * as csi from "./gen/csi.js";
import { AbortedError } from "./errors.js";
import type { KeyedLocks } from "./locks.js";
import type { NodeEvents } from "./node-events.js";
import type { NvmeConnector } from "./nvme/connector.js";
import type { StateStore, VolumeRecord } from "./state.js";
import { isReadOnlyMode, type VolumeConditionSource } from "./node.js";

export interface HealthMonitorOptions {
  nodeId: string;
  state: StateStore;
  resolver: DeviceResolver;
  checker: StaleChecker;
  recoverer: Recoverer;
  connector: NvmeConnector;
  locks: KeyedLocks;
  events: NodeEvents;
  logger: Logger;
  /** the dev root to watch (fs.watch) */
  devRoot: string;
  procRoot?: string;
  /** periodic check interval when nothing wakes the loop (default 5000 ms) */
  intervalMs?: number;
  /** bound of a reconnect during recovery (default 30 s) */
  reconnectTimeoutMs?: number;
  /** first retry delay after a failed recovery, doubled per failure up to maxBackoffMs */
  backoffMs?: number;
  maxBackoffMs?: number;
  registry?: Registry;
}

/** One stale episode of a volume, from detection until recovered (or unstaged). */
interface Incident {
  reason: string;
  detectedAt: number;
  attempts: number;
  nextAttemptAt: number;
  lastError?: string;
}

export interface MonitorMetrics {
  detected: Counter<"reason">;
  recoveries: Counter<"outcome">;
  abnormal: Gauge;
  monitored: Gauge;
  cycle: Histogram;
  detectionToRecovery: Histogram;
}

function createMetrics(registry?: Registry): MonitorMetrics {
  const registers = registry ? [registry] : [];
  return {
    detected: new Counter({
      name: "rdsnvme_node_stale_mounts_detected_total",
      help: "Stale mounts detected by the node health monitor, by reason",
      labelNames: ["reason"],
      registers,
    }),
    recoveries: new Counter({
      name: "rdsnvme_node_stale_mount_recoveries_total",
      help: "Recovery attempts of stale mounts, by outcome (success, failure)",
      labelNames: ["outcome"],
      registers,
    }),
    abnormal: new Gauge({ name: "rdsnvme_node_volumes_abnormal", help: "Staged volumes whose VolumeCondition is abnormal", registers }),
    monitored: new Gauge({ name: "rdsnvme_node_volumes_monitored", help: "Staged volumes watched by the health monitor", registers }),
    cycle: new Histogram({
      name: "rdsnvme_node_health_cycle_seconds",
      help: "Duration of one health monitor pass over all staged volumes",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    detectionToRecovery: new Histogram({
      name: "rdsnvme_node_stale_recovery_seconds",
      help: "Time from stale-mount detection to successful recovery",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers,
    }),
  };
}

export class HealthMonitor implements VolumeConditionSource {
  private readonly o: HealthMonitorOptions & { intervalMs: number; reconnectTimeoutMs: number; backoffMs: number; maxBackoffMs: number; procRoot: string };
  readonly metrics: MonitorMetrics;
  private readonly conditions = new Map<string, csi.VolumeCondition>();
  private readonly incidents = new Map<string, Incident>();
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = true;
  /** completed passes, for tests and benchmarks */
  cycles = 0;

  constructor(options: HealthMonitorOptions) {
    this.o = { intervalMs: 5000, reconnectTimeoutMs: 30_000, backoffMs: 1000, maxBackoffMs: 30_000, procRoot: "/proc", ...options };
    this.metrics = createMetrics(options.registry);
  }

  condition(volumeId: string): csi.VolumeCondition | undefined {
    return this.conditions.get(volumeId);
  }

  /** Start watching: one pass right away (the reconcile after a restart), then on events and interval. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    try {
      this.watcher = watch(this.o.devRoot, { persistent: false }, () => this.wake());
      this.watcher.on("error", (err) => {
        this.o.logger.warn({ err: err.message, devRoot: this.o.devRoot }, "dev root watch failed; interval checks only");
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message, devRoot: this.o.devRoot }, "cannot watch the dev root; interval checks only");
    }
    this.schedule();
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
    await this.running;
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => this.wake(), this.o.intervalMs);
    this.timer.unref();
  }

  /** Run a pass now, or right after the one in progress (bursts of events coalesce into one more pass). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
      this.schedule();
    });
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.runOnce();
      } catch (err) {
        this.o.logger.error({ err: (err as Error).message }, "health monitor pass failed");
      }
    } while (this.again && !this.stopped);
  }

  /** One pass over every staged volume. Public for tests and the benchmark. */
  async runOnce(): Promise<void> {
    const end = this.metrics.cycle.startTimer();
    const records = this.o.state.list();
    this.metrics.monitored.set(records.length);
    // forget volumes that are no longer staged
    const ids = new Set(records.map((r) => r.volumeId));
    for (const id of [...this.conditions.keys()]) if (!ids.has(id)) this.conditions.delete(id);
    for (const id of [...this.incidents.keys()]) if (!ids.has(id)) this.incidents.delete(id);
    if (records.length > 0) {
      const verdicts = await this.check(records);
      await Promise.all(records.map((rec, i) => this.handle(rec, verdicts[i])));
    }
    this.metrics.abnormal.set([...this.conditions.values()].filter((c) => c.abnormal).length);
    this.cycles++;
    end();
  }

  /**
   * Verdicts for many volumes from one mountinfo read and one sysfs scan. Filesystem volumes are
   * judged at their staging mount; block volumes (no staging mount) at their first publish
   * target, where the device node is bound; a block volume without targets by its recorded
   * device number against the one its NQN resolves to now.
   */
  private async check(records: VolumeRecord[]): Promise<StaleVerdict[]> {
    const items: StaleCheckItem[] = [];
    const at: number[] = [];
    const out: (StaleVerdict | undefined)[] = records.map(() => undefined);
    records.forEach((r, i) => {
      if (r.accessType === "mount") {
        items.push({ stagingPath: r.stagingPath, nqn: r.nqn });
        at.push(i);
      } else if (r.publishTargets[0]) {
        items.push({ stagingPath: r.publishTargets[0].targetPath, nqn: r.nqn, block: true });
        at.push(i);
      }
    });
    const verdicts = await this.o.checker.checkMany(items);
    verdicts.forEach((v, k) => (out[at[k]] = v));
    for (let i = 0; i < records.length; i++) {
      if (!out[i]) out[i] = await this.unpublishedBlockVerdict(records[i]);
    }
    return out as StaleVerdict[];
  }

  private async unpublishedBlockVerdict(r: VolumeRecord): Promise<StaleVerdict> {
    const dev = await this.o.resolver.resolve(r.nqn);
    const base = {
      stagingPath: r.stagingPath,
      nqn: r.nqn,
      mountedDev: { major: r.device.major, minor: r.device.minor },
      controllerStates: dev?.controllers.map((c) => ({ name: c.name, state: c.state })) ?? [],
    };
    if (!dev) return { ...base, stale: true, reason: "device_disappeared", detail: `${r.nqn} has no device` };
    const cur = { currentDev: { major: dev.major, minor: dev.minor }, currentName: dev.name };
    if (!sameDev(dev, r.device)) {
      return { ...base, ...cur, stale: true, reason: "device_mismatch", detail: `${r.nqn} is now ${dev.name} (${dev.major}:${dev.minor})` };
    }
    return { ...base, ...cur, stale: false, reason: "ok", detail: `${r.nqn} is on ${dev.name}` };
  }

  private async handle(rec: VolumeRecord, verdict: StaleVerdict): Promise<void> {
    if (!verdict.stale || verdict.reason === "controllers_down") {
      // Not while a CSI call works on the volume: its mounts are in flux.
      if (this.o.locks.snapshot().has(rec.volumeId)) return;
      await this.settle(rec, verdict);
      return;
    }
    const inc = this.incidents.get(rec.volumeId);
    if (inc && inc.nextAttemptAt > Date.now()) return;
    // A stale verdict is confirmed under the volume lock before anything is reported or done:
    // NodeUnstage unmounts, then disconnects, then drops the record — a pass in between must not
    // call that a stale mount. While a CSI call holds the volume, this pass skips it.
    try {
      await this.o.locks.withLock(rec.volumeId, "HealthMonitorRecovery", () => this.detectAndRecover(rec.volumeId));
    } catch (err) {
      if (err instanceof AbortedError) return; // next pass
      throw err;
    }
  }

  /** Healthy, or controllers reconnecting by themselves: condition and incident bookkeeping only. */
  private async settle(rec: VolumeRecord, verdict: StaleVerdict): Promise<void> {
    const id = rec.volumeId;
    if (this.incidents.delete(id)) this.o.logger.info({ volumeId: id }, "volume healthy again without recovery");
    const wasAbnormal = this.conditions.get(id)?.abnormal === true;
    if (verdict.reason === "controllers_down") {
      // The kernel is reconnecting the controllers (within ctrl_loss_tmo the device keeps its
      // number): nothing to remount; report it and wait.
      this.conditions.set(id, { abnormal: true, message: `NVMe controllers not live: ${verdict.detail}` });
      if (!wasAbnormal) {
        await this.o.events.emit(id, rec.pvc, volumeConditionAbnormal({ volumeId: id, node: this.o.nodeId, message: verdict.detail }));
      }
      return;
    }
    this.conditions.set(id, { abnormal: false, message: "volume is healthy" });
    if (wasAbnormal) await this.o.events.emit(id, rec.pvc, volumeConditionNormal({ volumeId: id, node: this.o.nodeId }));
  }

  /** Under the volume lock: re-read the record, re-check, report a new incident, recover. */
  private async detectAndRecover(volumeId: string): Promise<void> {
    // The record may have changed (unstaged, restaged) since the pass read it.
    const rec = this.o.state.get(volumeId);
    if (!rec) return;
    const [verdict] = await this.check([rec]);
    if (!verdict) return;
    if (!verdict.stale || verdict.reason === "controllers_down") {
      await this.settle(rec, verdict);
      return;
    }
    let inc = this.incidents.get(volumeId);
    if (!inc) {
      inc = { reason: verdict.reason, detectedAt: Date.now(), attempts: 0, nextAttemptAt: 0 };
      this.incidents.set(volumeId, inc);
      this.metrics.detected.inc({ reason: verdict.reason });
      this.conditions.set(volumeId, { abnormal: true, message: `stale mount (${verdict.reason}): ${verdict.detail}` });
      await this.o.events.emit(
        volumeId,
        rec.pvc,
        staleMountDetected({
          volumeId,
          node: this.o.nodeId,
          cause: verdict.reason,
          mountedDevice: verdict.mountedDev ? { name: rec.device.name, ...verdict.mountedDev } : undefined,
          currentDevice: verdict.currentDev ? { name: verdict.currentName ?? "?", ...verdict.currentDev } : undefined,
          controllerStates: verdict.controllerStates.map((c) => `${c.name}=${c.state}`),
        }),
      );
    }
    await this.recover(rec, verdict, inc);
  }

  private async recover(rec: VolumeRecord, verdict: StaleVerdict, inc: Incident): Promise<void> {
    const volumeId = rec.volumeId;
    inc.attempts++;
    const log = this.o.logger.child({ volumeId, op: "recover", attempt: inc.attempts, reason: verdict.reason });
    let device: ResolvedDevice | undefined;
    try {
      device = await this.o.resolver.resolve(rec.nqn);
      if (!device) {
        // The controller is gone (deleted, or an orphaned subsystem): a new connect produces the
        // device, with a new number on a real host.
        log.info("no device for the NQN; reconnecting");
        const res = await this.o.connector.connect({ nqn: rec.nqn, ...rec.connect }, { deadline: Date.now() + this.o.reconnectTimeoutMs });
        device = res.device;
        log.info({ how: res.how, device: device.name }, "reconnected");
      }
      const targets = rec.publishTargets.map((t) => t.targetPath);
      let newDevice: ResolvedDevice = device;
      if (rec.accessType === "mount") {
        const result = await this.o.recoverer.recoverFilesystem({
          stagingPath: rec.stagingPath,
          nqn: rec.nqn,
          fsType: rec.fsType,
          mountOptions: isReadOnlyMode(rec.accessMode) ? [...rec.mountFlags, "ro"] : rec.mountFlags,
          oldDevice: rec.device,
          publishTargets: targets,
        });
        newDevice = result.device;
      } else if (targets.length > 0) {
        newDevice = (await this.o.recoverer.recoverBlock({ nqn: rec.nqn, oldDevice: rec.device, targets })).device;
      }
      const old = rec.device;
      rec.device = { name: newDevice.name, devPath: newDevice.devPath, major: newDevice.major, minor: newDevice.minor };
      await this.o.state.save(rec);
      const tookMs = Date.now() - inc.detectedAt;
      this.metrics.recoveries.inc({ outcome: "success" });
      this.metrics.detectionToRecovery.observe(tookMs / 1000);
      this.incidents.delete(volumeId);
      this.conditions.set(volumeId, { abnormal: false, message: "volume is healthy (recovered from a stale mount)" });
      log.info({ from: `${old.major}:${old.minor}`, to: `${rec.device.major}:${rec.device.minor}`, tookMs }, "stale mount recovered");
      await this.o.events.emit(
        volumeId,
        rec.pvc,
        staleMountRecovered({
          volumeId,
          node: this.o.nodeId,
          oldDevice: old,
          newDevice: rec.device,
          attempts: inc.attempts,
          targets: targets.length,
          durationMs: tookMs,
        }),
      );
    } catch (err) {
      const message = (err as Error).message;
      inc.lastError = message;
      inc.nextAttemptAt = Date.now() + Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** (inc.attempts - 1));
      this.metrics.recoveries.inc({ outcome: "failure" });
      this.conditions.set(volumeId, { abnormal: true, message: `stale mount (${verdict.reason}); recovery failed: ${message}` });
      log.warn({ err: message, retryInMs: inc.nextAttemptAt - Date.now() }, "recovery failed");
      await this.o.events.emit(
        volumeId,
        rec.pvc,
        recoveryFailed({ volumeId, node: this.o.nodeId, attempts: inc.attempts, error: err, oldDevice: rec.device, newDevice: device }),
      );
    }
  }

  /** Volumes with an open stale incident (tests, debugging). */
  openIncidents(): string[] {
    return [...this.incidents.keys()];
  }
}
