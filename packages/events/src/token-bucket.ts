// A passive token bucket: one token is added every `periodMs` up to `burst`; tryTake() never
// waits. Same contract as client-go's flowcontrol.NewTokenBucketPassiveRateLimiter, in integer
// arithmetic (whole tokens plus the milliseconds carried towards the next one) so that exactly
// one period later there is exactly one token, with no floating-point drift.
import type { Clock } from "./types.js";

export class TokenBucket {
  private tokens: number;
  private carryMs = 0;
  private last: number;

  constructor(
    private readonly burst: number,
    private readonly periodMs: number,
    private readonly clock: Clock,
  ) {
    if (!(burst >= 1) || !(periodMs > 0))
      throw new RangeError(`bad token bucket: burst ${burst}, period ${periodMs}ms`);
    this.tokens = burst;
    this.last = clock.now();
  }

  tryTake(): boolean {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  private refill(): void {
    const now = this.clock.now();
    // A clock stepping backwards must neither mint nor destroy tokens.
    const elapsed = Math.max(0, now - this.last);
    this.last = Math.max(this.last, now);
    if (this.tokens >= this.burst) {
      this.carryMs = 0;
      return;
    }
    const total = this.carryMs + elapsed;
    this.tokens = Math.min(this.burst, this.tokens + Math.floor(total / this.periodMs));
    this.carryMs = this.tokens >= this.burst ? 0 : total % this.periodMs;
  }
}
