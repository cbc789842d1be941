/** Per-connection bounds of the control socket (ControlClients), against a fake non-blocking send. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ClientEvent, ControlClients, type Limits, type SendOutcome } from '../../src/bus/control-clients.js';

const LIMITS: Limits = { inflight: 2, pipe: 2, queued: 3, queuedBytes: 100 };
const peer = (name: string) => Buffer.from(name);
const reply = (name: string, body: string | number) => [peer(name), typeof body === 'number' ? Buffer.alloc(body) : Buffer.from(body)];

/** A peer whose ZeroMQ queue holds `room` replies until the test reads them. */
function harness(limits = LIMITS) {
  const room = new Map<string, number>();
  const gone = new Set<string>();
  const sent: { peer: string; body: string }[] = [];
  const events: ClientEvent[] = [];
  let chain = Promise.resolve();
  /** Runs while a send is in flight (the real socket's send resolves on a later turn). */
  let during: (() => void) | undefined;
  const send = async (frames: readonly Buffer[]): Promise<SendOutcome> => {
    const name = frames[0]?.toString() ?? '';
    const hook = during;
    during = undefined;
    if (hook) await Promise.resolve().then(hook);
    if (gone.has(name)) return 'gone';
    const left = room.get(name) ?? limits.pipe;
    if (left === 0) return 'full';
    room.set(name, left - 1);
    sent.push({ peer: name, body: frames[frames.length - 1]?.toString() ?? '' });
    return 'sent';
  };
  const clients = new ControlClients(send, (task) => (chain = chain.then(task)), (d, s) => Buffer.from(`notice ${d} ${s}`), (e) => events.push(e), limits);
  return {
    clients,
    sent,
    events,
    settled: () => chain,
    read: (name: string, n: number) => room.set(name, (room.get(name) ?? limits.pipe) + n),
    leave: (name: string) => gone.add(name),
    /** `hook` runs while the next send is awaited. */
    duringNextSend: (hook: () => void) => (during = hook),
  };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('control clients', () => {
  it('a client that never reads is dropped once its queue is full, instead of queueing without limit', async () => {
    const h = harness();
    for (let i = 0; i < 100; i++) {
      if (h.clients.admit([peer('a')]) === 'run') h.clients.finished(reply('a', `r${i}`));
      await h.settled();
    }
    // 2 in ZeroMQ's queue, 3 in ours, then dropped: nothing more is run or queued.
    expect(h.sent.map((s) => s.body)).toEqual(['r0', 'r1']);
    expect(h.events).toEqual([{ kind: 'dropped', client: peer('a').toString('hex'), queued: 3, bytes: 9 }]);
    expect(h.clients.admit([peer('a')])).toBe('skip');
  });

  it('a dropped client that reads again gets one notice with what was lost, then normal replies', async () => {
    const h = harness();
    for (let i = 0; i < 10; i++) {
      if (h.clients.admit([peer('a')]) === 'run') h.clients.finished(reply('a', `r${i}`));
      await h.settled();
    }
    h.read('a', 1);
    await vi.advanceTimersByTimeAsync(1000);
    // r0, r1 sent; r2..r4 queued then freed, r5 overflowed: 4 dropped; r6..r9 and the admit above not run.
    expect(h.sent.map((s) => s.body)).toEqual(['r0', 'r1', 'notice 4 4']);
    expect(h.events[1]).toEqual({ kind: 'resumed', client: peer('a').toString('hex'), droppedReplies: 4, skippedRequests: 4 });
    h.read('a', 5);
    expect(h.clients.admit([peer('a')])).toBe('run');
    h.clients.finished(reply('a', 'after'));
    await h.settled();
    expect(h.sent.at(-1)).toEqual({ peer: 'a', body: 'after' });
  });

  it('regression: a request that arrived while the notice was being sent was counted in no notice (a client waited for ever for 1 of 5000)', async () => {
    const h = harness();
    for (let i = 0; i < 10; i++) {
      if (h.clients.admit([peer('a')]) === 'run') h.clients.finished(reply('a', `r${i}`));
      await h.settled();
    }
    h.read('a', 10);
    // Still dropped while the notice is on its way: this request is not run, and must be reported.
    h.duringNextSend(() => expect(h.clients.admit([peer('a')])).toBe('skip'));
    await vi.advanceTimersByTimeAsync(1000);
    const notices = h.sent.filter((s) => s.body.startsWith('notice')).map((s) => s.body.split(' ').map(Number));
    const skipped = notices.reduce((n, [, , s]) => n + (s ?? 0), 0);
    // r6..r9 skipped before the notice, one more during it.
    expect(skipped).toBe(5);
  });

  it('a client that reads late but within its bounds loses nothing, in order', async () => {
    const h = harness();
    for (let i = 0; i < 5; i++) {
      expect(h.clients.admit([peer('a')])).toBe('run');
      h.clients.finished(reply('a', `r${i}`));
      await h.settled();
    }
    h.read('a', 10);
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.sent.map((s) => s.body)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
    expect(h.events).toEqual([]);
  });

  it('bytes bound the queue too, but one reply of any size always fits', async () => {
    const h = harness();
    for (const size of [1, 1, 500, 1]) {
      h.clients.admit([peer('a')]);
      h.clients.finished(reply('a', size));
      await h.settled();
    }
    // The 500-byte reply is queued alone; the next one would pass 100 bytes: dropped.
    expect(h.events).toEqual([{ kind: 'dropped', client: peer('a').toString('hex'), queued: 1, bytes: 501 }]);
  });

  it('more requests in flight than the bound are refused, not run, and other clients are not affected', async () => {
    const h = harness();
    expect([h.clients.admit([peer('a')]), h.clients.admit([peer('a')]), h.clients.admit([peer('a')])]).toEqual(['run', 'run', 'overloaded']);
    expect(h.clients.admit([peer('b')])).toBe('run');
    h.clients.finished(reply('a', 'x'));
    await h.settled();
    expect(h.clients.admit([peer('a')])).toBe('run');
  });

  it('a client that went away is forgotten: no retries, no entry', async () => {
    const h = harness();
    for (let i = 0; i < 3; i++) {
      h.clients.admit([peer('a')]);
      h.clients.finished(reply('a', `r${i}`));
      await h.settled();
    }
    h.leave('a');
    await vi.advanceTimersByTimeAsync(1000);
    expect(vi.getTimerCount()).toBe(0);
    expect(h.sent.map((s) => s.body)).toEqual(['r0', 'r1']);
  });
});
