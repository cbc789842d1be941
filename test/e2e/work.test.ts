/**
 * The work layer end to end: `orchestra spawn` from templates in a running session (prompt as the
 * first input, unique names, sidecar done with a result, reaping after keep_finished) and the
 * agents' git worktrees, cleaned up by the three rules on real repositories made here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { branches, repo, sh } from '../work/git-repo.js';
import { type Body, type Crew, eventually, FIX, runCli, startCrew, until, watchBus } from './harness.js';

const worker = (rec: string) => `    command: node\n    args: [${join(FIX, 'work-agent.mjs')}, ${rec}]\n    ready: { pattern: "> $" }\n    idle_after: 300ms\n    stop: { grace: 1s }\n`;

function records(file: string): { line: string; cwd: string }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { line: string; cwd: string });
}

describe('ephemeral agents from templates', () => {
  let crew: Crew;
  let git: { dir: string; root: string };
  let bus: ReturnType<typeof watchBus>;
  const cli = (...args: string[]) => runCli([...args, '--file', crew.file]);
  /** The first bus message (since the crew started) that `pred` holds for. */
  const message = (pred: (m: Body) => boolean, ms = 20_000): Promise<Body> => bus.message(pred, ms);
  const agentEvent = (agent: string, event: string) => (m: Body) => m.kind === 'agent' && m.agent === agent && m.event === event;
  const body = (agent: string, event: string) => message(agentEvent(agent, event));

  beforeAll(async () => {
    git = repo();
    crew = startCrew(
      (p) =>
        `  crew:\n    command: node\n    args: [${join(FIX, 'echo-agent.mjs')}, crew]\n    ready: { pattern: "crew> $" }\n    idle_after: 300ms\n` +
        'templates:\n' +
        `  job:\n${worker(p.dir)}    keep_finished: 1s\n    vars: { task: "", prompt: "" }\n    prompt: "{{task}}{{prompt}}"\n` +
        `  wt:\n${worker(p.dir)}    cwd: ${join(git.dir, 'pkg')}\n    keep_finished: 300ms\n    worktree: { root: ${git.root}, branch: "agent/{{name}}" }\n`,
    );
    bus = watchBus(crew);
    await message((m) => m.kind === 'state' && m.agent === 'crew' && m.to === 'ready');
  });

  afterAll(async () => {
    await crew?.stop();
  });

  it('spawn: the rendered prompt is the first input of the new agent, once it is ready; its outcome is on the bus', async () => {
    const crewPid = await message((m) => m.kind === 'state' && m.agent === 'crew' && m.to === 'starting');
    const r = await cli('spawn', 'job', '--name', 'j1', '--var', 'task=fix the bug');
    expect(r).toMatchObject({ code: 0, stdout: 'j1\n' });
    await message((m) => m.kind === 'input' && m.agent === 'j1' && m.outcome === 'delivered');
    await eventually(() => records(join(crew.dir, 'j1.jsonl')).length > 0, 10_000, 'j1 recording its input');
    expect(records(join(crew.dir, 'j1.jsonl')).map((l) => l.line)).toEqual(['fix the bug']);
    expect(await body('j1', 'spawned')).toMatchObject({ template: 'job', worktree: null });
    // The crew agent was not touched: same run, still ready.
    const ps = JSON.parse((await cli('ps', '--json')).stdout) as { agents: { name: string; state: string; pid: number }[] };
    expect(ps.agents.find((a) => a.name === 'crew')).toMatchObject({ state: 'ready', pid: (crewPid as { pid: number }).pid });
    expect(ps.agents.find((a) => a.name === 'j1')?.state).toMatch(/ready|busy/);
  });

  it('names are unique in the session: a taken one is refused clearly, and a generated one is the template\'s name and a suffix', async () => {
    const taken = await cli('spawn', 'job', '--name', 'crew');
    expect(taken.code).toBe(2);
    expect(taken.stderr).toMatch(/an agent named "crew" already exists in session "e2e": choose another name/);
    const gen = await cli('spawn', 'job', 'done {}');
    expect(gen.code).toBe(0);
    expect(gen.stdout.trim()).toMatch(/^job-[0-9a-f]{6}$/);
    const missing = await cli('spawn', 'nope');
    expect(missing.stderr).toMatch(/no template named "nope" \(templates: job, wt\)/);
    // Spawning touched no other agent: j1 still runs, in the same process.
    const ps = JSON.parse((await cli('ps', '--json')).stdout) as { agents: { name: string; pid: number }[] };
    const j1 = (await message((m) => m.kind === 'state' && m.agent === 'j1' && m.to === 'starting')) as unknown as { pid: number };
    expect(ps.agents.find((a) => a.name === 'j1')?.pid).toBe(j1.pid);
    expect((await runCli(['validate', crew.file])).stdout).toMatch(/1 agent\(s\): crew; 2 template\(s\): job, wt\n$/);
  });

  it('an ephemeral that exits ends (not restarted) and is reaped after keep_finished: gone from ps, its log kept', async () => {
    expect((await cli('spawn', 'job', '--name', 'quitter', 'exit 3')).code).toBe(0);
    const ended = await body('quitter', 'ended');
    expect(ended).toMatchObject({ how: 'exited', exit: { code: 3, signal: null }, result: null });
    expect(bus.seen.find((r) => r.msg.kind === 'state' && r.msg.agent === 'quitter' && r.msg.to === 'dead')).toBeDefined();
    // Listed (dead) for keep_finished (1s), then reaped.
    const reaped = await body('quitter', 'reaped');
    expect(Number(reaped.ts) - Number(ended.ts)).toBeGreaterThanOrEqual(1000);
    const ps = JSON.parse((await cli('ps', '--json')).stdout) as { agents: { name: string; state: string }[] };
    expect(ps.agents.map((a) => a.name)).not.toContain('quitter');
    expect(bus.seen.filter((r) => r.msg.kind === 'restart' && r.msg.agent === 'quitter').map((r) => r.msg)).toEqual([expect.objectContaining({ action: 'give-up' })]);
    expect(readFileSync(crew.logFile('quitter'), 'utf8')).toContain('quitter> exit 3');
    // `orchestra logs` of the reaped agent reads its log file.
    expect(await cli('logs', 'quitter')).toMatchObject({ code: 0, stdout: expect.stringContaining('quitter> exit 3') });
    expect((await cli('logs', 'never-was')).stderr).toMatch(/no agent named "never-was" in .*, and no log file of an agent of that name/);
  });

  it('a sidecar `done` with a result ends the agent; the result is on the bus', async () => {
    expect((await cli('spawn', 'job', '--name', 'finisher', 'done {"pr": 42, "ok": true}')).code).toBe(0);
    expect(await body('finisher', 'ended')).toMatchObject({ how: 'done', result: { pr: 42, ok: true }, exit: null });
    await message((m) => m.kind === 'state' && m.agent === 'finisher' && m.to === 'stopped');
  });

  it('worktrees: clean is removed with its branch, commits keep the branch, dirty survives reaping and is listed; --prune refuses it without --force', async () => {
    const spawn = (name: string, prompt: string) => cli('spawn', 'wt', '--name', name, prompt);
    const clean = await spawn('clean', 'exit 0');
    expect(clean.stderr).toContain(`clean works in ${join(git.root, 'clean')} (branch agent/clean)`);
    expect((await spawn('committer', 'commit c.txt; exit 0')).code).toBe(0);
    expect((await spawn('dirty', 'write d.txt; exit 0')).code).toBe(0);
    // Each ran in its own worktree, where its cwd is inside the repository.
    await body('dirty', 'ended');
    expect(records(join(crew.dir, 'dirty.jsonl'))[0]?.cwd).toBe(join(git.root, 'dirty', 'pkg'));
    expect(await body('clean', 'reaped')).toMatchObject({ worktree: { path: join(git.root, 'clean'), branch: 'agent/clean', outcome: 'removed' } });
    expect(await body('committer', 'reaped')).toMatchObject({ worktree: { outcome: 'branch-kept' } });
    expect(await body('dirty', 'reaped')).toMatchObject({ worktree: { outcome: 'kept-dirty' } });
    expect(existsSync(join(git.root, 'clean'))).toBe(false);
    expect(existsSync(join(git.root, 'committer'))).toBe(false);
    expect(sh(git.dir, 'log', '--format=%s', 'agent/committer')).toBe('add c.txt\nfirst');
    expect(existsSync(join(git.root, 'dirty', 'pkg', 'd.txt'))).toBe(true);
    expect(branches(git.dir)).toEqual(['agent/committer', 'agent/dirty', 'main']);

    const list = await cli('worktrees');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`dirty\\s+kept\\s+uncommitted changes\\s+agent/dirty\\s+${join(git.root, 'dirty')}`));
    const refused = await cli('worktrees', '--prune');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`kept ${join(git.root, 'dirty')} (agent dirty, branch agent/dirty): it has uncommitted changes`);
    expect(existsSync(join(git.root, 'dirty', 'pkg', 'd.txt'))).toBe(true);
    const forced = await cli('worktrees', '--prune', '--force');
    expect(forced).toMatchObject({ code: 0, stdout: `${join(git.root, 'dirty')}: removed with branch agent/dirty\n` });
    expect(branches(git.dir)).toEqual(['agent/committer', 'main']);
    expect((await cli('worktrees')).stdout).toBe('no worktrees\n');
  });
});

describe('a crew agent with a worktree and an initial prompt', () => {
  it('runs in its worktree, gets its prompt first; its uncommitted work survives the session and is taken up by the next', async () => {
    const git = repo();
    const agents = (p: { dir: string }) => `  dev:\n${worker(p.dir)}    cwd: ${git.dir}\n    prompt: "write wip.txt"\n    worktree: { root: ${git.root} }\n`;
    const first = startCrew(agents);
    try {
      await until(first.bus, (r) => r.msg.kind === 'input' && r.msg.agent === 'dev' && r.msg.outcome === 'delivered');
      await eventually(() => existsSync(join(git.root, 'dev', 'wip.txt')), 10_000, 'the prompt done');
      expect(records(join(first.dir, 'dev.jsonl'))).toEqual([{ line: 'write wip.txt', cwd: join(git.root, 'dev') }]);
    } finally {
      await first.stop();
    }
    expect(existsSync(join(git.root, 'dev', 'wip.txt'))).toBe(true);
    expect(branches(git.dir)).toEqual(['main', 'orchestra/dev']);
    const list = await runCli(['worktrees', '--file', first.file]);
    expect(list.stdout).toMatch(/dev\s+kept\s+uncommitted changes\s+orchestra\/dev/);

    const second = startCrew(agents);
    try {
      await until(second.bus, (r) => r.msg.kind === 'input' && r.msg.agent === 'dev' && r.msg.outcome === 'delivered');
      await eventually(() => records(join(second.dir, 'dev.jsonl')).length > 0, 10_000, 'the prompt recorded');
      expect(records(join(second.dir, 'dev.jsonl'))[0]?.cwd).toBe(join(git.root, 'dev'));
    } finally {
      await second.stop();
    }
  });
});
