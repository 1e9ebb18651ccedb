// The simulated NVMe host ("kernel"): controllers, subsystems and namespaces with the kernel's
// naming and lifetime rules (nvme-sysfs-and-cli.md §b), published as a sysfs tree and dev nodes
// over real loop devices.
//
// Naming: one global instance counter for controllers and subsystems (lowest free number); a
// subsystem takes the number of its first controller and keeps it while it lives; namespace
// head numbers come from a per-subsystem counter starting at 1. A namespace device that is
// deleted while still in use (its loop device still attached because a mount pins it) keeps
// its numbers reserved ("ghost"), so the next connect of the same NQN gets NEW names and a NEW
// major:minor — how renumbering happens on real hosts.
//
// Controller states: live -> connecting when the association drops -> live again (same names)
// if the target answers within ctrl_loss_tmo, else deleted.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { openAssociation, AssociationError, type Association } from "./association.js";
import { Journal, cleanupFromJournal, journalPath } from "./journal.js";
import {
  attachLoop,
  detachLoop,
  stillOurs,
  mknodBlock,
  setLoopCapacity,
  type LoopDevice,
} from "./loop.js";
import { CTL, SysfsTree, type NsAttrs } from "./sysfs.js";

export interface HostAgentOptions {
  /** Journal, host NQN and the agent socket live here. */
  stateDir: string;
  /** Root of the simulated sysfs tree (the driver's --sysfs-root). */
  sysfsRoot: string;
  /** Where block nodes are created (the driver's --dev-root). */
  devRoot: string;
  /** Native multipath layout (head nvme<S>n<H> + hidden path), the default; false = plain nvme<C>n<H>. */
  multipath?: boolean;
  /** Default host NQN (like /etc/nvme/hostnqn); generated and kept in the state dir if absent. */
  hostnqn?: string;
  hostid?: string;
}

export interface ConnectParams {
  transport: string;
  traddr: string;
  trsvcid: string;
  nqn: string;
  hostnqn?: string;
  hostid?: string;
  /** Seconds; negative = reconnect forever. Kernel default 600. */
  ctrlLossTmo?: number;
  /** Seconds between reconnect attempts. Kernel default 10. */
  reconnectDelay?: number;
  kato?: number;
}

export class AlreadyConnectedError extends Error {
  constructor() {
    super("already connected");
    this.name = "AlreadyConnectedError";
  }
}

export class ConnectFailedError extends Error {
  constructor(
    readonly kind: "refused" | "rejected" | "unreachable" | "invalid",
    message: string,
  ) {
    super(message);
    this.name = "ConnectFailedError";
  }
}

interface Namespace {
  head: number;
  /** Visible disk: head `nvme<S>n<H>` or plain `nvme<C>n<H>`. */
  disk: NsAttrs;
  /** Hidden per-path disk (multipath layout only). */
  path?: NsAttrs;
  loop: LoopDevice;
  devNode: string;
}

interface Subsystem {
  instance: number;
  nqn: string;
  heads: Set<number>;
  controllers: Set<Controller>;
  serial: string;
  model: string;
}

interface Controller {
  instance: number;
  params: Required<Omit<ConnectParams, "transport">> & { transport: "tcp" };
  subsys: Subsystem;
  state: "live" | "connecting" | "deleting";
  assoc?: Association;
  srcAddr: string;
  file: string;
  size: number;
  cntlid: number;
  ns?: Namespace;
  orphaned: boolean;
  timers: Set<NodeJS.Timeout>;
}

/** A deleted namespace whose loop device is still attached (pinned by a mount). */
interface Ghost {
  subsys: Subsystem;
  head: number;
  /** Without multipath the old controller object is pinned too. */
  ctrlInstance?: number;
  loop: LoopDevice;
}

export interface ControllerView {
  name: string;
  instance: number;
  nqn: string;
  state: string;
  address: string;
  transport: "tcp";
  hostnqn: string;
  hostid: string;
  cntlid: number;
  serial: string;
  model: string;
  firmware: string;
  subsystem: string;
  namespace?: {
    name: string;
    devPath: string;
    nsid: number;
    sizeBytes: number;
    major: number;
    minor: number;
    loop: string;
  };
}

export interface SubsystemView {
  name: string;
  nqn: string;
  serial: string;
  model: string;
  firmware: string;
  controllers: ControllerView[];
}

export interface HostStatus {
  sysfsRoot: string;
  devRoot: string;
  multipath: boolean;
  hostnqn: string;
  hostid: string;
  slowAppearMs: number;
  subsystems: SubsystemView[];
  pinned: { subsystem: string; head: number; loop: string }[];
}

export const FIRMWARE = "7.16";

function uuidFrom(text: string): string {
  const h = crypto.createHash("sha256").update(text).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export class HostAgent {
  readonly sysfs: SysfsTree;
  readonly devRoot: string;
  readonly multipath: boolean;
  readonly hostnqn: string;
  readonly hostid: string;
  private readonly controllers = new Map<number, Controller>();
  private readonly subsystems = new Map<string, Subsystem>();
  private ghosts: Ghost[] = [];
  private journal!: Journal;
  private queue: Promise<unknown> = Promise.resolve();
  private diskseq = 0;
  private slowAppearMs = 0;
  private closed = false;

  private constructor(private readonly opts: HostAgentOptions) {
    this.sysfs = new SysfsTree(path.resolve(opts.sysfsRoot));
    this.devRoot = path.resolve(opts.devRoot);
    this.multipath = opts.multipath ?? true;
    const nqnFile = path.join(opts.stateDir, "hostnqn");
    const idFile = path.join(opts.stateDir, "hostid");
    // Like nvme-cli: the host ID defaults to the UUID inside the host NQN.
    const fromNqn = opts.hostnqn ? /uuid:([0-9a-f-]{36})$/i.exec(opts.hostnqn)?.[1] : undefined;
    if (!fs.existsSync(idFile))
      fs.writeFileSync(idFile, `${opts.hostid ?? fromNqn ?? crypto.randomUUID()}\n`);
    this.hostid = opts.hostid ?? fromNqn ?? fs.readFileSync(idFile, "utf8").trim();
    if (!fs.existsSync(nqnFile))
      fs.writeFileSync(
        nqnFile,
        `${opts.hostnqn ?? `nqn.2014-08.org.nvmexpress:uuid:${this.hostid}`}\n`,
      );
    this.hostnqn = opts.hostnqn ?? fs.readFileSync(nqnFile, "utf8").trim();
  }

  /** Creates the agent; leftovers of a crashed predecessor in the same state dir are cleaned first. */
  static async create(opts: HostAgentOptions): Promise<HostAgent> {
    fs.mkdirSync(opts.stateDir, { recursive: true });
    await cleanupFromJournal(opts.stateDir);
    const agent = new HostAgent(opts);
    fs.mkdirSync(agent.devRoot, { recursive: true });
    agent.sysfs.init();
    agent.journal = new Journal(journalPath(opts.stateDir), agent.sysfs.root, agent.devRoot);
    return agent;
  }

  /** Runs state changes one at a time (commands, association events, timers). */
  private serial<T>(fn: () => Promise<T> | T): Promise<T> {
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private usedInstances(): Set<number> {
    const used = new Set<number>();
    for (const c of this.controllers.values()) used.add(c.instance);
    for (const s of this.subsystems.values()) used.add(s.instance);
    for (const g of this.ghosts) if (g.ctrlInstance !== undefined) used.add(g.ctrlInstance);
    return used;
  }

  private addressOf(c: Controller): string {
    const base = `traddr=${c.params.traddr},trsvcid=${c.params.trsvcid}`;
    return c.state === "live" ? `${base},src_addr=${c.srcAddr}` : base;
  }

  private timer(c: Controller, ms: number, fn: () => Promise<void> | void): void {
    const t = setTimeout(() => {
      c.timers.delete(t);
      this.serial(fn).catch(() => undefined);
    }, ms);
    c.timers.add(t);
  }

  private clearTimers(c: Controller): void {
    for (const t of c.timers) clearTimeout(t);
    c.timers.clear();
  }

  // ---- commands (nvme stand-in) ----

  connect(p: ConnectParams): Promise<string> {
    return this.serial(async () => {
      if (this.closed) throw new ConnectFailedError("invalid", "host agent is shutting down");
      if (p.transport !== "tcp")
        throw new ConnectFailedError("invalid", `transport ${p.transport} is not simulated`);
      const params: Controller["params"] = {
        transport: "tcp",
        traddr: p.traddr,
        trsvcid: p.trsvcid,
        nqn: p.nqn,
        hostnqn: p.hostnqn ?? this.hostnqn,
        hostid:
          p.hostid ??
          (p.hostnqn
            ? (/uuid:([0-9a-f-]{36})$/i.exec(p.hostnqn)?.[1] ?? this.hostid)
            : this.hostid),
        ctrlLossTmo: p.ctrlLossTmo ?? 600,
        reconnectDelay: p.reconnectDelay ?? 10,
        kato: p.kato ?? 5,
      };
      const dup = [...this.controllers.values()].find(
        (c) =>
          c.state !== "deleting" &&
          c.params.nqn === params.nqn &&
          c.params.traddr === params.traddr &&
          c.params.trsvcid === params.trsvcid &&
          c.params.hostnqn === params.hostnqn,
      );
      if (dup) throw new AlreadyConnectedError();
      // Numbers of devices whose last user went away since the last look are free again.
      this.pruneGhosts();
      const port = Number(params.trsvcid);
      if (!Number.isInteger(port) || port < 1 || port > 65535)
        throw new ConnectFailedError("invalid", "invalid trsvcid");
      let assoc: Association;
      try {
        assoc = await openAssociation(params.traddr, port, params.nqn, params.hostnqn);
      } catch (e) {
        if (e instanceof AssociationError) throw new ConnectFailedError(e.kind, e.message);
        throw e;
      }
      const c = this.createController(params, assoc);
      if (this.slowAppearMs > 0) {
        this.timer(c, this.slowAppearMs, () => this.publishIfWanted(c));
      } else {
        await this.publishNamespace(c);
      }
      return `nvme${String(c.instance)}`;
    });
  }

  /** `nvme disconnect -n`: every controller of the subsystem; returns how many. */
  disconnectNqn(nqn: string): Promise<number> {
    return this.serial(async () => {
      const victims = [...this.controllers.values()].filter((c) => c.params.nqn === nqn);
      for (const c of victims) await this.deleteController(c);
      this.pruneGhosts();
      return victims.length;
    });
  }

  /** `nvme disconnect -d nvme<C>`: false when there is no such controller. */
  disconnectDevice(name: string): Promise<boolean> {
    return this.serial(async () => {
      const c = [...this.controllers.values()].find((x) => `nvme${String(x.instance)}` === name);
      if (!c) return false;
      await this.deleteController(c);
      this.pruneGhosts();
      return true;
    });
  }

  /** `nvme ns-rescan`: re-reads the namespace size of the controller behind `name`. */
  rescan(name: string): Promise<boolean> {
    return this.serial(async () => {
      const c = [...this.controllers.values()].find(
        (x) =>
          `nvme${String(x.instance)}` === name ||
          x.ns?.disk.name === name ||
          x.ns?.path?.name === name,
      );
      if (!c) return false;
      if (c.ns) {
        const size = fs.statSync(c.file).size;
        await this.applyResize(c, size);
      }
      return true;
    });
  }

  // ---- faults ----

  /** Controller loss + reconnect: the namespace device gets a new name and a new major:minor. */
  rename(nqn: string): Promise<string[]> {
    return this.serial(async () => {
      const olds = [...this.controllers.values()].filter(
        (c) => c.params.nqn === nqn && c.state !== "deleting",
      );
      if (olds.length === 0) throw new Error(`no controller for ${nqn}`);
      const names: string[] = [];
      for (const old of olds) {
        const assoc = await openAssociation(
          old.params.traddr,
          Number(old.params.trsvcid),
          nqn,
          old.params.hostnqn,
        );
        // The new loop device is attached while the old one still is: the numbers must differ.
        const loop = await attachLoop(assoc.grant.file);
        this.journal.addLoop(loop);
        await this.deleteController(old, true);
        const c = this.createController(old.params, assoc);
        await this.publishNamespace(c, loop);
        if (c.ns) names.push(c.ns.disk.name);
      }
      this.pruneGhosts();
      return names;
    });
  }

  /** The controller vanishes for good (no reconnect); its device goes with it. */
  drop(nqn: string): Promise<number> {
    return this.serial(async () => {
      const victims = [...this.controllers.values()].filter((c) => c.params.nqn === nqn);
      if (victims.length === 0) throw new Error(`no controller for ${nqn}`);
      for (const c of victims) await this.deleteController(c);
      this.pruneGhosts();
      return victims.length;
    });
  }

  /** The subsystem stays listed and live, but its namespace is gone. */
  orphan(nqn: string): Promise<number> {
    return this.serial(async () => {
      const ctrls = [...this.controllers.values()].filter(
        (c) => c.params.nqn === nqn && c.state !== "deleting",
      );
      if (ctrls.length === 0) throw new Error(`no controller for ${nqn}`);
      for (const c of ctrls) {
        c.orphaned = true;
        if (c.ns) await this.unpublishNamespace(c, false);
      }
      this.pruneGhosts();
      return ctrls.length;
    });
  }

  /** Later connects publish their namespace only after `ms` (0 = immediately). */
  setSlowAppear(ms: number): void {
    this.slowAppearMs = Math.max(0, ms);
  }

  // ---- state machine ----

  private createController(params: Controller["params"], assoc: Association): Controller {
    const used = this.usedInstances();
    let instance = 0;
    while (used.has(instance)) instance++;
    let subsys = this.subsystems.get(params.nqn);
    if (!subsys) {
      subsys = {
        instance,
        nqn: params.nqn,
        heads: new Set(),
        controllers: new Set(),
        serial: assoc.grant.serial,
        model: assoc.grant.model,
      };
      this.subsystems.set(params.nqn, subsys);
      this.sysfs.writeSubsystem(subsys.instance, subsys.nqn, subsys.model, subsys.serial, FIRMWARE);
    }
    const c: Controller = {
      instance,
      params,
      subsys,
      state: "live",
      assoc,
      srcAddr: assoc.localAddress,
      file: assoc.grant.file,
      size: assoc.grant.size,
      cntlid: assoc.grant.cntlid,
      orphaned: false,
      timers: new Set(),
    };
    this.controllers.set(instance, c);
    subsys.controllers.add(c);
    this.sysfs.writeController({
      instance,
      state: c.state,
      address: this.addressOf(c),
      subsysnqn: params.nqn,
      cntlid: c.cntlid,
      model: subsys.model,
      serial: subsys.serial,
      firmware: FIRMWARE,
      hostnqn: params.hostnqn,
      hostid: params.hostid,
      ctrlLossTmo: params.ctrlLossTmo,
      reconnectDelay: params.reconnectDelay,
      kato: params.kato,
      traddr: params.traddr,
      trsvcid: params.trsvcid,
    });
    this.sysfs.linkSubsystemController(subsys.instance, instance);
    this.watch(c, assoc);
    return c;
  }

  private watch(c: Controller, assoc: Association): void {
    assoc.onLoss(() => {
      this.serial(() => this.onLoss(c, assoc)).catch(() => undefined);
    });
    assoc.onResize((size) => {
      this.serial(() => this.applyResize(c, size)).catch(() => undefined);
    });
  }

  private async publishIfWanted(c: Controller): Promise<void> {
    if (this.controllers.get(c.instance) !== c || c.state === "deleting" || c.orphaned || c.ns)
      return;
    await this.publishNamespace(c);
  }

  private async publishNamespace(c: Controller, loopIn?: LoopDevice): Promise<void> {
    let loop = loopIn;
    if (!loop) {
      loop = await attachLoop(c.file);
      this.journal.addLoop(loop);
    }
    const s = c.subsys;
    let head = 1;
    while (s.heads.has(head)) head++;
    s.heads.add(head);
    const uuid = uuidFrom(s.nqn);
    const dev = { major: loop.major, minor: loop.minor };
    const S = String(s.instance);
    const C = String(c.instance);
    const H = String(head);
    const ctrlDir = `${CTL}/nvme${C}`;
    let disk: NsAttrs;
    let pathDisk: NsAttrs | undefined;
    if (this.multipath) {
      const headName = `nvme${S}n${H}`;
      disk = {
        name: headName,
        dir: `${this.sysfs.subsysDir(s.instance)}/${headName}`,
        dev,
        sizeBytes: c.size,
        hidden: false,
        nsid: 1,
        uuid,
        diskseq: ++this.diskseq,
        deviceLink: `../../nvme-subsys${S}`,
      };
      const pathName = `nvme${S}c${C}n${H}`;
      pathDisk = {
        name: pathName,
        dir: `${ctrlDir}/${pathName}`,
        sizeBytes: c.size,
        hidden: true,
        nsid: 1,
        uuid,
        diskseq: ++this.diskseq,
        deviceLink: `../../nvme${C}`,
      };
    } else {
      const name = `nvme${C}n${H}`;
      disk = {
        name,
        dir: `${ctrlDir}/${name}`,
        dev,
        sizeBytes: c.size,
        hidden: false,
        nsid: 1,
        uuid,
        diskseq: ++this.diskseq,
        deviceLink: `../../nvme${C}`,
      };
    }
    if (pathDisk) this.sysfs.writeDisk(pathDisk);
    this.sysfs.writeDisk(disk);
    if (pathDisk) {
      this.sysfs.linkMultipath(disk.dir, pathDisk.name, pathDisk.dir);
      this.sysfs.publishDisk(pathDisk);
    }
    // The dev node first, then the class/dev links: once sysfs shows the disk, its node exists.
    const devNode = path.join(this.devRoot, disk.name);
    await mknodBlock(devNode, dev.major, dev.minor);
    this.journal.addDevNode(devNode);
    this.sysfs.publishDisk(disk);
    c.ns = { head, disk, path: pathDisk, loop, devNode };
  }

  /**
   * Removes the namespace device and detaches its loop device (autoclear: a mounted one goes when
   * the last user unmounts). Not made read-only with BLKROSET: on Linux 6.x that flag stays on the
   * loop device after autoclear and breaks whoever attaches it next, while writes through the
   * existing mount are only warned about, not failed.
   */
  private async unpublishNamespace(c: Controller, forceGhost: boolean): Promise<void> {
    const ns = c.ns;
    if (!ns) return;
    c.ns = undefined;
    this.sysfs.removeDisk(ns.disk);
    if (ns.path) this.sysfs.removeDisk(ns.path);
    fs.rmSync(ns.devNode, { force: true });
    this.journal.removeDevNode(ns.devNode);
    // Only while it is still ours: a loop device detached behind our back (a stray
    // `losetup --detach`) frees its number, and someone else — or our own next attachment of the
    // same file — may hold that number by now.
    if (stillOurs(ns.loop)) await detachLoop(ns.loop.path).catch(() => undefined);
    const pinned = stillOurs(ns.loop);
    if (pinned || forceGhost) {
      this.ghosts.push({
        subsys: c.subsys,
        head: ns.head,
        ctrlInstance: this.multipath ? undefined : c.instance,
        loop: ns.loop,
      });
    } else {
      c.subsys.heads.delete(ns.head);
      this.journal.removeLoop(ns.loop);
    }
  }

  private async deleteController(c: Controller, forceGhost = false): Promise<void> {
    if (this.controllers.get(c.instance) !== c) return;
    c.state = "deleting";
    this.clearTimers(c);
    c.assoc?.close();
    c.assoc = undefined;
    this.sysfs.setControllerState(c.instance, "deleting", this.addressOf(c));
    await this.unpublishNamespace(c, forceGhost);
    this.sysfs.unlinkSubsystemController(c.subsys.instance, c.instance);
    this.sysfs.removeController(c.instance);
    this.controllers.delete(c.instance);
    c.subsys.controllers.delete(c);
    this.maybeRemoveSubsystem(c.subsys);
  }

  private maybeRemoveSubsystem(s: Subsystem): void {
    if (s.controllers.size > 0 || this.ghosts.some((g) => g.subsys === s)) return;
    if (this.subsystems.get(s.nqn) !== s) return;
    this.subsystems.delete(s.nqn);
    this.sysfs.removeSubsystem(s.instance);
  }

  /** Releases the numbers of deleted devices whose loop device is finally gone. */
  private pruneGhosts(): void {
    const keep: Ghost[] = [];
    for (const g of this.ghosts) {
      if (stillOurs(g.loop)) {
        keep.push(g);
        continue;
      }
      g.subsys.heads.delete(g.head);
      this.journal.removeLoop(g.loop);
    }
    const released = this.ghosts.filter((g) => !keep.includes(g));
    this.ghosts = keep;
    for (const g of released) this.maybeRemoveSubsystem(g.subsys);
  }

  private onLoss(c: Controller, assoc: Association): void {
    if (this.controllers.get(c.instance) !== c || c.assoc !== assoc || c.state !== "live") return;
    c.assoc = undefined;
    c.state = "connecting";
    this.sysfs.setControllerState(c.instance, c.state, this.addressOf(c));
    const tmo = c.params.ctrlLossTmo;
    if (tmo >= 0) {
      this.timer(c, tmo * 1000, async () => {
        if (c.state === "connecting") {
          await this.deleteController(c);
          this.pruneGhosts();
        }
      });
    }
    if (tmo !== 0) this.timer(c, c.params.reconnectDelay * 1000, () => this.reconnect(c));
  }

  private async reconnect(c: Controller): Promise<void> {
    if (this.controllers.get(c.instance) !== c || c.state !== "connecting") return;
    try {
      const assoc = await openAssociation(
        c.params.traddr,
        Number(c.params.trsvcid),
        c.params.nqn,
        c.params.hostnqn,
        2000,
      );
      if (assoc.grant.file !== c.file) {
        assoc.close(); // a different disk now carries this NQN: not our namespace
        throw new Error("namespace changed");
      }
      c.assoc = assoc;
      c.srcAddr = assoc.localAddress;
      c.state = "live";
      this.clearTimers(c);
      this.sysfs.setControllerState(c.instance, c.state, this.addressOf(c));
      this.watch(c, assoc);
      if (assoc.grant.size !== c.size) await this.applyResize(c, assoc.grant.size);
      if (!c.ns && !c.orphaned) await this.publishNamespace(c);
    } catch {
      if (c.state === "connecting")
        this.timer(c, c.params.reconnectDelay * 1000, () => this.reconnect(c));
    }
  }

  private async applyResize(c: Controller, size: number): Promise<void> {
    c.size = size;
    const ns = c.ns;
    if (!ns) return;
    await setLoopCapacity(ns.loop.path);
    this.sysfs.setDiskSize(ns.disk.dir, size);
    if (ns.path) this.sysfs.setDiskSize(ns.path.dir, size);
  }

  // ---- views ----

  private viewOf(c: Controller): ControllerView {
    const ns = c.ns;
    return {
      name: `nvme${String(c.instance)}`,
      instance: c.instance,
      nqn: c.params.nqn,
      state: c.state,
      address: this.addressOf(c),
      transport: "tcp",
      hostnqn: c.params.hostnqn,
      hostid: c.params.hostid,
      cntlid: c.cntlid,
      serial: c.subsys.serial,
      model: c.subsys.model,
      firmware: FIRMWARE,
      subsystem: `nvme-subsys${String(c.subsys.instance)}`,
      namespace: ns
        ? {
            name: ns.disk.name,
            devPath: ns.devNode,
            nsid: 1,
            sizeBytes: c.size,
            major: ns.loop.major,
            minor: ns.loop.minor,
            loop: ns.loop.path,
          }
        : undefined,
    };
  }

  subsystemsView(): SubsystemView[] {
    return [...this.subsystems.values()]
      .sort((a, b) => a.instance - b.instance)
      .map((s) => ({
        name: `nvme-subsys${String(s.instance)}`,
        nqn: s.nqn,
        serial: s.serial,
        model: s.model,
        firmware: FIRMWARE,
        controllers: [...s.controllers]
          .sort((a, b) => a.instance - b.instance)
          .map((c) => this.viewOf(c)),
      }));
  }

  /** The current subsystems, after releasing devices nothing pins any more (as the kernel would). */
  snapshot(): Promise<SubsystemView[]> {
    return this.serial(() => {
      this.pruneGhosts();
      return this.subsystemsView();
    });
  }

  status(): HostStatus {
    return {
      sysfsRoot: this.sysfs.root,
      devRoot: this.devRoot,
      multipath: this.multipath,
      hostnqn: this.hostnqn,
      hostid: this.hostid,
      slowAppearMs: this.slowAppearMs,
      subsystems: this.subsystemsView(),
      pinned: this.ghosts.map((g) => ({
        subsystem: `nvme-subsys${String(g.subsys.instance)}`,
        head: g.head,
        loop: g.loop.path,
      })),
    };
  }

  /** Waits until queued work is done (tests and the CLI use it after faults). */
  settle(): Promise<void> {
    return this.serial(() => undefined);
  }

  /**
   * Deletes every controller, then undoes everything recorded in the journal: unmounts what is
   * still mounted from our loop devices, detaches them, removes dev nodes and the sysfs tree.
   */
  close(): Promise<void> {
    return this.serial(async () => {
      this.closed = true;
      for (const c of [...this.controllers.values()]) await this.deleteController(c);
      this.ghosts = [];
      await cleanupFromJournal(this.opts.stateDir);
    });
  }
}
