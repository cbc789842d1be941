import { describe, expect, it } from 'vitest';
import { Attachers, LEASE_MS } from '../../src/supervisor/attachers.js';

const own = { cols: 120, rows: 40 };
const big = { cols: 100, rows: 30 };
const small = { cols: 80, rows: 24 };

describe('Attachers: the size rule (tmux "latest") and leases', () => {
  it('the driver active last sets the size; a watcher never does; with no driver, the agent has its own size', () => {
    const a = new Attachers(own);
    expect(a.size()).toEqual(own);
    a.attach('w', { cols: 60, rows: 20 }, true, 0);
    expect(a.size()).toEqual(own);
    a.attach('a', big, false, 0);
    expect(a.size()).toEqual(big);
    a.attach('b', small, false, 0);
    expect(a.size()).toEqual(small);
    a.touch('a', 1, true);
    expect(a.size()).toEqual(big);
    // Renewing a lease is not activity.
    a.touch('b', 2, false);
    expect(a.size()).toEqual(big);
    a.touch('w', 3, true, { cols: 10, rows: 5 });
    expect(a.size()).toEqual(big);
    // A detach falls back to the next latest driver, not to a size from before.
    a.detach('a');
    expect(a.size()).toEqual(small);
    a.detach('b');
    expect(a.size()).toEqual(own);
  });

  it('a resize of a driver changes the size; a plain resize changes the agent’s own size, used when no driver is attached', () => {
    const a = new Attachers(own);
    a.attach('a', big, false, 0);
    a.touch('a', 1, true, small);
    expect(a.size()).toEqual(small);
    a.setOwn({ cols: 90, rows: 25 });
    expect(a.size()).toEqual(small);
    a.detach('a');
    expect(a.size()).toEqual({ cols: 90, rows: 25 });
  });

  it('a client gone without detaching loses its attachment when its lease runs out; renewing keeps it', () => {
    const a = new Attachers(own);
    a.attach('gone', small, false, 0);
    a.attach('here', big, false, 0);
    expect(a.nextExpiry).toBe(LEASE_MS);
    a.touch('here', LEASE_MS - 1, false);
    expect(a.expire(LEASE_MS - 1)).toEqual([]);
    expect(a.expire(LEASE_MS)).toEqual(['gone']);
    expect(a.size()).toEqual(big);
    expect(a.nextExpiry).toBe(2 * LEASE_MS - 1);
    expect(a.touch('gone', LEASE_MS, true)).toBe(false);
  });
});
