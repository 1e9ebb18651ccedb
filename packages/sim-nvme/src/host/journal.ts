// What the host agent has made on the machine (loop devices, dev nodes, the sysfs tree), kept on
// disk so `down` can undo it even after the agent was killed.
import fs from "node:fs";
import path from "node:path";
import { detachLoop, stillOurs, unmountAll, type LoopDevice } from "./loop.js";
import { SysfsTree } from "./sysfs.js";

export interface JournalData {
  sysfsRoot: string;
  devRoot: string;
  loops: LoopDevice[];
  devNodes: string[];
}

export function journalPath(stateDir: string): string {
  return path.join(stateDir, "host-journal.json");
}

export class Journal {
  private data: JournalData;

  constructor(
    private readonly file: string,
    sysfsRoot: string,
    devRoot: string,
  ) {
    this.data = { sysfsRoot, devRoot, loops: [], devNodes: [] };
    this.save();
  }

  addLoop(l: LoopDevice): void {
    this.data.loops.push(l);
    this.save();
  }

  removeLoop(l: LoopDevice): void {
    this.data.loops = this.data.loops.filter(
      (x) => !(x.path === l.path && x.file === l.file && x.diskseq === l.diskseq),
    );
    this.save();
  }

  addDevNode(p: string): void {
    if (!this.data.devNodes.includes(p)) this.data.devNodes.push(p);
    this.save();
  }

  removeDevNode(p: string): void {
    this.data.devNodes = this.data.devNodes.filter((x) => x !== p);
    this.save();
  }

  private save(): void {
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.data, null, 2));
    fs.renameSync(tmp, this.file);
  }
}

export interface CleanupReport {
  unmounted: string[];
  detached: string[];
  devNodesRemoved: string[];
}

/**
 * Undoes everything a (possibly dead) host agent recorded: unmounts whatever is still mounted
 * from its loop devices, detaches them, removes its dev nodes and its sysfs entries.
 */
export async function cleanupFromJournal(stateDir: string): Promise<CleanupReport> {
  const report: CleanupReport = { unmounted: [], detached: [], devNodesRemoved: [] };
  const file = journalPath(stateDir);
  if (!fs.existsSync(file)) return report;
  const data = JSON.parse(fs.readFileSync(file, "utf8")) as JournalData;
  for (const l of data.loops) {
    if (!stillOurs(l)) continue;
    const mounts = fs
      .readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .filter((line) => line.split(" ")[2] === `${String(l.major)}:${String(l.minor)}`)
      .map((line) => line.split(" ")[4] ?? "");
    await unmountAll(l.major, l.minor);
    report.unmounted.push(...mounts);
    await detachLoop(l.path).catch(() => undefined);
    report.detached.push(l.path);
  }
  for (const n of data.devNodes) {
    if (fs.existsSync(n)) {
      fs.rmSync(n, { force: true });
      report.devNodesRemoved.push(n);
    }
  }
  new SysfsTree(data.sysfsRoot).clear();
  fs.rmSync(file, { force: true });
  return report;
}
