/**
 * The task queue wired to a supervisor (simulated clock, fake workers): what starts when, when a
 * pool task is done or failed, the wake-up after a backoff, quota pauses, and the queue on disk.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { controlHandlers } from '../../src/supervisor/control-handlers.js';
import { Sessions } from '../../src/work/sessions.js';
import { Tasks } from '../../src/work/tasks.js';
import { configOf, workSession } from './work-session.js';

const TASKS = 'tasks: { backoff: { initial: 1s, max: 1s, jitter: 0 } }\n';

function session(yaml: string, stateDir = mkdtempSync(join(tmpdir(), 'orch-tasks-'))) {
  const s = workSession(`${TASKS}${yaml}`, stateDir);
  const tasks = new Tasks(s.config, s.sup, s.work, { publisher: s.publisher, logger: s.logger, clock: s.clock, random: () => 0.5 });
  const events = (id: string) => s.published.filter((m) => m.kind === 'task' && m.id === id).map((m) => `${String(m.event)}${m.agent ? ` ${String(m.agent)}` : ''}`);
  return { ...s, tasks, events };
}

const POOL = 'agents:\n  w1: { command: sh, pool: crew }\n  w2: { command: sh, pool: crew }\n';
const TEMPLATE = 'templates:\n  job: { command: sh, concurrency: 1, keep_finished: 1s }\n';

describe('tasks in a session (simulated clock, fake workers)', () => {
  it('regression: a task starting in the supervisor step where the previous one\'s agent ended crashed the supervisor (an agent being added has no state yet)', async () => {
    const s = session(POOL + TEMPLATE);
    s.sup.start();
    s.tasks.start();
    const a = s.tasks.add({ template: 'job', prompt: 'one', vars: {} });
    const b = s.tasks.add({ template: 'job', prompt: 'two', vars: {} });
    await s.flush();
    expect([...s.workers.keys()]).toContain(`job-${a.id}`);
    expect([...s.workers.keys()]).not.toContain(`job-${b.id}`);
    s.worker(`job-${a.id}`).report('ready');
    expect(() => s.worker(`job-${a.id}`).exit(0)).not.toThrow();
    await s.flush();
    expect(s.events(a.id)).toEqual(['queued', `started job-${a.id}`, `done job-${a.id}`]);
    expect(s.events(b.id)).toEqual(['queued', `started job-${b.id}`]);
    expect(s.worker(`job-${b.id}`).init.agent.prompt).toBe('two');
  });

  it('a pool task goes to the first ready agent, is done once that agent is ready again after the delivery, and the next goes to it then', async () => {
    const s = session(POOL);
    s.sup.start();
    s.tasks.start();
    s.worker('w2').report('ready');
    const first = s.tasks.add({ pool: 'crew', prompt: 'review', vars: {} });
    await s.flush();
    expect(s.worker('w2').sent).toEqual(['review']);
    s.worker('w1').report('ready');
    const second = s.tasks.add({ pool: 'crew', prompt: 'again', vars: {} });
    await s.flush();
    expect(s.worker('w1').sent).toEqual(['again']);
    // Busy after the delivery: not done until it is ready again.
    expect(s.events(first.id)).toEqual(['queued', 'started w2']);
    s.worker('w2').report('ready');
    await s.flush();
    expect(s.events(first.id)).toEqual(['queued', 'started w2', 'done w2']);
    s.worker('w1').sidecar({ type: 'done', result: { ok: 1 } });
    await s.flush();
    expect(s.published.find((m) => m.id === second.id && m.event === 'done')).toMatchObject({ agent: 'w1', result: { ok: 1 } });
  });

  it('a pool task whose agent exits fails; with attempts left it is requeued and started again when its backoff ends, on the clock', async () => {
    const s = session(POOL.replace('  w2: { command: sh, pool: crew }\n', ''));
    s.sup.start();
    s.tasks.start();
    s.worker('w1').report('ready');
    const t = s.tasks.add({ pool: 'crew', prompt: 'p', vars: {}, attempts: 2 });
    await s.flush();
    s.worker('w1').exit(1);
    await s.flush();
    expect(s.published.find((m) => m.id === t.id && m.event === 'requeued')).toMatchObject({ agent: 'w1', delayMs: 1000, reason: expect.stringContaining('w1 exited while on the task') });
    // w1 is restarted by its policy (on-failure, 1s): ready again before the task's backoff ends.
    s.clock.increment(1000);
    s.worker('w1').report('ready');
    await s.flush();
    expect(s.events(t.id)).toEqual(['queued', 'started w1', 'requeued w1', 'started w1']);
    expect(s.tasks.list(10).active).toMatchObject([{ id: t.id, attempt: 2 }]);
  });

  it('an agent out of quota pauses its provider until the reset time; waiting tasks say so, and start by themselves after it', async () => {
    const s = session('agents:\n  w1: { provider: shell, command: sh, pool: crew }\n');
    s.sup.start();
    s.tasks.start();
    s.worker('w1').report('blocked', 'usage limit', { on: 'quota', evidence: ['limit reached'], resets: 'in 2h' });
    s.worker('w1').report('ready');
    const t = s.tasks.add({ pool: 'crew', prompt: 'p', vars: {} });
    await s.flush();
    const status = s.tasks.list(10);
    expect(status.paused).toEqual([{ provider: 'shell', until: 2 * 3_600_000, reason: 'w1 is out of quota; it resets in 2h' }]);
    expect(status.queued[0]?.waiting).toBe('provider shell paused until 1970-01-01T02:00:00.000Z: w1 is out of quota; it resets in 2h');
    s.clock.increment(2 * 3_600_000);
    await s.flush();
    expect(s.events(t.id)).toEqual(['queued', 'started w1']);
  });

  it('regression: after a reload, tasks still went by the old config: a new pool member never got one, and a new template was refused', async () => {
    const s = session(POOL);
    s.sup.start();
    s.tasks.start();
    const sessions = new Sessions(s.config, s.sup, s.work, { logger: s.logger, clock: s.clock });
    const reload = controlHandlers(s.sup, { session: 't' }, () => Promise.resolve(), s.work, s.tasks, sessions).reload;
    const r = await reload({ config: configOf(`${TASKS}${POOL}  w3: { command: sh, pool: crew }\n${TEMPLATE}`, s.stateDir) });
    expect(r.actions.filter((a) => a.action !== 'unchanged')).toEqual([{ agent: 'w3', action: 'created' }]);
    s.worker('w3').report('ready');
    const task = s.tasks.add({ pool: 'crew', prompt: 'review', vars: {} });
    await s.flush();
    expect(s.worker('w3').sent).toEqual(['review']);
    expect(s.events(task.id)).toEqual(['queued', 'started w3']);
    const job = s.tasks.add({ template: 'job', prompt: 'one', vars: {} });
    await s.flush();
    expect(s.events(job.id)).toEqual(['queued', `started job-${job.id}`]);
  });

  it('an unknown template or pool is refused at add; a duplicate key is refused with the task holding it', async () => {
    const s = session(POOL + TEMPLATE);
    s.sup.start();
    s.tasks.start();
    expect(() => s.tasks.add({ template: 'nope', prompt: 'p', vars: {} })).toThrow('no template named "nope" (templates: job)');
    expect(() => s.tasks.add({ pool: 'nope', prompt: 'p', vars: {} })).toThrow('no pool named "nope" (pools: crew)');
    const a = s.tasks.add({ template: 'job', prompt: 'p', key: 'k', vars: {} });
    expect(s.tasks.add({ template: 'job', prompt: 'p', key: 'k', vars: {} })).toMatchObject({ outcome: 'refused', why: 'duplicate', reason: `key "k" is task ${a.id} (queued)` });
  });

  it('regression: a task whose template prompt or worktree branch had a placeholder without a value was queued, and failed at every attempt; it is refused at add, naming it', async () => {
    const s = session(`${POOL}templates:\n  review:\n    command: sh\n    prompt: "review {{pr}} in {{style}}"\n    vars: { style: full }\n`);
    s.sup.start();
    s.tasks.start();
    expect(() => s.tasks.add({ template: 'review', prompt: 'p', vars: {} })).toThrow(/^no value for "pr" \(\{\{pr\}\} at template "review" prompt .*:1:8\): give --var pr=\.\.\., or a default/);
    expect(() => s.tasks.add({ template: 'review', prompt: 'p', vars: { 'bad name': 'x' } })).toThrow(/variable name "bad name"/);
    expect(s.tasks.list(10).queued).toEqual([]);
    expect(s.tasks.add({ template: 'review', prompt: 'p', vars: { pr: '7' } })).toMatchObject({ outcome: 'queued' });
  });

  it('closed before the crew stops: the agents\' ends are not the tasks\'; the next session queues the running task again', async () => {
    const s = session(POOL + TEMPLATE);
    s.sup.start();
    s.tasks.start();
    const a = s.tasks.add({ template: 'job', prompt: 'p', vars: {} });
    s.tasks.add({ template: 'job', prompt: 'q', vars: {} });
    await s.flush();
    s.tasks.close();
    await s.sup.shutdown();
    expect(s.events(a.id)).toEqual(['queued', `started job-${a.id}`]);
    const next = session(POOL + TEMPLATE, s.stateDir);
    expect(next.tasks.list(10).queued.map((t) => [t.id, t.attempt])).toEqual([
      [a.id, 1],
      ['t2', 0],
    ]);
  });
});
