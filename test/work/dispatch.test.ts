import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { type DispatchInput, makeBuckets, type Plan, planDispatch, type PoolAgent, type TargetSettings } from '../../src/work/dispatch.js';
import type { QuotaPause } from '../../src/work/quota.js';
import { DEFAULT_QUEUE_OPTIONS, TaskQueue } from '../../src/work/task-queue.js';

interface World {
  clock: SimulatedClock;
  queue: TaskQueue;
  templates: Map<string, TargetSettings>;
  pools: Map<string, TargetSettings>;
  agents: PoolAgent[];
  pauses: QuotaPause[];
  buckets: DispatchInput['buckets'];
}

function world(o: { templates?: [string, TargetSettings][]; pools?: [string, TargetSettings][]; agents?: PoolAgent[] } = {}): World {
  const clock = new SimulatedClock();
  clock.set(1_000_000);
  const templates = new Map(o.templates ?? [['coder', { concurrency: 3 }]]);
  const pools = new Map(o.pools ?? []);
  const queue = new TaskQueue({ ...DEFAULT_QUEUE_OPTIONS, backoff: { initialMs: 1000, factor: 2, maxMs: 60_000, jitter: 0 } });
  return { clock, queue, templates, pools, agents: o.agents ?? [], pauses: [], buckets: makeBuckets(templates, pools, clock) };
}

/** Plans, then starts what the plan says, as the supervisor will. */
function step(w: World): Plan {
  const plan = planDispatch({ now: w.clock.now(), queue: w.queue, templates: w.templates, pools: w.pools, agents: w.agents, buckets: w.buckets, pauses: w.pauses });
  for (const s of plan.starts) w.queue.start(s.task, s.agent, w.clock.now());
  return plan;
}

const add = (w: World, prompt: string, target: { template: string } | { pool: string } = { template: 'coder' }, more: { priority?: number; attempts?: number } = {}) =>
  w.queue.add({ target, prompt, ...more }, w.clock.now()).body.id;
const ready = (name: string, pool: string, provider?: string): PoolAgent => ({ name, pool, state: 'ready', ...(provider ? { provider } : {}) });

describe('dispatch', () => {
  it('spawns from a template up to its concurrency, naming each agent after its task; the rest wait, saying why', () => {
    const w = world();
    const ids = ['a', 'b', 'c', 'd', 'e'].map((p) => add(w, p));
    const plan = step(w);
    expect(plan.starts).toEqual(ids.slice(0, 3).map((id) => ({ task: id, how: 'spawn', template: 'coder', agent: `coder-${id}` })));
    expect([...plan.waiting]).toEqual([
      [ids[3], 'concurrency limit: 3 of 3 running'],
      [ids[4], 'concurrency limit: 3 of 3 running'],
    ]);
    expect(plan.wakeAt).toBeUndefined();
    expect(step(w).starts).toEqual([]);
    w.queue.finish(ids[1] as string, w.clock.now());
    expect(step(w).starts.map((s) => s.task)).toEqual([ids[3]]);
  });

  it('20 tasks over a template with concurrency 3: never more than 3 run, every task ends', () => {
    const w = world();
    for (let i = 0; i < 20; i++) add(w, `task ${i}`, undefined, { attempts: 2 });
    let most = 0;
    const ended: string[] = [];
    for (let round = 0; round < 100 && ended.length < 20; round++) {
      step(w);
      most = Math.max(most, w.queue.running().length);
      // Every third attempt fails once; the oldest running task ends each round.
      const oldest = w.queue.running()[0];
      w.clock.increment(700);
      if (!oldest) continue;
      const n = w.queue.get(oldest.id)?.attempt === 1 && Number(oldest.id.slice(1)) % 3 === 0 ? w.queue.fail(oldest.id, w.clock.now(), 'exit code 1') : w.queue.finish(oldest.id, w.clock.now());
      if (n?.body.event === 'done' || n?.body.event === 'failed') ended.push(n.body.id);
    }
    expect(most).toBe(3);
    expect(new Set(ended).size).toBe(20);
    expect(w.queue.snapshot(w.clock.now()).counts).toMatchObject({ invocations: 26, successes: 20, failures: 6 });
  });

  it('sends a pool task to the first ready agent without a task, one task per agent', () => {
    const w = world({ pools: [['crew', { concurrency: 10 }]], agents: [{ name: 'w1', pool: 'crew', state: 'busy' }, ready('w2', 'crew'), ready('w3', 'crew'), ready('x1', 'other')] });
    const [a, b, c] = ['a', 'b', 'c'].map((p) => add(w, p, { pool: 'crew' }));
    const plan = step(w);
    expect(plan.starts).toEqual([
      { task: a, how: 'send', pool: 'crew', agent: 'w2' },
      { task: b, how: 'send', pool: 'crew', agent: 'w3' },
    ]);
    expect(plan.waiting.get(c as string)).toBe('no ready agent in pool "crew" (w1: busy, w2: on a task, w3: on a task)');
    // w3 looks ready again before it got busy with its task: it is still on it.
    expect(step(w).starts).toEqual([]);
    w.queue.finish(a as string, w.clock.now());
    expect(step(w).starts).toEqual([{ task: c, how: 'send', pool: 'crew', agent: 'w2' }]);
  });

  it('a saturated pool takes no tokens: the rate limit is asked only once a slot and an agent are there', () => {
    const w = world({ pools: [['crew', { concurrency: 2, rate: { perSecond: 1, burst: 2 } }]], agents: [{ name: 'w1', pool: 'crew', state: 'busy' }, { name: 'w2', pool: 'crew', state: 'starting' }] });
    add(w, 'a', { pool: 'crew' });
    add(w, 'b', { pool: 'crew' });
    for (let i = 0; i < 5; i++) expect(step(w).starts).toEqual([]);
    w.agents = [ready('w1', 'crew'), ready('w2', 'crew')];
    // Both tokens of the burst are still there.
    expect(step(w).starts.map((s) => s.agent)).toEqual(['w1', 'w2']);
  });

  it('a rate limit holds starts until the next token, and says when', () => {
    const w = world({ templates: [['coder', { concurrency: 5, rate: { perSecond: 0.5, burst: 1 } }]] });
    const [a, b, c] = ['a', 'b', 'c'].map((p) => add(w, p));
    let plan = step(w);
    expect(plan.starts.map((s) => s.task)).toEqual([a]);
    const next = w.clock.now() + 2000;
    expect(plan.waiting.get(b as string)).toBe(`rate limit: next start at ${new Date(next).toISOString()}`);
    expect(plan.waiting.get(c as string)).toBe(plan.waiting.get(b as string));
    expect(plan.wakeAt).toBe(next);
    w.clock.increment(1999);
    expect(step(w).starts).toEqual([]);
    w.clock.increment(1);
    plan = step(w);
    expect(plan.starts.map((s) => s.task)).toEqual([b]);
    // The slot a held-back start took was given back: two run, not more.
    expect(w.queue.running()).toHaveLength(2);
  });

  it('a quota pause holds a template of that provider until its end, visibly, and wakes the dispatcher then', () => {
    const w = world({ templates: [['coder', { concurrency: 3, provider: 'claude' }], ['helper', { concurrency: 3, provider: 'codex' }]] });
    const until = w.clock.now() + 3_600_000;
    w.pauses = [{ provider: 'claude', until, reason: 'w1 is out of quota; it resets 5am (Europe/Paris)' }];
    const a = add(w, 'a');
    const b = add(w, 'b', { template: 'helper' });
    const plan = step(w);
    expect(plan.starts.map((s) => s.task)).toEqual([b]);
    expect(plan.waiting.get(a)).toBe(`provider claude paused until ${new Date(until).toISOString()}: w1 is out of quota; it resets 5am (Europe/Paris)`);
    expect(plan.wakeAt).toBe(until);
    w.clock.set(until);
    expect(step(w).starts.map((s) => s.task)).toEqual([a]);
  });

  it('a quota pause skips a pool\'s agents of that provider for the others, and holds the pool when none is left', () => {
    const w = world({ pools: [['crew', { concurrency: 5 }]], agents: [ready('c1', 'crew', 'claude'), ready('x1', 'crew', 'codex')] });
    const until = w.clock.now() + 60_000;
    w.pauses = [{ provider: 'claude', until, reason: 'c1 is out of quota' }];
    const [a, b] = ['a', 'b'].map((p) => add(w, p, { pool: 'crew' }));
    const plan = step(w);
    expect(plan.starts).toEqual([{ task: a, how: 'send', pool: 'crew', agent: 'x1' }]);
    expect(plan.waiting.get(b as string)).toBe(`provider claude paused until ${new Date(until).toISOString()}: c1 is out of quota`);
    expect(plan.wakeAt).toBe(until);
  });

  it('a target that cannot start holds only its own tasks: FIFO per target, not across targets', () => {
    const w = world({ templates: [['coder', { concurrency: 1 }], ['reviewer', { concurrency: 1 }]] });
    const a = add(w, 'a', undefined, { priority: 0 });
    const b = add(w, 'b', undefined, { priority: 0 });
    const c = add(w, 'c', { template: 'reviewer' }, { priority: 9 });
    const plan = step(w);
    expect(plan.starts.map((s) => s.task)).toEqual([a, c]);
    expect([...plan.waiting.keys()]).toEqual([b]);
  });

  it('a pool named only by its agents has no limits', () => {
    const w = world({ agents: [ready('w1', 'crew'), ready('w2', 'crew')] });
    ['a', 'b'].forEach((p) => add(w, p, { pool: 'crew' }));
    expect(step(w).starts.map((s) => s.agent)).toEqual(['w1', 'w2']);
  });

  it('a task for a template or pool that does not exist waits, saying so', () => {
    const w = world();
    const a = add(w, 'a', { template: 'gone' });
    const b = add(w, 'b', { pool: 'nobody' });
    w.pools.set('empty', { concurrency: 1 });
    const c = add(w, 'c', { pool: 'empty' });
    const plan = step(w);
    expect(plan.starts).toEqual([]);
    expect([...plan.waiting]).toEqual([
      [a, 'no template "gone"'],
      [b, 'no pool "nobody"'],
      [c, 'pool "empty" has no agents'],
    ]);
  });

  it('a requeued task wakes the dispatcher when its backoff ends, and runs as a new agent', () => {
    const w = world();
    const a = add(w, 'a', undefined, { attempts: 2 });
    expect(step(w).starts[0]?.agent).toBe(`coder-${a}`);
    w.queue.fail(a, w.clock.now(), 'exit code 1');
    const plan = step(w);
    expect(plan.starts).toEqual([]);
    expect(plan.wakeAt).toBe(w.clock.now() + 1000);
    w.clock.increment(1000);
    expect(step(w).starts[0]?.agent).toBe(`coder-${a}-2`);
  });
});
