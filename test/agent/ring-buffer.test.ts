import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../../src/agent/ring-buffer.js';

describe('RingBuffer', () => {
  it('keeps exactly the most recent `capacity` bytes, whatever the write sizes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 30 }), (cap, writes) => {
        const ring = new RingBuffer(cap);
        for (const w of writes) ring.write(w);
        const all = Buffer.concat(writes);
        expect(ring.tail().equals(all.subarray(Math.max(0, all.length - cap)))).toBe(true);
        expect(ring.total).toBe(all.length);
      }),
    );
  });

  it('a read of the newest n bytes holds only those n bytes (logs of 1 MiB from a big ring copied and posted the whole ring)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 30 }), fc.nat({ max: 80 }), (cap, writes, n) => {
        const ring = new RingBuffer(cap);
        for (const w of writes) ring.write(w);
        const kept = Buffer.concat(writes).subarray(Math.max(0, ring.total - cap));
        const tail = ring.tail(n);
        expect(tail.equals(kept.subarray(Math.max(0, kept.length - n)))).toBe(true);
        expect(tail.buffer.byteLength).toBe(tail.length);
      }),
    );
  });
});
