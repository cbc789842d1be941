import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RestartPolicy } from '../../src/config/types.js';
import { backoffDelay, decideRestart, EMPTY_HISTORY, type ExitInfo, type RestartHistory } from '../../src/machines/restart-policy.js';

const policy: RestartPolicy = {
  policy: 'on-failure',
  successCodes: [0],
  noRestartCodes: [78],
  backoff: { initialMs: 1000, factor: 2, maxMs: 60_000, jitter: 0 },
  resetAfterMs: 30_000,
  budget: { maxRestarts: 3, windowMs: 60_000 },
};
const crash = (runMs = 100): ExitInfo => ({ code: 1, signal: null, runMs, cause: 'exit' });
const half = () => 0.5;

describe('restart policy', () => {
  it('backs off exponentially up to the max', () => {
    const p = { ...policy, budget: { maxRestarts: 100, windowMs: 60_000 } };
    let h: RestartHistory = EMPTY_HISTORY;
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = decideRestart(p, h, crash(), i * 1000, half);
      if (r.decision.action !== 'restart') throw new Error('expected restart');
      delays.push(r.decision.delayMs);
      h = r.history;
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
  });

  it('jitter stays within ±jitter of the base delay', () => {
    const p = { ...policy, backoff: { ...policy.backoff, jitter: 0.2 } };
    expect(backoffDelay(p, 1, () => 0)).toBe(800);
    expect(backoffDelay(p, 1, () => 0.999999)).toBe(1200);
  });

  it('backoff.max is a cap even after jitter (the 60s default gave 63.9s and 64.8s)', () => {
    const p = { ...policy, backoff: { initialMs: 1000, factor: 2, maxMs: 60_000, jitter: 0.1 } };
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
        const d = backoffDelay(p, attempt, () => r);
        expect(d).toBeLessThanOrEqual(60_000);
        expect(d).toBeGreaterThanOrEqual(0);
      }),
    );
    // Below the cap jitter still spreads both ways; at the cap it can only shorten the delay.
    expect(backoffDelay(p, 7, () => 0.999999)).toBe(60_000);
    expect(backoffDelay(p, 7, () => 0)).toBe(54_000);
  });

  it('at the cap, jitter still spreads restarts (clamping put half of all draws on exactly backoff.max)', () => {
    const p = { ...policy, backoff: { initialMs: 1000, factor: 2, maxMs: 60_000, jitter: 0.1 } };
    const draws = Array.from({ length: 100 }, (_, i) => backoffDelay(p, 20, () => i / 100));
    expect(draws.filter((d) => d === 60_000).length).toBeLessThanOrEqual(1);
    expect(new Set(draws).size).toBe(100);
  });

  it('a stable run resets the backoff', () => {
    let h: RestartHistory = EMPTY_HISTORY;
    h = decideRestart(policy, h, crash(), 0, half).history;
    h = decideRestart(policy, h, crash(), 1000, half).history;
    const r = decideRestart(policy, h, crash(30_000), 40_000, half);
    expect(r.decision).toMatchObject({ action: 'restart', attempt: 1, delayMs: 1000 });
  });

  it('gives up loudly when the sliding-window budget is exhausted', () => {
    let h: RestartHistory = EMPTY_HISTORY;
    for (const t of [0, 1000, 2000]) h = decideRestart(policy, h, crash(), t, half).history;
    const r = decideRestart(policy, h, crash(), 3000, half);
    expect(r.decision).toMatchObject({ action: 'give-up', why: 'budget-exhausted' });
    expect(r.decision.reason).toMatch(/3 restarts within 60000ms \(max 3\)/);
  });

  it('the window slides: old restarts stop counting (not a counter that never resets)', () => {
    let h: RestartHistory = EMPTY_HISTORY;
    for (const t of [0, 1000, 2000]) h = decideRestart(policy, h, crash(), t, half).history;
    const r = decideRestart(policy, h, crash(), 60_500, half);
    expect(r.decision).toMatchObject({ action: 'restart', budgetLeft: 0 });
    expect(r.history.restarts).toEqual([1000, 2000, 60_500].filter((t) => t > 500));
  });

  it('counts long runs against the budget too (not only sub-min_uptime crashes, unlike pm2)', () => {
    let h: RestartHistory = EMPTY_HISTORY;
    for (const t of [0, 10_000, 20_000]) h = decideRestart(policy, h, crash(40_000), t, half).history;
    expect(decideRestart(policy, h, crash(40_000), 30_000, half).decision.action).toBe('give-up');
  });

  it('on-failure: a success exit is not restarted', () => {
    const r = decideRestart(policy, EMPTY_HISTORY, { code: 0, signal: null, runMs: 5, cause: 'exit' }, 0, half);
    expect(r.decision).toMatchObject({ action: 'give-up', why: 'success-exit' });
  });

  it('on-failure: a ready timeout is a failure even with a success code', () => {
    const r = decideRestart(policy, EMPTY_HISTORY, { code: 0, signal: null, runMs: 5, cause: 'ready-timeout' }, 0, half);
    expect(r.decision.action).toBe('restart');
  });

  it('always: a success exit is restarted', () => {
    const r = decideRestart({ ...policy, policy: 'always' }, EMPTY_HISTORY, { code: 0, signal: null, runMs: 5, cause: 'exit' }, 0, half);
    expect(r.decision.action).toBe('restart');
  });

  it('no: never restarts', () => {
    const r = decideRestart({ ...policy, policy: 'no' }, EMPTY_HISTORY, crash(), 0, half);
    expect(r.decision).toMatchObject({ action: 'give-up', why: 'policy-no' });
  });

  it('no_restart_codes win over always', () => {
    const r = decideRestart({ ...policy, policy: 'always' }, EMPTY_HISTORY, { code: 78, signal: null, runMs: 5, cause: 'exit' }, 0, half);
    expect(r.decision).toMatchObject({ action: 'give-up', why: 'no-restart-code' });
  });

  it('a command that cannot be spawned is not retried, whatever the policy', () => {
    const r = decideRestart({ ...policy, policy: 'always' }, EMPTY_HISTORY, { code: null, signal: null, runMs: 0, cause: 'spawn-failed' }, 0, half);
    expect(r.decision).toMatchObject({ action: 'give-up', why: 'spawn-failed' });
  });

  it('a signal death is a failure', () => {
    const r = decideRestart(policy, EMPTY_HISTORY, { code: null, signal: 'SIGSEGV', runMs: 5, cause: 'exit' }, 0, half);
    expect(r.decision).toMatchObject({ action: 'restart', reason: expect.stringMatching(/killed by SIGSEGV/) });
  });
});
