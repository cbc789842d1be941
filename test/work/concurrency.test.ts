import { describe, expect, it } from 'vitest';
import { ConcurrencyGate } from '../../src/work/concurrency.js';

describe('concurrency gate', () => {
  it('counts the running tasks it is given and gives at most the limit per target', () => {
    const limits = new Map([['template:coder', 2], ['pool:crew', 1]]);
    const gate = new ConcurrencyGate((k) => limits.get(k), ['template:coder']);
    expect(gate.tryTake('template:coder')).toBe(true);
    expect(gate.tryTake('template:coder')).toBe('concurrency limit: 2 of 2 running');
    expect(gate.tryTake('pool:crew')).toBe(true);
    expect(gate.tryTake('pool:crew')).toBe('concurrency limit: 1 of 1 running');
    gate.release('pool:crew');
    expect(gate.inUse('pool:crew')).toBe(0);
    expect(gate.tryTake('pool:crew')).toBe(true);
    // No limit configured: unbounded.
    for (let i = 0; i < 100; i++) expect(gate.tryTake('template:free')).toBe(true);
  });
});
