// A builder of kernel-shaped NVMe sysfs trees (nvme-sysfs-and-cli.md §a.1, a.6, a.7) in a plain
// directory: real dirs under devices/virtual/..., relative class symlinks, attributes ending in
// "\n". Used by this package's unit tests, integration tests and benchmarks, and exported so the
// driver's tests can build a tree without the simulator.
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { DeviceNumber } from "./devnum.js";

export interface FixtureControllerOptions {
  nqn: string;
  state?: string;
  transport?: string;
  address?: string;
  cntlid?: number;
  hostnqn?: string;
  /** subsystem the controller belongs to (adds the link inside the subsystem dir) */
  subsystem?: string;
}

export interface FixtureNamespaceOptions {
  /** omit for a disk without a device number */
  dev?: DeviceNumber;
  sizeBytes?: number;
  nsid?: number;
  uuid?: string;
  wwid?: string;
}

export class SysfsFixture {
  constructor(readonly root: string) {
    for (const d of [
      "class/nvme",
      "class/nvme-subsystem",
      "class/block",
      "dev/block",
      "devices/virtual/nvme-fabrics/ctl",
    ]) {
      mkdirSync(path.join(root, d), { recursive: true });
    }
  }

  subsystemDir(name: string): string {
    return path.join(this.root, "devices/virtual/nvme-subsystem", name);
  }

  controllerDir(name: string): string {
    return path.join(this.root, "devices/virtual/nvme-fabrics/ctl", name);
  }

  /** Write an attribute the way sysfs shows it: value + "\n". */
  writeAttr(dir: string, name: string, value: string): void {
    writeFileSync(path.join(dir, name), `${value}\n`);
  }

  addSubsystem(name: string, nqn: string, iopolicy = "numa"): string {
    const dir = this.subsystemDir(name);
    mkdirSync(dir, { recursive: true });
    this.writeAttr(dir, "subsysnqn", nqn);
    this.writeAttr(dir, "iopolicy", iopolicy);
    this.writeAttr(dir, "subsystype", "nvm");
    this.link(path.join(this.root, "class/nvme-subsystem", name), dir);
    return dir;
  }

  addController(name: string, o: FixtureControllerOptions): string {
    const dir = this.controllerDir(name);
    mkdirSync(dir, { recursive: true });
    const state = o.state ?? "live";
    this.writeAttr(dir, "subsysnqn", o.nqn);
    this.writeAttr(dir, "state", state);
    this.writeAttr(dir, "transport", o.transport ?? "tcp");
    this.writeAttr(
      dir,
      "address",
      o.address ?? `traddr=127.0.0.1,trsvcid=4420${state === "live" ? ",src_addr=127.0.0.1" : ""}`,
    );
    this.writeAttr(dir, "cntlid", String(o.cntlid ?? 1));
    this.writeAttr(
      dir,
      "hostnqn",
      o.hostnqn ?? "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000001",
    );
    this.link(path.join(this.root, "class/nvme", name), dir);
    if (o.subsystem) this.link(path.join(this.subsystemDir(o.subsystem), name), dir);
    return dir;
  }

  setState(controller: string, state: string): void {
    this.writeAttr(this.controllerDir(controller), "state", state);
  }

  /** Multipath head nvme<S>n<H> under a subsystem: the usable disk. */
  addHead(subsystem: string, name: string, o: FixtureNamespaceOptions): string {
    return this.addDisk(path.join(this.subsystemDir(subsystem), name), name, o, false);
  }

  /** Plain disk nvme<X>n<H> under a controller (no multipath head). */
  addPlain(controller: string, name: string, o: FixtureNamespaceOptions): string {
    return this.addDisk(path.join(this.controllerDir(controller), name), name, o, false);
  }

  /** Hidden per-path disk nvme<S>c<C>n<H> under a controller: no dev, no /dev node. */
  addPath(controller: string, name: string, nsid = 1): string {
    return this.addDisk(path.join(this.controllerDir(controller), name), name, { nsid }, true);
  }

  /** Remove a disk (head, plain or path) the way the kernel does: dir and links go. */
  removeDisk(dir: string, name: string, dev?: DeviceNumber): void {
    rmSync(dir, { recursive: true, force: true });
    rmSync(path.join(this.root, "class/block", name), { force: true });
    if (dev)
      rmSync(path.join(this.root, "dev/block", `${dev.major}:${dev.minor}`), { force: true });
  }

  removeController(name: string, subsystem?: string): void {
    rmSync(this.controllerDir(name), { recursive: true, force: true });
    rmSync(path.join(this.root, "class/nvme", name), { force: true });
    if (subsystem) rmSync(path.join(this.subsystemDir(subsystem), name), { force: true });
  }

  private addDisk(dir: string, name: string, o: FixtureNamespaceOptions, hidden: boolean): string {
    mkdirSync(dir, { recursive: true });
    if (o.dev) {
      this.writeAttr(dir, "dev", `${o.dev.major}:${o.dev.minor}`);
      this.link(path.join(this.root, "dev/block", `${o.dev.major}:${o.dev.minor}`), dir);
    }
    this.writeAttr(dir, "size", String(Math.floor((o.sizeBytes ?? 0) / 512)));
    this.writeAttr(dir, "hidden", hidden ? "1" : "0");
    this.writeAttr(dir, "nsid", String(o.nsid ?? 1));
    if (o.uuid) this.writeAttr(dir, "uuid", o.uuid);
    if (o.wwid) this.writeAttr(dir, "wwid", o.wwid);
    this.link(path.join(this.root, "class/block", name), dir);
    return dir;
  }

  /** Relative symlink, as sysfs has them (so the tree can be moved or bind mounted). */
  private link(at: string, target: string): void {
    rmSync(at, { force: true });
    symlinkSync(path.relative(path.dirname(at), target), at);
  }
}
