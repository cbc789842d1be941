/**
 * A token bucket: `burst` tokens at most, refilled at `perSecond`. Time comes from an injected
 * clock (the supervisor's, or a simulated one in tests); the bucket keeps no timer of its own.
 */
export interface RateLimit {
  /** Tokens added per second (may be fractional: 0.5 is one start every 2 s). */
  readonly perSecond: number;
  /** Tokens held at most: starts allowed at once after a quiet spell. */
  readonly burst: number;
}

export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    readonly limit: RateLimit,
    private readonly clock: { now(): number },
  ) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) throw new Error(`a rate limit needs perSecond > 0 and burst >= 1, got ${limit.perSecond}/s burst ${limit.burst}`);
    this.tokens = limit.burst;
    this.at = clock.now();
  }

  /** Takes a token when one is there. */
  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until `take` can succeed (0: now). */
  waitMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.limit.perSecond);
  }

  private refill(): void {
    const now = this.clock.now();
    // A clock that steps back (a wall clock adjusted) adds nothing rather than taking tokens away.
    this.tokens = Math.min(this.limit.burst, this.tokens + (Math.max(0, now - this.at) * this.limit.perSecond) / 1000);
    this.at = Math.max(this.at, now);
  }
}
