import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../../src/actors/ring-buffer.js';

describe('RingBuffer', () => {
  it('keeps exactly the most recent `capacity` bytes, whatever the write sizes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 30 }), (cap, writes) => {
        const ring = new RingBuffer(cap);
        for (const w of writes) ring.write(w);
        const all = Buffer.concat(writes);
        expect(ring.contents().equals(all.subarray(Math.max(0, all.length - cap)))).toBe(true);
        expect(ring.total).toBe(all.length);
      }),
    );
  });
});
