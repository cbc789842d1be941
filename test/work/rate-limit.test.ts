import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/work/rate-limit.js';

describe('token bucket', () => {
  it('allows a burst, then one start per 1/rate seconds, on the injected clock', () => {
    const clock = new SimulatedClock();
    const b = new TokenBucket({ perSecond: 2, burst: 3 }, clock);
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
    expect(b.waitMs()).toBe(500);
    clock.increment(499);
    expect(b.take()).toBe(false);
    clock.increment(1);
    expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
  });

  it('refills up to the burst and no further after a quiet spell', () => {
    const clock = new SimulatedClock();
    const b = new TokenBucket({ perSecond: 1, burst: 2 }, clock);
    b.take();
    b.take();
    clock.increment(60_000);
    expect([b.take(), b.take(), b.take()]).toEqual([true, true, false]);
  });

  it('a fractional rate: one start every 4 s', () => {
    const clock = new SimulatedClock();
    const b = new TokenBucket({ perSecond: 0.25, burst: 1 }, clock);
    expect(b.take()).toBe(true);
    expect(b.waitMs()).toBe(4000);
    clock.increment(3999);
    expect(b.take()).toBe(false);
    clock.increment(1);
    expect(b.take()).toBe(true);
  });

  it('a clock stepping back takes no tokens away and gives none', () => {
    let now = 10_000;
    const b = new TokenBucket({ perSecond: 1, burst: 1 }, { now: () => now });
    b.take();
    now = 5000;
    expect(b.take()).toBe(false);
    now = 11_000;
    expect(b.take()).toBe(true);
  });

  it('refuses a limit that would never give a token', () => {
    const clock = new SimulatedClock();
    expect(() => new TokenBucket({ perSecond: 0, burst: 1 }, clock)).toThrow('a rate limit needs perSecond > 0 and burst >= 1, got 0/s burst 1');
    expect(() => new TokenBucket({ perSecond: 1, burst: 0.5 }, clock)).toThrow('burst 0.5');
  });
});
