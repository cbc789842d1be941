import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BusSubscriber, type Received } from '../../src/bus/client.js';
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
    for (let i = 0; i < 100; i++) pub.publish('output', 'a', { kind: 'output', data: new Uint8Array(1024) });
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
    pub.publish('output', 'a', { kind: 'output', data: new Uint8Array(1) });
    const [after] = await take(sub, (r) => r.msg.kind === 'output');
    expect(after?.msg.seq).toBe(101);
    expect(after?.gap).toBe(100 - outputs.length);
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
