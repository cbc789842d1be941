import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode, encodeOutput, PROTOCOL_VERSION, topicFor } from '../../src/bus/protocol.js';

describe('wire format', () => {
  it('encodeOutput (worker side, from chunks) splits into messages that decode like encode of each part', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }), fc.nat(), fc.string({ maxLength: 20 }), fc.integer({ min: 1, max: 400 }), (chunks, seq, agent, maxPart) => {
        const size = chunks.reduce((n, c) => n + c.length, 0);
        const all = Buffer.concat(chunks);
        const env = { run: 'abc', agent, ts: 1_700_000_000_000 };
        const { buffer, parts } = encodeOutput(env, seq, chunks, size, maxPart);
        expect(parts.map((p) => p.seq)).toEqual(parts.map((_, i) => seq + i));
        expect(parts.every((p) => p.size <= maxPart)).toBe(true);
        let at = 0;
        for (const p of parts) {
          const fast = decode(buffer.subarray(p.offset, p.offset + p.length));
          const data = all.subarray(at, at + p.size);
          at += p.size;
          const ref = decode(encode({ v: PROTOCOL_VERSION, ...env, seq: p.seq, kind: 'output', data }));
          // msgpackr returns Buffer or Uint8Array for bin depending on length: compare bytes.
          const bytes = (m: typeof fast) => (m.kind === 'output' ? Buffer.from(m.data) : null);
          expect({ ...fast, data: bytes(fast) }).toEqual({ ...ref, data: bytes(ref) });
          expect(Buffer.from(buffer.subarray(p.offset + p.length - p.size, p.offset + p.length)).equals(data)).toBe(true);
        }
        expect(at).toBe(size);
      }),
    );
  });

  it('topics: kind/agent/ with a trailing slash, supervisor/ without an agent', () => {
    expect(topicFor('state', 'a')).toBe('state/a/');
    expect(topicFor('state', 'ab').startsWith(topicFor('state', 'a'))).toBe(false);
    expect(topicFor('supervisor', '')).toBe('supervisor/');
  });
});
