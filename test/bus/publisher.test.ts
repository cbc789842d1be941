import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BusSubscriber, type Received } from '../../src/bus/client.js';
import { encodeOutput } from '../../src/bus/protocol.js';
import { Publisher } from '../../src/bus/publisher.js';

const endpoint = () => `ipc://${mkdtempSync(join(tmpdir(), 'orch-pub-'))}/bus.sock`;
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

async function take(sub: BusSubscriber, pred: (r: Received) => boolean): Promise<Received[]> {
  const seen: Received[] = [];
  for (;;) {
    const r = await sub.next();
    seen.push(r);
    if (pred(r)) return seen;
  }
}

describe('Publisher', () => {
  it('bounds its queue: output beyond queue_limit is dropped, counted on drops/, and seen as a seq gap', async () => {
    const ep = endpoint();
    const pub = new Publisher({ endpoint: ep, runId: 'r1', highWaterMark: 100_000, queueLimit: 10_000 });
    await pub.bind();
    const sub = new BusSubscriber(ep);
    cleanup.push(() => sub.close(), () => pub.close());
    // Wait for the subscription to arrive: a state message is replayed to new subscribers.
    pub.publish('state', 'a', { kind: 'state', from: null, to: 'busy', reason: 'x', pid: 1 });
    await take(sub, (r) => r.msg.kind === 'state');
    // 100 KiB in one turn of the event loop: far more than the 10 KB queue.
    for (let i = 0; i < 100; i++) pub.publish('output', 'a', { kind: 'output', offset: i * 1024, data: new Uint8Array(1024) });
    pub.publish('exit', 'a', { kind: 'exit', pid: 1, code: 0, signal: null, cause: 'exit', runMs: 1 });
    const seen = await take(sub, (r) => r.msg.kind === 'drops');
    const outputs = seen.filter((r) => r.msg.kind === 'output');
    const drops = seen.find((r) => r.msg.kind === 'drops')?.msg;
    expect(outputs.length).toBeGreaterThan(0);
    expect(outputs.length).toBeLessThan(100);
    // Control messages are never dropped by the publisher.
    expect(seen.some((r) => r.msg.kind === 'exit')).toBe(true);
    expect(drops?.kind === 'drops' && drops.dropped).toBe(100 - outputs.length);
    // The dropped seq numbers are spent: the subscriber sees the gap (here, all at the end).
    const last = outputs.at(-1)?.msg.seq ?? 0;
    expect(last).toBe(outputs.length);
    pub.publish('output', 'a', { kind: 'output', offset: 100 * 1024, data: new Uint8Array(1) });
    const [after] = await take(sub, (r) => r.msg.kind === 'output');
    expect(after?.msg.seq).toBe(101);
    expect(after?.gap).toBe(100 - outputs.length);
  });

  it('regression: drops and seq gaps disagreed (drops after the last message seen showed in no gap); each report accounts exactly for the seqs and bytes up to its lastSeq', async () => {
    const ep = endpoint();
    const pub = new Publisher({ endpoint: ep, runId: 'r3', highWaterMark: 100_000, queueLimit: 20_000 });
    await pub.bind();
    const sub = new BusSubscriber(ep, { agents: ['a'] });
    cleanup.push(() => sub.close(), () => pub.close());
    pub.publish('state', 'a', { kind: 'state', from: null, to: 'busy', reason: 'x', pid: 1 });
    await take(sub, (r) => r.msg.kind === 'state');
    // Output as the worker encodes it: seq and offset continue across batches.
    let seq = 0;
    let offset = 0;
    const burst = (messages: number, size: number) => {
      for (let i = 0; i < messages; i++) {
        const { buffer, parts } = encodeOutput({ run: 'r3', agent: 'a', ts: Date.now() }, seq + 1, offset, [new Uint8Array(size).fill(i)], size);
        for (const p of parts) pub.publishEncodedOutput('a', buffer.subarray(p.offset, p.offset + p.length), p.seq, p.size);
        seq += parts.length;
        offset += size;
      }
    };
    // What a monitor can check with nothing but the messages: seqs and bytes received up to each
    // report's lastSeq, against what the reports say was dropped.
    let seen = 0;
    let seenBytes = 0;
    let accounted = 0; // lastSeq of the previous report
    let accountedBytes = 0;
    let nextOffset = 0;
    const check = async () => {
      for (;;) {
        const { msg, missingBytes } = await sub.next();
        if (msg.kind === 'output') {
          // A jump in offset is exactly the bytes of the messages missing before this one.
          expect(msg.offset).toBeGreaterThanOrEqual(nextOffset);
          if (nextOffset > 0) expect(missingBytes).toBe(msg.offset - nextOffset);
          nextOffset = msg.offset + msg.data.length;
          seen++;
          seenBytes += msg.data.length;
        }
        if (msg.kind !== 'drops') continue;
        expect(msg.dropped).toBeGreaterThan(0);
        expect(msg.lastSeq - accounted - seen).toBe(msg.dropped);
        expect(offset - accountedBytes - seenBytes).toBe(msg.droppedBytes);
        accounted = msg.lastSeq;
        accountedBytes = offset;
        seen = 0;
        seenBytes = 0;
        return;
      }
    };
    // The drops at the end of each burst are followed by no message a gap could show in.
    burst(100, 1000);
    await check();
    burst(60, 3000);
    await check();
  });

  it('replays the last state of each agent matching a new subscription, and only those', async () => {
    const ep = endpoint();
    const pub = new Publisher({ endpoint: ep, runId: 'r2', highWaterMark: 1000, queueLimit: 1 << 20 });
    await pub.bind();
    cleanup.push(() => pub.close());
    for (const [agent, to] of [['a', 'starting'], ['a', 'ready'], ['ab', 'busy']] as const) {
      pub.publish('state', agent, { kind: 'state', from: null, to, reason: '', pid: null });
    }
    await pub.flushed(); // sent to nobody: only the replay can reach the subscriber
    const sub = new BusSubscriber(ep, { agents: ['a'], kinds: ['state'] });
    cleanup.push(() => sub.close());
    const [first] = await take(sub, () => true);
    expect(first?.msg).toMatchObject({ agent: 'a', kind: 'state', to: 'ready', seq: 2, replay: true, run: 'r2' });
  });
});
