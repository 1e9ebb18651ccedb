// Test helpers: a clock the test moves by hand and a sleep that returns at once but remembers
// how long it was asked to wait.
import type { Clock } from "../types.js";
import type { SleepFn } from "../event-queue.js";

export class ManualClock implements Clock {
  constructor(public t = Date.UTC(2026, 0, 1, 12, 0, 0)) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export function recordingSleep(): { sleep: SleepFn; delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    sleep: async (ms) => {
      delays.push(ms);
    },
  };
}

export const MINUTE = 60_000;
