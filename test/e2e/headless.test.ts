/**
 * Headless runs in a running session, end to end: tasks over `mode: headless` templates run the
 * template's command once per prompt (no terminal), each structured event of its output is one
 * `headless` bus message, and its result completes the task; a failing run is requeued, then
 * failed; a run past its timeout, a cancelled one, and the session going down stop the run's
 * whole process session. The commands replay what the real CLIs printed
 * (test/fixtures/headless-replay.mjs and its recordings), recording the arguments they got.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/bus/control-client.js';
import { readStat } from '../../src/host/process-group.js';
import { repo } from '../work/git-repo.js';
import { type Body, type Crew, eventually, FIX, runCli, startCrew, watchBus } from './harness.js';

const REPLAY = join(FIX, 'headless-replay.mjs');
const crewAgent = (dir: string) => `  crew:\n    command: node\n    args: [${join(FIX, 'work-agent.mjs')}, ${dir}]\n    ready: { pattern: "> $" }\n    stop: { grace: 1s }\n`;
/** A template whose command replays `recording` (or hangs, with `--hang`), with the settings in `more`. */
const replay = (name: string, recording: string, argv: string, more: string) =>
  `  ${name}:\n    mode: headless\n    command: node\n    args: [${REPLAY}, ${recording}]\n    env: { HEADLESS_ARGV: ${argv} }\n    stop: { grace: 500ms }\n${more}`;
const gone = (pid: number) => (readStat(pid)?.state ?? 'Z') === 'Z';

describe('headless runs of templates', () => {
  let crew: Crew;
  let bus: ReturnType<typeof watchBus>;
  let control: ControlClient;
  let argv: string;
  let git: { dir: string; root: string };
  const headless = (pred: (m: Body) => boolean) => bus.seen.map((r) => r.msg as unknown as Body).filter((m) => m.kind === 'headless' && pred(m));
  const ended = (id: string) => (m: Body) => m.kind === 'task' && m.id === id && (m.event === 'done' || m.event === 'failed' || m.event === 'cancelled');

  beforeAll(async () => {
    git = repo();
    crew = startCrew(
      (p) => {
        argv = join(p.dir, 'argv.jsonl');
        return (
          crewAgent(p.dir) +
          'templates:\n' +
          replay('claude', 'claude-2.1.197-sayhi-streamjson', argv, '    provider: claude\n') +
          replay('codex', 'codex-0.171.0-sayhi-json', argv, '    provider: codex\n') +
          replay('gemini', 'gemini-0.61.0-sayhi-streamjson', argv, '    provider: gemini\n') +
          replay('broken', 'claude-2.1.197-http400-streamjson', argv, '    provider: claude\n    attempts: 2\n') +
          replay('hang', '--hang', argv, '    output: ndjson\n    timeout: 1s\n') +
          replay('long', '--hang', argv, '    output: ndjson\n    concurrency: 1\n') +
          replay('wt', 'claude-2.1.197-sayhi-streamjson', argv, `    provider: claude\n    cwd: ${join(git.dir, 'pkg')}\n    worktree: { root: ${git.root} }\n`)
        );
      },
      { extra: 'tasks: { backoff: { initial: 100ms, max: 200ms, jitter: 0 } }\n' },
    );
    bus = watchBus(crew);
    control = new ControlClient(`ipc://${join(crew.stateDir, 'control.sock')}`);
    await bus.message((m) => m.kind === 'state' && m.agent === 'crew' && m.to === 'ready');
  });

  afterAll(async () => {
    await control?.close();
    await crew?.stop();
  });

  it('a task over a headless claude template: the CLI gets its headless args and the prompt last; each stream event is one bus message before the task is done with the result text and usage', async () => {
    const { id } = await control.request('task.add', { template: 'claude', prompt: 'say hi' });
    const done = await bus.message(ended(id));
    expect(done).toMatchObject({ event: 'done', agent: `claude-${id}`, result: { text: 'Done: the stub answered.', exitCode: 0, usage: { input_tokens: expect.any(Number), output_tokens: expect.any(Number) }, durationMs: expect.any(Number) } });
    const runs = headless((m) => m.task === id);
    expect(runs.map((m) => m.event)).toEqual(['started', 'stream', 'stream', 'stream', 'ended']);
    expect(runs.filter((m) => m.event === 'stream').map((m) => (m.data as { type: string }).type)).toEqual(['system', 'assistant', 'result']);
    expect(runs.every((m) => m.agent === `claude-${id}`)).toBe(true);
    // Published before the task's end: the stream, then the run's end, then the done.
    const at = (m: Body) => bus.seen.findIndex((r) => r.msg === (m as unknown));
    expect(Math.max(...runs.map(at))).toBeLessThan(at(done));
    expect(runs.at(-1)).toMatchObject({ result: { ok: true, text: 'Done: the stub answered.' }, worktree: null });
    const calls = readFileSync(argv, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { argv: string[] });
    expect(calls.at(-1)?.argv).toEqual(['claude-2.1.197-sayhi-streamjson', '-p', '--output-format', 'stream-json', '--verbose', 'say hi']);
  }, 60_000);

  it('regression: a headless run’s output was only on the bus; it is in its log, as an agent’s is, and orchestra logs RUN prints every byte once it has ended', async () => {
    const { id } = await control.request('task.add', { template: 'claude', prompt: 'say hi' });
    await bus.message(ended(id));
    const logs = await runCli(['logs', '--file', crew.file, `claude-${id}`]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toBe(readFileSync(join(FIX, 'headless', 'claude-2.1.197-sayhi-streamjson.stdout'), 'utf8'));
    // The agent's output is its own, as an agent's log is.
    expect(statSync(join(crew.stateDir, 'logs', `claude-${id}.log`)).mode & 0o777).toBe(0o600);
  }, 60_000);

  it('codex and gemini templates: their headless args, their formats’ result text and usage', async () => {
    const codex = (await control.request('task.add', { template: 'codex', prompt: 'say hi' })).id;
    const gemini = (await control.request('task.add', { template: 'gemini', prompt: 'say hi' })).id;
    expect(await bus.message(ended(codex))).toMatchObject({ event: 'done', result: { text: 'Done: the stub answered.', usage: { output_tokens: 5 } } });
    expect(await bus.message(ended(gemini))).toMatchObject({ event: 'done', result: { text: 'Done: the stub answered.', usage: { output_tokens: 5 } } });
    const calls = readFileSync(argv, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { argv: string[] }).argv);
    expect(calls).toContainEqual(['codex-0.171.0-sayhi-json', 'exec', '--json', 'say hi']);
    expect(calls).toContainEqual(['gemini-0.61.0-sayhi-streamjson', '--output-format', 'stream-json', '-p', 'say hi']);
    expect(headless((m) => m.task === gemini && m.event === 'stream').length).toBeGreaterThan(2);
  }, 60_000);

  it('a failing run (an error result, exit 1) is requeued after its backoff, then failed with the CLI’s error', async () => {
    const { id } = await control.request('task.add', { template: 'broken', prompt: 'say hi' });
    expect(await bus.message(ended(id))).toMatchObject({ event: 'failed', attempt: 2, reason: 'API Error: 400 The stub rejects this request. (attempt 2 of 2)' });
    expect(bus.tasks(id).map((m) => m.event)).toEqual(['queued', 'started', 'requeued', 'started', 'failed']);
    expect(headless((m) => m.task === id && m.event === 'ended').map((m) => (m.result as { exitCode: number }).exitCode)).toEqual([1, 1]);
  }, 60_000);

  it('a run past its timeout is killed with its child processes, and its task fails with reason timeout', async () => {
    const { id } = await control.request('task.add', { template: 'hang', prompt: 'wait' });
    const started = await bus.message((m) => m.kind === 'headless' && m.task === id && m.event === 'started');
    const child = await bus.message((m) => m.kind === 'headless' && m.task === id && m.event === 'stream' && (m.data as { type: string }).type === 'child');
    const pids = [started.pid as number, (child.data as { pid: number }).pid];
    expect(pids.every((p) => !gone(p))).toBe(true);
    expect(await bus.message(ended(id))).toMatchObject({ event: 'failed', reason: 'timed out after 1000ms' });
    await eventually(() => pids.every(gone), 5000, `pids ${pids.join(', ')} gone`);
  }, 60_000);

  it('headless tasks take their template’s concurrency slots; task cancel stops a running run, its whole session', async () => {
    const { id } = await control.request('task.add', { template: 'long', prompt: 'wait' });
    const next = (await control.request('task.add', { template: 'long', prompt: 'wait' })).id;
    const child = await bus.message((m) => m.kind === 'headless' && m.task === id && m.event === 'stream' && (m.data as { type: string }).type === 'child');
    expect((await control.request('task.list', {})).queued).toMatchObject([{ id: next, waiting: 'concurrency limit: 1 of 1 running' }]);
    const cancel = await runCli(['task', 'cancel', '--file', crew.file, id]);
    expect(cancel).toMatchObject({ code: 0, stdout: `${id}: cancelled (was running)\n` });
    const end = await bus.message((m) => m.kind === 'headless' && m.task === id && m.event === 'ended');
    expect(end.result).toMatchObject({ ok: false, reason: `task ${id} was cancelled`, signal: 'SIGTERM' });
    await eventually(() => gone((child.data as { pid: number }).pid), 5000, 'the run’s child gone');
    expect(bus.tasks(id).map((m) => m.event)).toEqual(['queued', 'started', 'cancelled']);
    // Its slot is free again: the next one starts.
    await bus.message((m) => m.kind === 'headless' && m.task === next && m.event === 'started');
    expect((await control.request('task.cancel', { id: next })).cancelled).toBe(true);
    await bus.message((m) => m.kind === 'headless' && m.task === next && m.event === 'ended');
  }, 60_000);

  it('orchestra spawn of a headless template is a one-off run on the bus (no task), in its own worktree, cleaned up when it ends', async () => {
    const r = await runCli(['spawn', '--file', crew.file, 'wt', 'say', 'hi']);
    expect(r).toMatchObject({ code: 0, stdout: expect.stringMatching(/^wt-[0-9a-f]{6}\n$/) });
    const name = r.stdout.trim();
    const end = await bus.message((m) => m.kind === 'headless' && m.agent === name && m.event === 'ended');
    expect(end).toMatchObject({ task: null, template: 'wt', result: { ok: true, text: 'Done: the stub answered.' }, worktree: { path: join(git.root, name), branch: `orchestra/${name}`, outcome: 'removed' } });
    const call = readFileSync(argv, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { argv: string[]; cwd: string }).at(-1);
    expect(call).toEqual({ argv: ['claude-2.1.197-sayhi-streamjson', '-p', '--output-format', 'stream-json', '--verbose', 'say hi'], cwd: join(git.root, name, 'pkg') });
    expect(existsSync(join(git.root, name))).toBe(false);
    // It is no agent: not in ps.
    expect((await control.request('ps', {})).agents.map((a: { name: string }) => a.name)).toEqual(['crew']);
  }, 60_000);

  it('orchestra stop of a one-off headless run stops it, its whole session', async () => {
    const name = (await runCli(['spawn', '--file', crew.file, '--name', 'once', 'long', 'wait'])).stdout.trim();
    const child = await bus.message((m) => m.kind === 'headless' && m.agent === name && m.event === 'stream' && (m.data as { type: string }).type === 'child');
    expect(await runCli(['stop', '--file', crew.file, name])).toMatchObject({ code: 0, stdout: 'once: stopped\n' });
    expect(await bus.message((m) => m.kind === 'headless' && m.agent === name && m.event === 'ended')).toMatchObject({ task: null, result: { ok: false, reason: 'stopped on request' } });
    await eventually(() => gone((child.data as { pid: number }).pid), 5000, 'the run’s child gone');
  }, 60_000);
});

describe('headless runs when the session goes down', () => {
  it('down stops a running headless run with its child processes, its end on the bus; its task stays saved as running, for the next supervisor', async () => {
    const crew = startCrew((p) => `${crewAgent(p.dir)}templates:\n${replay('long', '--hang', join(p.dir, 'argv.jsonl'), '    output: ndjson\n')}`);
    const bus = watchBus(crew);
    let pids: number[] = [];
    try {
      await bus.message((m) => m.kind === 'state' && m.agent === 'crew' && m.to === 'ready');
      const add = await runCli(['task', 'add', '--template', 'long', '--file', crew.file, 'wait']);
      const id = add.stdout.trim();
      const started = await bus.message((m) => m.kind === 'headless' && m.task === id && m.event === 'started');
      const child = await bus.message((m) => m.kind === 'headless' && m.task === id && m.event === 'stream' && (m.data as { type: string }).type === 'child');
      pids = [started.pid as number, (child.data as { pid: number }).pid];
      expect(await runCli(['down', '--file', crew.file])).toMatchObject({ code: 0 });
      // Stopped by the supervisor's shutdown (its end published), not left to the watchdog.
      expect(await bus.message((m) => m.kind === 'headless' && m.task === id && m.event === 'ended')).toMatchObject({ result: { ok: false, reason: 'the session is going down' } });
      await crew.exited;
      expect(pids.filter((p) => !gone(p))).toEqual([]);
      const saved = JSON.parse(readFileSync(join(crew.stateDir, 'tasks.json'), 'utf8')) as { tasks: { id: string; state: string }[] };
      expect(saved.tasks).toMatchObject([{ id, state: 'started' }]);
      expect(bus.tasks(id).map((m) => m.event)).toEqual(['queued', 'started']);
    } finally {
      await crew.stop();
    }
  }, 60_000);

  it('a supervisor killed outright: its watchdog kills the running headless run’s processes too', async () => {
    const crew = startCrew((p) => `${crewAgent(p.dir)}templates:\n${replay('long', '--hang', join(p.dir, 'argv.jsonl'), '    output: ndjson\n')}`);
    const bus = watchBus(crew);
    try {
      await bus.message((m) => m.kind === 'state' && m.agent === 'crew' && m.to === 'ready');
      const id = (await runCli(['task', 'add', '--template', 'long', '--file', crew.file, 'wait'])).stdout.trim();
      const started = await bus.message((m) => m.kind === 'headless' && m.task === id && m.event === 'started');
      const child = await bus.message((m) => m.kind === 'headless' && m.task === id && m.event === 'stream' && (m.data as { type: string }).type === 'child');
      const pids = [started.pid as number, (child.data as { pid: number }).pid];
      await crew.stop('SIGKILL');
      await eventually(() => pids.every(gone), 10_000, `pids ${pids.join(', ')} gone`);
    } finally {
      await crew.stop();
    }
  }, 60_000);
});

describe('headless runs out of quota', () => {
  it('a run that prints its provider’s usage-limit message pauses task dispatch to that provider until the reset it names (claude, codex), or quota_wait without one (gemini); later tasks of the provider wait, saying why', async () => {
    // What each CLI printed against a local API stub answering as its provider does at a usage limit.
    const crew = startCrew((p) => {
      const argv = join(p.dir, 'argv.jsonl');
      return (
        `${crewAgent(p.dir)}templates:\n` +
        replay('claude', 'claude-2.1.197-quota-streamjson', argv, '    provider: claude\n') +
        replay('codex', 'codex-0.171.0-quota-json', argv, '    provider: codex\n') +
        replay('gemini', 'gemini-0.61.0-quota-streamjson', argv, '    provider: gemini\n')
      );
    }, { extra: 'tasks: { quota_wait: 7m }\n' });
    const bus = watchBus(crew);
    const control = new ControlClient(`ipc://${join(crew.stateDir, 'control.sock')}`);
    try {
      await bus.message((m) => m.kind === 'state' && m.agent === 'crew' && m.to === 'ready');
      const ids: Record<string, string> = {};
      for (const t of ['claude', 'codex', 'gemini']) {
        ids[t] = (await control.request('task.add', { template: t, prompt: 'say hi' })).id;
        expect(await bus.message((m) => m.kind === 'task' && m.id === ids[t] && m.event === 'failed')).toMatchObject({ event: 'failed' });
      }
      const added = Date.now();
      const later = (await control.request('task.add', { template: 'claude', prompt: 'again' })).id;
      const status = await control.request('task.list', {});
      const paused = new Map(status.paused.map((p: { provider: string; until: number; reason: string }) => [p.provider, p]));
      expect(paused.get('claude')?.reason).toBe(`claude-${ids.claude} is out of quota; it resets 12pm (UTC)`);
      expect(paused.get('codex')?.reason).toBe(`codex-${ids.codex} is out of quota; it resets 12:00 PM`);
      expect(paused.get('gemini')?.reason).toBe(`gemini-${ids.gemini} is out of quota; it shows no reset time, so dispatch waits 7 min`);
      // The next 12:00 UTC, within a day.
      const claudeUntil = paused.get('claude')?.until ?? 0;
      expect(new Date(claudeUntil).toISOString()).toMatch(/T12:00:00\.000Z$/);
      expect(claudeUntil - added).toBeLessThanOrEqual(86_400_000);
      expect(status.queued.find((t: { id: string }) => t.id === later)?.waiting).toMatch(/^provider claude paused until .*: claude-\S+ is out of quota; it resets 12pm \(UTC\)$/);
    } finally {
      await control.close();
      await crew.stop();
    }
  }, 60_000);
});
