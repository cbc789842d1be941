import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeReply } from '../../src/bus/control.js';
import { unpack } from '../../src/bus/msgpack.js';
import { prefixesFor } from '../../src/bus/client.js';
import { decode, encode, encodeOutput, type MessageOf, PROTOCOL_VERSION, topicFor } from '../../src/bus/protocol.js';
import { TaskQueue } from '../../src/work/task-queue.js';

/**
 * The msgpack type byte of the value of `key` in a map encoded in `bytes` (keys are fixstr, as
 * every key of the protocol is): the strict check a typed decoder in another language makes.
 */
function typeByteOf(bytes: Uint8Array, key: string): number {
  const k = Buffer.concat([Buffer.from([0xa0 | key.length]), Buffer.from(key)]);
  const at = Buffer.from(bytes).indexOf(k);
  if (at < 0) throw new Error(`no key ${key}`);
  return bytes[at + k.length] ?? -1;
}
const FLOAT64 = 0xcb;
/** int64 (0xd3) or uint64 (0xcf): msgpackr writes int64 for both signs. */
const isInt64 = (type: number) => type === 0xd3 || type === 0xcf;

describe('wire format', () => {
  it('encodeOutput (worker side, from chunks) splits into messages that decode like encode of each part', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }), fc.nat(), fc.oneof(fc.nat(), fc.integer({ min: 2 ** 32, max: 2 ** 50 })), fc.string({ maxLength: 20 }), fc.integer({ min: 1, max: 400 }), (chunks, seq, offset, agent, maxPart) => {
        const size = chunks.reduce((n, c) => n + c.length, 0);
        const all = Buffer.concat(chunks);
        const env = { run: 'abc', agent, ts: 1_700_000_000_000 };
        const { buffer, parts } = encodeOutput(env, seq, offset, chunks, size, maxPart);
        expect(parts.map((p) => p.seq)).toEqual(parts.map((_, i) => seq + i));
        expect(parts.every((p) => p.size <= maxPart)).toBe(true);
        let at = 0;
        for (const p of parts) {
          const fast = decode(buffer.subarray(p.offset, p.offset + p.length));
          const data = all.subarray(at, at + p.size);
          // Each message's offset: the output bytes before it.
          expect(fast.kind === 'output' && fast.offset).toBe(offset + at);
          expect(p.at).toBe(offset + at);
          at += p.size;
          const ref = decode(encode({ v: PROTOCOL_VERSION, ...env, seq: p.seq, kind: 'output', offset: offset + at - p.size, data }));
          // msgpackr returns Buffer or Uint8Array for bin depending on length: compare bytes.
          const bytes = (m: typeof fast) => (m.kind === 'output' ? Buffer.from(m.data) : null);
          expect({ ...fast, data: bytes(fast) }).toEqual({ ...ref, data: bytes(ref) });
          expect(Buffer.from(buffer.subarray(p.offset + p.length - p.size, p.offset + p.length)).equals(data)).toBe(true);
        }
        expect(at).toBe(size);
      }),
    );
  });

  it('regression: ts (Date.now(), above 2^32) went on the wire as float64; every integer is a msgpack int', () => {
    const ts = Date.now();
    const state = encode({ v: PROTOCOL_VERSION, run: 'r', agent: 'a', seq: 1, ts, kind: 'state', from: null, to: 'ready', reason: 'x', pid: 1 });
    expect(isInt64(typeByteOf(state, 'ts'))).toBe(true);
    const { buffer, parts } = encodeOutput({ run: 'r', agent: 'a', ts }, 1, 2 ** 33, [Buffer.from('hi')], 2);
    const out = buffer.subarray(parts[0]?.offset, (parts[0]?.offset ?? 0) + (parts[0]?.length ?? 0));
    expect(isInt64(typeByteOf(out, 'ts'))).toBe(true);
    expect(isInt64(typeByteOf(out, 'offset'))).toBe(true);
    // Negative and nested integers too (a sidecar event carries whatever the agent sent).
    const side = encode({ v: PROTOCOL_VERSION, run: 'r', agent: 'a', seq: 1, ts, kind: 'sidecar', ok: true, type: 't', event: { type: 't', at: -ts, list: [ts] } });
    expect(typeByteOf(side, 'at')).toBe(0xd3);
    // Values decode back to the same numbers (not BigInt), and a fraction stays a float.
    expect(decode(side)).toMatchObject({ ts, event: { at: -ts, list: [ts] } });
    expect(typeByteOf(encode({ v: PROTOCOL_VERSION, run: 'r', agent: 'a', seq: 1, ts: 1.5, kind: 'drops', dropped: 1, droppedBytes: 1, lastSeq: 1 }), 'ts')).toBe(FLOAT64);
  });

  it('regression: ps times (startedAt, lastOutputAt, lastExit.at) went out as float64 in control replies', () => {
    const now = Date.now();
    const reply = encodeReply({ id: 1, ok: true, result: { session: 's', pid: 1, run: 'r', agents: [{ name: 'a', state: 'ready', pid: 5, startedAt: now, restarts: 0, lastOutputAt: now, reason: 'quiet', lastExit: { code: 0, signal: null, at: now, cause: 'exit', reason: 'exit code 0' }, queued: 0, role: 'crew' }] } });
    for (const key of ['startedAt', 'lastOutputAt', 'at']) expect(isInt64(typeByteOf(reply, key)), key).toBe(true);
    expect(unpack(reply)).toMatchObject({ result: { agents: [{ startedAt: now, lastExit: { at: now } }] } });
  });

  it('topics: kind/agent/ with a trailing slash, supervisor/ without an agent', () => {
    expect(topicFor('state', 'a')).toBe('state/a/');
    expect(topicFor('state', 'ab').startsWith(topicFor('state', 'a'))).toBe(false);
    expect(topicFor('supervisor', '')).toBe('supervisor/');
  });

  it('task messages: one topic task/ for every task, whatever agent runs it', () => {
    expect(topicFor('task', 'w1')).toBe('task/');
    expect(topicFor('task', '')).toBe('task/');
    expect(prefixesFor({ kinds: ['task'] })).toEqual(['task/']);
    expect(prefixesFor({ kinds: ['task', 'state'], agents: ['w1', 'w2'] })).toEqual(['task/', 'state/w1/', 'state/w2/']);
    // An agent filter alone means that agent's messages: not the queue's, nor the supervisor's.
    expect(prefixesFor({ agents: ['w1'] })).not.toContain('task/');
  });

  it('a task notice from the queue goes on the wire as is and decodes back', () => {
    const q = new TaskQueue();
    q.add({ target: { template: 'coder' }, prompt: 'p', key: 'k' }, 1);
    q.start('t1', 'coder-t1', 1000);
    const n = q.finish('t1', 3500, { text: 'done', usage: { input: 10 } });
    if (!n) throw new Error('expected a notice');
    const msg: MessageOf<'task'> = { v: PROTOCOL_VERSION, run: 'r', agent: n.agent, seq: 3, ts: 3500, kind: 'task', ...n.body };
    expect(decode(encode(msg))).toEqual({ v: 1, run: 'r', agent: 'coder-t1', seq: 3, ts: 3500, kind: 'task', id: 't1', target: { template: 'coder' }, key: 'k', event: 'done', attempt: 1, durationMs: 2500, result: { text: 'done', usage: { input: 10 } } });
  });
});
