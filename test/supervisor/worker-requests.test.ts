import { describe, expect, it } from 'vitest';
import type { WorkerHandle } from '../../src/supervisor/worker-handle.js';
import { WorkerRequests } from '../../src/supervisor/worker-requests.js';
import type { ToWorker } from '../../src/agent/worker-protocol.js';

function setup() {
  const sent: ToWorker[] = [];
  const published: unknown[][] = [];
  const handle = { send: (m: ToWorker) => sent.push(m) } as unknown as WorkerHandle;
  const reqs = new WorkerRequests((...args) => published.push(args));
  return { sent, published, handle, reqs };
}

describe('worker requests', () => {
  it('an input request resolves with the worker outcome, which is published with its size', async () => {
    const t = setup();
    const p = t.reqs.input(t.handle, 'send', 'x1', 5, { type: 'input.send', id: 'x1', text: 'hello', mode: 'now', timeoutMs: 100 });
    expect(t.reqs.queuedSends).toBe(1);
    t.reqs.answer({ type: 'input.outcome', id: 'x1', outcome: 'delivered', reason: 'typed and submitted' });
    expect(await p).toEqual({ id: 'x1', outcome: 'delivered', reason: 'typed and submitted' });
    expect(t.published).toEqual([['x1', 'send', 'delivered', 'typed and submitted', 5]]);
    expect(t.reqs.queuedSends).toBe(0);
  });

  it('a step on the way (delivered, awaiting the agent\'s confirmation) is published and the request still waits for its end', async () => {
    const t = setup();
    const p = t.reqs.input(t.handle, 'send', 'h1', 5, { type: 'input.send', id: 'h1', text: 'hello', mode: 'now', timeoutMs: 100 });
    t.reqs.progress({ type: 'input.progress', id: 'h1', outcome: 'delivered', reason: 'typed and submitted' });
    expect(t.reqs.queuedSends).toBe(1);
    t.reqs.answer({ type: 'input.outcome', id: 'h1', outcome: 'confirmed', reason: 'the agent reported it' });
    expect(await p).toMatchObject({ outcome: 'confirmed' });
    expect(t.published.map((x) => x[2])).toEqual(['delivered', 'confirmed']);
  });

  it('when the worker dies, every waiting request is answered: inputs as agent-not-running, ring reads as errors', async () => {
    const t = setup();
    const send = t.reqs.input(t.handle, 'send', 's', 3, { type: 'input.send', id: 's', text: 'abc', mode: 'wait-idle', timeoutMs: 100 });
    const key = t.reqs.input(t.handle, 'interrupt', 'k', 0, { type: 'input.key', id: 'k', data: '\x03' });
    const ring = t.reqs.ring(t.handle, 10);
    t.reqs.failAll('the worker thread died');
    expect(await send).toEqual({ id: 's', outcome: 'agent-not-running', reason: 'the worker thread died' });
    expect(await key).toMatchObject({ outcome: 'agent-not-running' });
    await expect(ring).rejects.toMatchObject({ code: 'not-running', message: 'the worker thread died' });
    expect(t.published.map((p) => p.slice(0, 3))).toEqual([
      ['s', 'send', 'agent-not-running'],
      ['k', 'interrupt', 'agent-not-running'],
    ]);
  });

  it('decides without the worker when it has none, or when escape is disabled, and publishes that too', async () => {
    const t = setup();
    const none = { name: 'w', handle: null, state: 'stopped', escapeEnabled: true };
    expect(await t.reqs.send(none, { text: 'hi', mode: 'now', timeoutMs: 100, id: 'a' })).toEqual({ id: 'a', outcome: 'agent-not-running', reason: 'the agent is stopped' });
    const live = { name: 'w', handle: t.handle, state: 'ready', escapeEnabled: false };
    expect(await t.reqs.key(live, 'escape', 'e')).toEqual({ id: 'e', outcome: 'refused', reason: 'escape is disabled for agent "w" (input.escape: false)' });
    expect(t.sent).toEqual([]);
    expect(t.published).toEqual([
      ['a', 'send', 'agent-not-running', 'the agent is stopped', 2],
      ['e', 'escape', 'refused', 'escape is disabled for agent "w" (input.escape: false)', 0],
    ]);
    void t.reqs.send(live, { text: 'x', mode: 'now', timeoutMs: 100, id: 'dup' });
    expect(() => t.reqs.send(live, { text: 'x', mode: 'now', timeoutMs: 100, id: 'dup' })).toThrow('input id "dup" is already in use');
  });
});


describe('worker requests: ids', () => {
  const live = (handle: WorkerHandle) => ({ name: 'w', handle, state: 'ready', escapeEnabled: true });

  it('a key cannot take the id of a send still waiting: the send still gets its outcome', async () => {
    const t = setup();
    const send = t.reqs.send(live(t.handle), { text: 'abc', mode: 'wait-idle', timeoutMs: 100, id: 'same' });
    expect(() => t.reqs.key(live(t.handle), 'interrupt', 'same')).toThrow('input id "same" is already in use');
    expect(t.sent.map((m) => m.type)).toEqual(['input.send']);
    t.reqs.answer({ type: 'input.outcome', id: 'same', outcome: 'delivered', reason: 'ok' });
    expect(await send).toEqual({ id: 'same', outcome: 'delivered', reason: 'ok' });
  });

  it('a client id that looks like a ring read id does not collide with one', async () => {
    const t = setup();
    const send = t.reqs.send(live(t.handle), { text: 'abc', mode: 'wait-idle', timeoutMs: 100, id: 'ring-1' });
    const ring = t.reqs.ring(t.handle, 10);
    expect(t.sent.at(-1)).toMatchObject({ type: 'ring.read', id: 'ring-1' });
    t.reqs.answer({ type: 'ring', id: 'ring-1', data: Buffer.from('xy'), seq: 4, total: 2, cols: 80, rows: 24 });
    expect(await ring).toMatchObject({ seq: 4, total: 2 });
    expect(t.reqs.queuedSends).toBe(1);
    t.reqs.answer({ type: 'input.outcome', id: 'ring-1', outcome: 'delivered', reason: 'ok' });
    expect(await send).toMatchObject({ id: 'ring-1', outcome: 'delivered' });
  });
});
