// Benchmark: 10,000 events over 100 objects through the recorder into a counting sink.
// Prints wall time and the API calls made (create + patch) against one call per event.
// Measures and prints only; asserts nothing.
import { performance } from "node:perf_hooks";
import {
  createEventRecorder,
  pvcRef,
  silentLogger,
  type Clock,
  type EventBody,
  type EventPatch,
  type EventSink,
} from "../index.js";

const EVENTS = 10_000;
const OBJECTS = 100;

class CountingSink implements EventSink {
  creates = 0;
  patches = 0;
  async create(_event: EventBody): Promise<void> {
    this.creates++;
  }
  async patch(_namespace: string, _name: string, _patch: EventPatch): Promise<void> {
    this.patches++;
  }
}

/** What the node plugin's health monitor sends when things go wrong: a few reasons, messages that repeat and vary. */
function eventFor(i: number): { object: number; reason: string; message: string } {
  const object = i % OBJECTS;
  const round = Math.floor(i / OBJECTS);
  switch (round % 4) {
    case 0:
      return {
        object,
        reason: "StaleMountDetected",
        message: `volume pvc-${object}: the NVMe device was renumbered`,
      };
    case 1:
      return {
        object,
        reason: "RecoveryFailed",
        message: `volume pvc-${object}: attempt ${round} failed: umount: target is busy`,
      };
    case 2:
      return {
        object,
        reason: "ConnectionFailure",
        message: `volume pvc-${object}: connect failed after ${round % 3} attempt(s)`,
      };
    default:
      return {
        object,
        reason: "StaleMountDetected",
        message: `volume pvc-${object}: the NVMe device was renumbered`,
      };
  }
}

interface Scenario {
  name: string;
  /** Milliseconds of (simulated) time between two events. */
  stepMs: number;
  /** Wait for the queue after every event (no folding of repeats), or only at the end. */
  flushEach: boolean;
  /** Turn the spam filter off, to see what dedupe + aggregation alone do. */
  noSpamFilter?: boolean;
}

async function run(s: Scenario): Promise<void> {
  const sink = new CountingSink();
  let t = Date.UTC(2026, 0, 1);
  const clock: Clock = { now: () => t };
  const recorder = createEventRecorder({
    component: "rds-nvme-csi-node",
    instance: "bench-node",
    sink,
    clock,
    logger: silentLogger,
    maxQueue: EVENTS,
    ...(s.noSpamFilter ? { correlator: { spamBurst: Number.MAX_SAFE_INTEGER } } : {}),
  });
  const refs = Array.from({ length: OBJECTS }, (_, o) => pvcRef("bench", `pvc-${o}`, `uid-${o}`));

  const start = performance.now();
  for (let i = 0; i < EVENTS; i++) {
    const e = eventFor(i);
    recorder.event(refs[e.object], "Warning", e.reason, e.message);
    t += s.stepMs;
    if (s.flushEach) await recorder.flush();
  }
  await recorder.flush();
  const wallMs = performance.now() - start;
  const calls = sink.creates + sink.patches;
  const c = recorder.counters();
  console.log(
    [
      `${s.name}:`,
      `  wall time ${wallMs.toFixed(1)} ms (${((EVENTS / wallMs) * 1000).toFixed(0)} events/s)`,
      `  API calls ${calls} (create ${sink.creates} + patch ${sink.patches}) vs ${EVENTS} events: ${(EVENTS / calls).toFixed(1)}x fewer (ratio ${(calls / EVENTS).toFixed(4)})`,
      `  counters: deduplicated ${c.deduplicated}, aggregated ${c.aggregated}, dropped by spam filter ${c.dropped}, dropped queue full ${c.droppedQueueFull}, failed ${c.failed}`,
    ].join("\n"),
  );
  await recorder.shutdown();
}

console.log(
  `events recorder benchmark: ${EVENTS} events over ${OBJECTS} objects (node ${process.version})`,
);
for (const s of [
  { name: "burst: all events in one synchronous loop, then flush", stepMs: 0, flushEach: false },
  {
    name: "burst, each write awaited (no folding of queued repeats: client-go's call count)",
    stepMs: 0,
    flushEach: true,
  },
  {
    name: "burst, spam filter off (dedupe + aggregation + folding alone)",
    stepMs: 0,
    flushEach: false,
    noSpamFilter: true,
  },
  {
    name: "paced, one event per object every 100 s, each write awaited",
    stepMs: 1000,
    flushEach: true,
  },
  {
    name: "slow, one event per object every 10 min, each write awaited",
    stepMs: 6000,
    flushEach: true,
  },
] satisfies Scenario[]) {
  await run(s);
}
