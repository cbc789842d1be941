/**
 * The task queue in a running session, end to end: tasks over a template under a concurrency
 * limit (watched through the bus `agent` messages), a pool task sent to the first ready crew agent,
 * a failing task requeued up to its attempts, and queued tasks surviving a supervisor restart.
 * Fixture agents (work-agent.mjs) do what their prompt says: `done JSON`, `exit N`, or nothing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/bus/control-client.js';
import { type Body, type Crew, FIX, runCli, startCrew, watchBus as watch } from './harness.js';

const worker = (rec: string) => `    command: node\n    args: [${join(FIX, 'work-agent.mjs')}, ${rec}]\n    ready: { pattern: "> $" }\n    idle_after: 300ms\n    stop: { grace: 1s }\n`;

const ended = (m: Body) => m.kind === 'task' && (m.event === 'done' || m.event === 'failed');

describe('the task queue in a running session', () => {
  let crew: Crew;
  let bus: ReturnType<typeof watch>;
  let control: ControlClient;

  beforeAll(async () => {
    crew = startCrew(
      (p) =>
        `  w1:\n${worker(p.dir)}    pool: crew\n  w2:\n${worker(p.dir)}    pool: crew\n` +
        `templates:\n  job:\n${worker(p.dir)}    keep_finished: 200ms\n    concurrency: 3\n`,
      { extra: 'tasks: { backoff: { initial: 100ms, max: 200ms, jitter: 0 } }\n' },
    );
    bus = watch(crew);
    control = new ControlClient(`ipc://${join(crew.stateDir, 'control.sock')}`);
    await bus.message((m) => m.kind === 'state' && m.agent === 'w2' && m.to === 'ready');
  });

  afterAll(async () => {
    await control?.close();
    await crew?.stop();
  });

  it('20 tasks over a template with concurrency 3: never more than 3 of its agents at once; each ends done or failed with its result on the bus', async () => {
    const ids: string[] = [];
    for (let i = 1; i <= 20; i++) {
      // Every fifth fails (exit 1, one attempt); the others report a result through their sidecar.
      const prompt = i % 5 === 0 ? 'exit 1' : `done {"n": ${i}}`;
      const r = await control.request('task.add', { template: 'job', prompt });
      expect(r).toMatchObject({ outcome: 'queued' });
      ids.push(r.id);
    }
    for (const id of ids) await bus.message((m) => ended(m) && m.id === id, 120_000);

    let running = 0;
    let most = 0;
    for (const m of bus.seen.map((r) => r.msg as unknown as Body)) {
      if (m.kind !== 'agent' || !String(m.agent).startsWith('job-')) continue;
      if (m.event === 'spawned') most = Math.max(most, ++running);
      if (m.event === 'ended') running--;
    }
    expect(most).toBe(3);
    ids.forEach((id, i) => {
      const end = bus.tasks(id).find(ended);
      if ((i + 1) % 5 === 0) expect(end).toMatchObject({ event: 'failed', reason: `job-${id} exited (exit code 1)`, agent: `job-${id}` });
      else expect(end).toMatchObject({ event: 'done', result: { n: i + 1 }, agent: `job-${id}` });
      expect(bus.tasks(id).map((m) => m.event)).toEqual(['queued', 'started', end?.event]);
    });
    const status = await control.request('task.list', { recent: 100 });
    expect(status.counts).toMatchObject({ invocations: 20, successes: 16, failures: 4 });
    expect(status.counts.meanDurationMs).toBeGreaterThan(0);
    expect(status.active).toEqual([]);
    expect(status.queued).toEqual([]);
  }, 240_000);

  it('a pool task is sent to the first ready agent of the pool, and is done once that agent is ready again (or its sidecar says done, with a result)', async () => {
    const add = await runCli(['task', 'add', '--pool', 'crew', '--file', crew.file, 'hello', 'pool']);
    expect(add).toMatchObject({ stderr: '', code: 0, stdout: expect.stringMatching(/^t\d+\n$/) });
    const id = add.stdout.trim();
    expect(await bus.message((m) => m.kind === 'task' && m.id === id && m.event === 'started')).toMatchObject({ agent: 'w1', attempt: 1 });
    await bus.message((m) => m.kind === 'input' && m.agent === 'w1' && m.outcome === 'delivered');
    expect(await bus.message((m) => ended(m) && m.id === id)).toMatchObject({ event: 'done', agent: 'w1' });
    expect(readFileSync(join(crew.dir, 'w1.jsonl'), 'utf8')).toContain('"line":"hello pool"');

    const withResult = (await control.request('task.add', { pool: 'crew', prompt: 'done {"reviewed": true}' })).id;
    expect(await bus.message((m) => ended(m) && m.id === withResult)).toMatchObject({ event: 'done', agent: 'w1', result: { reviewed: true } });
    expect(existsSync(join(crew.dir, 'w2.jsonl'))).toBe(false);
  }, 120_000);

  it('a failing task is requeued after its backoff up to its attempts, then failed with the last reason', async () => {
    const add = await runCli(['task', 'add', '--template', 'job', '--attempts', '3', '--key', 'flaky', '--file', crew.file, 'exit 7']);
    expect(add).toMatchObject({ stderr: '', code: 0 });
    const id = add.stdout.trim();
    const dup = await runCli(['task', 'add', '--template', 'job', '--key', 'flaky', '--file', crew.file, 'exit 0']);
    expect(dup).toMatchObject({ code: 1, stderr: expect.stringMatching(/refused: key "flaky" is task t\d+ \((queued|started)\)/) });
    const failed = await bus.message((m) => ended(m) && m.id === id);
    expect(failed).toMatchObject({ event: 'failed', attempt: 3, agent: `job-${id}-3`, reason: `job-${id}-3 exited (exit code 7) (attempt 3 of 3)` });
    expect(bus.tasks(id).map((m) => [m.event, m.agent])).toEqual([
      ['queued', ''],
      ['started', `job-${id}`],
      ['requeued', `job-${id}`],
      ['started', `job-${id}-2`],
      ['requeued', `job-${id}-2`],
      ['started', `job-${id}-3`],
      ['failed', `job-${id}-3`],
    ]);
    const text = await runCli(['tasks', '--file', crew.file]);
    expect(text.stdout).toContain(`${id}  failed  template job  job-${id}-3`);
  }, 120_000);
});

describe('the task queue across a supervisor restart', () => {
  it('queued tasks are saved in the state dir and run by the next supervisor; a cancelled running task stops its agent', async () => {
    const agents = (concurrency: number) => (p: { dir: string }) => `  crew:\n${worker(p.dir)}templates:\n  job:\n${worker(p.dir)}    keep_finished: 200ms\n    concurrency: ${concurrency}\n`;
    const first = startCrew(agents(1));
    const one = watch(first);
    const ids: string[] = [];
    try {
      await one.message((m) => m.kind === 'state' && m.agent === 'crew' && m.to === 'ready');
      // The first holds the only slot (its agent waits for more input), so the others stay queued.
      for (const prompt of ['wait', 'done {"k": 1}', 'done {"k": 2}', 'exit 0']) {
        const r = await runCli(['task', 'add', '--template', 'job', '--file', first.file, prompt]);
        expect(r.code).toBe(0);
        ids.push(r.stdout.trim());
      }
      await one.message((m) => m.kind === 'input' && m.agent === `job-${ids[0]}` && m.outcome === 'delivered');
      const status = JSON.parse((await runCli(['tasks', '--json', '--file', first.file])).stdout) as { queued: { id: string; waiting?: string }[] };
      expect(status.queued.map((t) => [t.id, t.waiting])).toEqual(ids.slice(1).map((id) => [id, 'concurrency limit: 1 of 1 running']));
    } finally {
      await first.stop();
    }
    const saved = JSON.parse(readFileSync(join(first.stateDir, 'tasks.json'), 'utf8')) as { tasks: { id: string; state: string }[] };
    expect(saved.tasks.map((t) => [t.id, t.state])).toEqual([[ids[0], 'started'], ...ids.slice(1).map((id) => [id, 'queued'])]);

    const second = startCrew(agents(4), { dir: first.dir });
    const two = watch(second);
    try {
      for (const id of ids.slice(1)) expect(await two.message((m) => ended(m) && m.id === id)).toMatchObject({ event: 'done' });
      expect(two.tasks(ids[1]).find(ended)).toMatchObject({ result: { k: 1 } });
      // The task that was running is queued again (its agent went with the old supervisor), its attempt counted.
      const restarted = await two.message((m) => m.kind === 'task' && m.id === ids[0] && m.event === 'started');
      expect(restarted).toMatchObject({ attempt: 2, agent: `job-${ids[0]}-2` });
      const cancel = await runCli(['task', 'cancel', '--file', second.file, ids[0] ?? '']);
      expect(cancel).toMatchObject({ code: 0, stdout: `${ids[0]}: cancelled (was running)\n` });
      expect(await two.message((m) => m.kind === 'task' && m.id === ids[0] && m.event === 'cancelled')).toMatchObject({ was: 'started' });
      expect(await two.message((m) => m.kind === 'agent' && m.agent === `job-${ids[0]}-2` && m.event === 'ended')).toMatchObject({ how: 'stopped' });
      const again = await runCli(['task', 'cancel', '--file', second.file, ids[0] ?? '']);
      expect(again).toMatchObject({ code: 1, stderr: expect.stringContaining(`no task "${ids[0]}" is queued or running`) });
    } finally {
      await second.stop();
    }
  }, 180_000);
});
