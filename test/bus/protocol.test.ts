import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode, encodeOutput, PROTOCOL_VERSION, topicFor } from '../../src/bus/protocol.js';

describe('wire format', () => {
  it('encodeOutput (worker side, from chunks) decodes like encode of the same message', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }), fc.nat(), fc.string({ maxLength: 20 }), (chunks, seq, agent) => {
        const size = chunks.reduce((n, c) => n + c.length, 0);
        const env = { run: 'abc', agent, seq, ts: 1_700_000_000_000 };
        const fast = decode(encodeOutput(env, chunks, size));
        const ref = decode(encode({ v: PROTOCOL_VERSION, ...env, kind: 'output', data: Buffer.concat(chunks) }));
        // msgpackr returns Buffer or Uint8Array for bin depending on length: compare bytes.
        const bytes = (m: typeof fast) => (m.kind === 'output' ? Buffer.from(m.data) : null);
        expect({ ...fast, data: bytes(fast) }).toEqual({ ...ref, data: bytes(ref) });
        expect(bytes(fast)?.equals(Buffer.concat(chunks))).toBe(true);
      }),
    );
  });

  it('topics: kind/agent/ with a trailing slash, supervisor/ without an agent', () => {
    expect(topicFor('state', 'a')).toBe('state/a/');
    expect(topicFor('state', 'ab').startsWith(topicFor('state', 'a'))).toBe(false);
    expect(topicFor('supervisor', '')).toBe('supervisor/');
  });
});
