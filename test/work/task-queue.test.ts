import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { byDispatchOrder, DEFAULT_QUEUE_OPTIONS, type QueueOptions, type Task, TaskQueue, type TaskNotice } from '../../src/work/task-queue.js';

const opts = (o: Partial<QueueOptions> = {}): QueueOptions => ({ ...DEFAULT_QUEUE_OPTIONS, backoff: { initialMs: 1000, factor: 2, maxMs: 60_000, jitter: 0 }, random: () => 0.5, ...o });
const coder = { template: 'coder' };
const idOf = (n: TaskNotice) => n.body.id;

describe('task queue', () => {
  it('runs lower priorities first and ties in the order added', () => {
    const q = new TaskQueue(opts());
    const ids = [
      idOf(q.add({ target: coder, prompt: 'a', priority: 5 }, 0)),
      idOf(q.add({ target: coder, prompt: 'b', priority: 1 }, 1)),
      idOf(q.add({ target: coder, prompt: 'c', priority: 5 }, 2)),
      idOf(q.add({ target: coder, prompt: 'd' }, 3)),
      idOf(q.add({ target: coder, prompt: 'e', priority: 1 }, 4)),
    ];
    expect(q.dispatchable(10).map((t) => t.prompt)).toEqual(['d', 'b', 'e', 'a', 'c']);
    expect(new Set(ids).size).toBe(5);
  });

  it('says where a task was queued', () => {
    const q = new TaskQueue(opts());
    q.add({ target: coder, prompt: 'a', priority: 2 }, 0);
    const n = q.add({ target: coder, prompt: 'b', priority: 1 }, 0);
    expect(n).toEqual({ agent: '', body: { id: 't2', target: coder, event: 'queued', priority: 1, attempts: 1, position: 1 } });
  });

  it('refuses a duplicate key while the first is queued, and while it runs; accepts it again once it ended', () => {
    const q = new TaskQueue(opts());
    const first = idOf(q.add({ target: coder, prompt: 'fix #12', key: 'issue-12' }, 0));
    expect(q.add({ target: coder, prompt: 'again', key: 'issue-12' }, 1).body).toMatchObject({ event: 'refused', why: 'duplicate', reason: `key "issue-12" is task ${first} (queued)` });
    q.start(first, 'coder-t1', 2);
    expect(q.add({ target: { pool: 'crew' }, prompt: 'again', key: 'issue-12' }, 3).body).toMatchObject({ event: 'refused', why: 'duplicate', reason: `key "issue-12" is task ${first} (started)` });
    expect(q.add({ target: coder, prompt: 'other', key: 'issue-13' }, 3).body.event).toBe('queued');
    q.finish(first, 10);
    expect(q.add({ target: coder, prompt: 'again', key: 'issue-12' }, 11).body.event).toBe('queued');
  });

  it('refuses a task when the queue is full, with the reason; running tasks do not count', () => {
    const q = new TaskQueue(opts({ depth: 2 }));
    const a = idOf(q.add({ target: coder, prompt: 'a' }, 0));
    q.add({ target: coder, prompt: 'b' }, 0);
    const refused = q.add({ target: coder, prompt: 'c' }, 0);
    expect(refused).toMatchObject({ agent: '', body: { event: 'refused', why: 'full', reason: 'the queue is full: 2 tasks queued (at most 2)' } });
    expect(q.get(refused.body.id)).toBeUndefined();
    q.start(a, 'coder-t1', 1);
    expect(q.add({ target: coder, prompt: 'c' }, 2).body.event).toBe('queued');
  });

  it('requeues a failed attempt after an exponential backoff, then fails it when attempts run out', () => {
    const q = new TaskQueue(opts());
    const id = idOf(q.add({ target: coder, prompt: 'flaky', attempts: 3 }, 0));
    expect(q.start(id, 'coder-t1', 0).body).toMatchObject({ event: 'started', attempt: 1 });
    expect(q.fail(id, 500, 'exit code 1')).toEqual({ agent: 'coder-t1', body: { id, target: coder, event: 'requeued', attempt: 1, durationMs: 500, reason: 'exit code 1', delayMs: 1000 } });
    // Backing off: not dispatchable until its time, and the queue says when that is.
    expect(q.dispatchable(1499)).toEqual([]);
    expect(q.nextRetryAt(1499)).toBe(1500);
    expect(q.dispatchable(1500).map((t) => t.id)).toEqual([id]);
    expect(q.start(id, 'coder-t1-2', 1500).body).toMatchObject({ event: 'started', attempt: 2 });
    expect(q.fail(id, 1600, 'exit code 1')?.body).toMatchObject({ event: 'requeued', attempt: 2, delayMs: 2000 });
    expect(q.nextRetryAt(1600)).toBe(3600);
    q.start(id, 'coder-t1-3', 3600);
    expect(q.fail(id, 3700, 'exit code 2')?.body).toEqual({ id, target: coder, event: 'failed', attempt: 3, durationMs: 100, reason: 'exit code 2 (attempt 3 of 3)' });
    expect(q.get(id)).toBeUndefined();
    expect(q.snapshot(3700).recent[0]).toMatchObject({ id, outcome: 'failed', attempt: 3, agent: 'coder-t1-3' });
  });

  it('a backing-off task waits without holding up the tasks behind it', () => {
    const q = new TaskQueue(opts());
    const a = idOf(q.add({ target: coder, prompt: 'a', attempts: 2 }, 0));
    const b = idOf(q.add({ target: coder, prompt: 'b' }, 0));
    q.start(a, 'x', 0);
    q.fail(a, 0, 'boom');
    expect(q.dispatchable(10).map((t) => t.id)).toEqual([b]);
    // Back in its place once its backoff ends: added first, dispatched first.
    expect(q.dispatchable(1000).map((t) => t.id)).toEqual([a, b]);
  });

  it('cancels a queued task and a running one; a late report of the cancelled run is ignored', () => {
    const q = new TaskQueue(opts());
    const a = idOf(q.add({ target: coder, prompt: 'a', key: 'k' }, 0));
    const b = idOf(q.add({ target: { pool: 'crew' }, prompt: 'b' }, 0));
    expect(q.cancel(a, 1)).toEqual({ agent: '', body: { id: a, target: coder, key: 'k', event: 'cancelled', was: 'queued', reason: 'cancelled on request' } });
    q.start(b, 'w1', 2);
    expect(q.cancel(b, 3, 'no longer needed')).toMatchObject({ agent: 'w1', body: { event: 'cancelled', was: 'started', reason: 'no longer needed' } });
    expect(q.finish(b, 4)).toBeUndefined();
    expect(q.fail(b, 4, 'killed')).toBeUndefined();
    expect(q.cancel(b, 5)).toBeUndefined();
    expect(q.add({ target: coder, prompt: 'a', key: 'k' }, 6).body.event).toBe('queued');
    expect(q.snapshot(6).recent.map((r) => [r.id, r.outcome])).toEqual([
      [b, 'cancelled'],
      [a, 'cancelled'],
    ]);
  });

  it('a task that is not queued cannot be started (a dispatcher bug, loudly)', () => {
    const q = new TaskQueue(opts());
    const a = idOf(q.add({ target: coder, prompt: 'a' }, 0));
    q.start(a, 'x', 0);
    expect(() => q.start(a, 'y', 1)).toThrow(`task ${a} is not queued (started)`);
    expect(() => q.start('t99', 'y', 1)).toThrow('task t99 is not queued (unknown)');
  });

  it('the snapshot: active, queued with why they wait, recent results newest first, counts', () => {
    const q = new TaskQueue(opts({ keepRecent: 2 }));
    const ids = ['a', 'b', 'c', 'd', 'e'].map((p, i) => idOf(q.add({ target: coder, prompt: p, attempts: p === 'c' ? 2 : 1 }, i)));
    const [a, b, c, d, e] = ids as [string, string, string, string, string];
    q.start(a, 'w-a', 10);
    q.finish(a, 110, { text: 'ok' });
    q.start(b, 'w-b', 10);
    q.fail(b, 310, 'exit code 1');
    q.start(c, 'w-c', 20);
    q.fail(c, 220, 'exit code 3');
    q.start(d, 'w-d', 400);
    const s = q.snapshot(400, { waiting: new Map([[e, 'concurrency limit: 1 of 1 running']]), paused: [{ provider: 'claude', until: 9000, reason: 'r' }] });
    expect(s.active.map((t) => [t.id, t.agent, t.startedAt])).toEqual([[d, 'w-d', 400]]);
    expect(s.queued.map((t) => [t.id, t.waiting])).toEqual([
      [c, 'attempt 2 of 2 at 1970-01-01T00:00:01.220Z; the last failed: exit code 3'],
      [e, 'concurrency limit: 1 of 1 running'],
    ]);
    expect(s.recent.map((r) => [r.id, r.outcome])).toEqual([[b, 'failed'], [a, 'done']]);
    expect(s.recent[1]?.result).toEqual({ text: 'ok' });
    expect(s.counts).toEqual({ invocations: 4, successes: 1, failures: 2, meanDurationMs: Math.round((100 + 300 + 200) / 3) });
    expect(s.paused).toEqual([{ provider: 'claude', until: 9000, reason: 'r' }]);
    q.start(e, 'w-e', 500);
    q.finish(e, 600);
    expect(q.snapshot(600).recent.map((r) => r.id)).toEqual([e, b]);
  });

  it('restores a saved queue: a started task is queued again with its attempt counted, ids go on', () => {
    const q = new TaskQueue(opts());
    const a = idOf(q.add({ target: coder, prompt: 'a', attempts: 2, key: 'ka', vars: { issue: '12' } }, 0));
    const b = idOf(q.add({ target: { pool: 'crew' }, prompt: 'b', priority: -1 }, 1));
    q.start(a, 'coder-t1', 5);
    const r = TaskQueue.restore(JSON.parse(JSON.stringify(q.persisted())), opts());
    expect(r.running()).toEqual([]);
    expect(r.waiting().map((t) => [t.id, t.state, t.attempt, t.agent])).toEqual([
      [b, 'queued', 0, undefined],
      [a, 'queued', 1, undefined],
    ]);
    expect(r.get(a)).toMatchObject({ key: 'ka', vars: { issue: '12' }, lastError: 'the supervisor stopped while it ran' });
    expect(r.add({ target: coder, prompt: 'dup', key: 'ka' }, 6).body.event).toBe('refused');
    expect(r.add({ target: coder, prompt: 'c' }, 7).body.id).toBe('t4');
    // The restored attempt counts: one attempt of two left.
    r.start(a, 'coder-t1-2', 8);
    expect(r.fail(a, 9, 'boom')?.body.event).toBe('failed');
  });
});

describe('task queue invariants under any sequence of operations', () => {
  type Op = { op: 'add'; priority: number; key: number | null; attempts: number } | { op: 'start' } | { op: 'finish' | 'fail' | 'cancel'; pick: number };
  const ops = fc.array(
    fc.oneof(
      fc.record({ op: fc.constant('add' as const), priority: fc.integer({ min: -2, max: 2 }), key: fc.option(fc.integer({ min: 0, max: 3 })), attempts: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ op: fc.constant('start' as const) }),
      fc.record({ op: fc.constantFrom('finish' as const, 'fail' as const, 'cancel' as const), pick: fc.nat() }),
    ),
    { maxLength: 60 },
  );

  it('keys stay unique over queued and started tasks, order holds, counts add up, a restore keeps every task', () => {
    fc.assert(
      fc.property(ops, (list: Op[]) => {
        const q = new TaskQueue(opts({ depth: 5 }));
        let now = 0;
        let cancelledRunning = 0;
        for (const o of list) {
          now += 1000;
          if (o.op === 'add') q.add({ target: coder, prompt: 'p', priority: o.priority, attempts: o.attempts, ...(o.key === null ? {} : { key: `k${o.key}` }) }, now);
          else if (o.op === 'start') {
            const next = q.dispatchable(now)[0];
            if (next) q.start(next.id, `a-${next.id}`, now);
          } else {
            const all = o.op === 'cancel' ? [...q.waiting(), ...q.running()] : q.running();
            const t = all[o.pick % Math.max(1, all.length)];
            if (!t) continue;
            if (o.op === 'finish') q.finish(t.id, now);
            else if (o.op === 'fail') q.fail(t.id, now, 'boom');
            else {
              if (t.state === 'started') cancelledRunning++;
              q.cancel(t.id, now);
            }
          }
          const live = [...q.waiting(), ...q.running()];
          const keys = live.flatMap((t) => (t.key === undefined ? [] : [t.key]));
          expect(new Set(keys).size).toBe(keys.length);
          const w = q.waiting();
          for (let i = 1; i < w.length; i++) expect(byDispatchOrder(w[i - 1] as Task, w[i] as Task)).toBeLessThan(0);
          const c = q.snapshot(now).counts;
          expect(c.invocations).toBe(c.successes + c.failures + q.running().length + cancelledRunning);
        }
        const restored = TaskQueue.restore(JSON.parse(JSON.stringify(q.persisted())), opts());
        expect(restored.waiting().map((t) => t.id).sort()).toEqual([...q.waiting(), ...q.running()].map((t) => t.id).sort());
      }),
    );
  });
});
