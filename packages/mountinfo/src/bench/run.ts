// Benchmarks (print numbers, assert nothing): `npm run bench` in this package.
//   1. parse a 10,000-line mountinfo
//   2. one stale check over 100 staged volumes = one mountinfo read + one sysfs scan
//   3. resolver hit (re-validated) vs miss (full scan)
import {
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type PerformanceEntry, PerformanceObserver } from "node:perf_hooks";
import { hostBlockDevices } from "../host-block-devices.js";
import { generateMountinfo, mountinfoLine } from "../mountinfo-fixture.js";
import { type MountEntry, parseMountinfo } from "../mountinfo.js";
import { DeviceResolver } from "../resolver.js";
import { StaleChecker } from "../stale.js";
import { SysfsFixture } from "../sysfs-fixture.js";

const VOLUMES = 100;

/**
 * Run `fn` `runs` times after a warm-up and print wall-time median/p95/min, the median CPU time
 * of this process for the same runs, and the GC pauses that fell inside them.
 * - warm-up: enough calls for V8 to reach its optimising tier, so the runs measure steady state;
 * - wall time includes waiting for a core on a shared machine, CPU time (user + system) does
 *   not, so the two side by side show how much of a number is the machine's load;
 * - GC is not forced or excluded: the collections a parse causes are part of its cost (the
 *   driver pays them too), so they are counted and reported instead of hidden;
 * - `fn` should return something small (a count), not what it built: an awaited return value
 *   stays reachable while the next run executes, so every scavenge in that run also copies the
 *   previous result (for the 10,000-line parse that doubled the median).
 */
async function measure(label: string, runs: number, fn: () => unknown): Promise<void> {
  const warmup = Math.max(20, Math.ceil(runs / 10));
  for (let i = 0; i < warmup; i++) await fn();
  const gcEntries: PerformanceEntry[] = [];
  const gcs = new PerformanceObserver((list) => gcEntries.push(...list.getEntries()));
  gcs.observe({ entryTypes: ["gc"] });
  const wall: number[] = [];
  const cpu: number[] = [];
  const load = os.loadavg()[0];
  const begin = performance.now();
  for (let i = 0; i < runs; i++) {
    const c = process.cpuUsage();
    const t = performance.now();
    await fn();
    wall.push(performance.now() - t);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
  }
  const finish = performance.now();
  // node queues gc entries from a GC callback via setImmediate: let them arrive
  await new Promise((resolve) => setImmediate(resolve));
  gcEntries.push(...gcs.takeRecords());
  const pauses = gcEntries.filter((e) => e.startTime >= begin && e.startTime < finish);
  gcs.disconnect();
  const gcMs = pauses.reduce((sum, e) => sum + e.duration, 0);
  const q = (xs: number[], f: number) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))].toFixed(3);
  };
  const total = wall.reduce((a, b) => a + b, 0);
  console.log(
    `${label}  [${runs} runs after ${warmup} warm-up, load ${load.toFixed(2)} -> ${os.loadavg()[0].toFixed(2)}]\n` +
      `    wall median ${q(wall, 0.5)} ms  p95 ${q(wall, 0.95)}  min ${q(wall, 0)}  max ${q(wall, 1)}` +
      `   cpu median ${q(cpu, 0.5)} ms` +
      `   gc ${pauses.length} pauses ${gcMs.toFixed(1)} ms (${((100 * gcMs) / total).toFixed(0)}% of wall)`,
  );
}


async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mountinfo-bench-"));
  try {
    const [l1, l5, l15] = os.loadavg().map((l) => l.toFixed(2));
    console.log(
      `node ${process.version}, ${os.cpus().length} CPU(s): ${os.cpus()[0]?.model ?? "?"}; ` +
        `load average ${l1} ${l5} ${l15} (1/5/15 min)`,
    );

    const text = generateMountinfo(10_000);
    let parsed = 0; // results are used, so the parse cannot be optimised away
    await measure(
      `parse 10,000-line mountinfo (${(text.length / 1e6).toFixed(2)} MB; issue #3 goal: median < 5 ms)`,
      300,
      () => (parsed += parseMountinfo(text).length),
    );
    if (parsed !== 10_000 * (300 + 30)) throw new Error(`parsed ${parsed} entries`);
    // The driver drops each table before it reads the next one; a caller that keeps the last
    // table while parsing a new one pays more GC (the old table is copied by every scavenge):
    let previous: MountEntry[] = [];
    await measure(
      "parse 10,000-line mountinfo while the previous table is still referenced",
      300,
      () => {
        const entries = parseMountinfo(text);
        const count = previous.length;
        previous = entries;
        return count;
      },
    );

    // a node with 100 staged volumes: 100 subsystems, each one controller, one head, one path
    const host = hostBlockDevices(1)[0];
    const fx = new SysfsFixture(path.join(dir, "sys"));
    const devRoot = path.join(dir, "dev");
    mkdirSync(devRoot);
    const lines = [
      mountinfoLine({
        mountId: 1,
        parentId: 0,
        major: 254,
        minor: 0,
        mountPoint: "/",
        fsType: "ext4",
        source: "/dev/vda",
      }),
    ];
    const items: { stagingPath: string; nqn: string }[] = [];
    for (let i = 0; i < VOLUMES; i++) {
      const nqn = `nqn.2000-02.com.mikrotik:pvc-${String(i).padStart(4, "0")}`;
      // volume 50's head carries the host device's number, so its /dev entry can be verified
      const dev =
        i === 50 ? { major: host.major, minor: host.minor } : { major: 259, minor: 1000 + i };
      fx.addSubsystem(`nvme-subsys${i}`, nqn);
      fx.addController(`nvme${i}`, { nqn, subsystem: `nvme-subsys${i}` });
      fx.addHead(`nvme-subsys${i}`, `nvme${i}n1`, {
        dev,
        sizeBytes: 10 * 2 ** 30,
        nsid: 1,
        uuid: `uuid-${i}`,
        wwid: `uuid.uuid-${i}`,
      });
      fx.addPath(`nvme${i}`, `nvme${i}c${i}n1`);
      const stagingPath = `/var/lib/kubelet/plugins/kubernetes.io/csi/rds-nvme.csi.dev/${i}/globalmount`;
      lines.push(
        mountinfoLine({
          mountId: 100 + 2 * i,
          parentId: 1,
          ...dev,
          mountPoint: stagingPath,
          fsType: "ext4",
          source: `/dev/nvme${i}n1`,
          optional: [`shared:${i + 10}`],
        }),
      );
      lines.push(
        mountinfoLine({
          mountId: 101 + 2 * i,
          parentId: 1,
          ...dev,
          mountPoint: `/var/lib/kubelet/pods/${i}/volumes/kubernetes.io~csi/pvc-${i}/mount`,
          fsType: "ext4",
          source: `/dev/nvme${i}n1`,
          optional: [`shared:${i + 10}`],
        }),
      );
      items.push({ stagingPath, nqn });
    }
    mkdirSync(path.join(dir, "proc", "self"), { recursive: true });
    writeFileSync(path.join(dir, "proc", "self", "mountinfo"), `${lines.join("\n")}\n`);
    symlinkSync(host.path, path.join(devRoot, "nvme50n1"));

    const checker = new StaleChecker({ procRoot: path.join(dir, "proc"), sysfsRoot: fx.root });
    const verdicts = await checker.checkMany(items);
    const notOk = verdicts.filter((v) => v.reason !== "ok").length;
    await measure(`stale check, ${VOLUMES} volumes (1 mountinfo read + 1 sysfs scan)`, 200, () =>
      checker.checkMany(items),
    );
    console.log(`  (verdicts: ${VOLUMES - notOk} ok, ${notOk} not ok)`);

    const nqn = items[50].nqn;
    const cached = new DeviceResolver({ sysfsRoot: fx.root, devRoot });
    if (!(await cached.resolve(nqn))) throw new Error("benchmark fixture does not resolve");
    await measure("resolver hit (re-validated: dev, subsysnqn, controllers, /dev node)", 2000, () =>
      cached.resolve(nqn),
    );
    const uncached = new DeviceResolver({ sysfsRoot: fx.root, devRoot, cache: false });
    await measure(`resolver miss (full scan of ${VOLUMES} subsystems)`, 200, () =>
      uncached.resolve(nqn),
    );
    console.log(`  (hit counters: ${JSON.stringify(cached.stats)})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
