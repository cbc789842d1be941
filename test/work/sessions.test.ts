/**
 * On-demand sessions over a supervisor on a simulated clock (fake workers): one cold start for
 * concurrent gets, the idle stop armed and disarmed by the agent's state changes, the screen saved
 * before it, a session started again in place or cold-started after reaping into its conversation.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ControlError } from '../../src/bus/control-protocol.js';
import { sessionId } from '../../src/host/resume.js';
import { controlHandlers } from '../../src/supervisor/control-handlers.js';
import { Sessions } from '../../src/work/sessions.js';
import { Tasks } from '../../src/work/tasks.js';
import { repo } from './git-repo.js';
import { workSession } from './work-session.js';

const RESUME = 'resume: { start: ["--session-id", "{id}"], again: ["--resume", "{id}"] }';

function sessions(yaml: string) {
  const s = workSession(`agents:\n  crew: { command: sh }\n${yaml}`);
  s.sup.start();
  const pool = new Sessions(s.config, s.sup, s.work, { logger: s.logger, clock: s.clock });
  const of = (name: string) => s.made.filter((w) => w.init.agent.name === name);
  const state = (name: string) => s.sup.status().find((a) => a.name === name)?.state;
  /** Lets what follows a state change run (spawns, waits), then reports the agent ready. */
  const ready = async (name: string) => {
    await s.flush();
    s.worker(name).report('ready');
  };
  /** Resolves when the agent's first run starts (after its worktree is made, for one with a worktree). */
  const started = (name: string) =>
    new Promise<void>((resolve) => {
      const unwatch = s.sup.watch((e) => {
        if (e.agent !== name || e.type !== 'state') return;
        unwatch();
        resolve();
      });
    });
  /** A session asked for and up (ready), as its first get sees it. */
  const open = async (id: string) => {
    const get = pool.get({ id });
    await ready(id);
    return get;
  };
  return { ...s, pool, of, state, ready, started, open };
}

const CHAT = `templates:\n  chat: { command: sh, ${RESUME}, keep_finished: 1s, prompt: "you are the chat agent" }\nsessions: { template: chat, idle_timeout: 10s }\n`;

describe('on-demand sessions (simulated clock, fake workers)', () => {
  it('five concurrent gets of a session whose start takes time (its worktree) cold-start it once: all get the same agent, one says it started it', async () => {
    const git = repo();
    const s = sessions(`templates:\n  chat: { command: sh, cwd: ${join(git.dir, 'pkg')}, worktree: { root: ${git.root} } }\nsessions: { template: chat }\n`);
    const gets = Array.from({ length: 5 }, () => s.pool.get({ id: 's1' }));
    await s.started('s1');
    await s.ready('s1');
    const results = await Promise.all(gets);
    expect(s.of('s1')).toHaveLength(1);
    expect(results.map((r) => r.agent)).toEqual(['s1', 's1', 's1', 's1', 's1']);
    expect(results.filter((r) => r.started)).toHaveLength(1);
    expect(results.every((r) => r.state === 'ready' && r.template === 'chat')).toBe(true);
    expect(s.published.filter((m) => m.kind === 'agent' && m.event === 'spawned')).toHaveLength(1);
  });

  it('a cold start that fails fails every caller waiting on it, with its error', async () => {
    const s = sessions(`templates:\n  chat: { command: sh, worktree: true }\n`);
    const gets = Array.from({ length: 3 }, () => s.pool.get({ id: 's1', template: 'chat' }).catch((e: Error) => e.message));
    const errors = await Promise.all(gets);
    expect(new Set(errors).size).toBe(1);
    expect(errors[0]).toMatch(/^template "chat": worktree: .* is not in a git repository/);
  });

  it('the idle stop is armed by entering ready and disarmed by leaving it; it fires after idle_timeout of ready, the screen saved first', async () => {
    const s = sessions(CHAT);
    const get = s.pool.get({ id: 's1', prompt: 'hello' });
    await s.ready('s1');
    expect((await get).prompt).toMatchObject({ outcome: 'delivered' });
    // Busy: no idle stop is due however long it stays so.
    s.worker('s1').report('busy');
    s.clock.increment(60_000);
    await s.flush();
    expect(s.state('s1')).toBe('busy');
    s.worker('s1').report('ready');
    s.clock.increment(9_999);
    await s.flush();
    expect(s.state('s1')).toBe('ready');
    // Activity before the timeout disarms it; ready again arms a full idle_timeout anew.
    s.worker('s1').report('busy');
    s.worker('s1').report('ready');
    s.clock.increment(9_999);
    await s.flush();
    expect(s.state('s1')).toBe('ready');
    s.clock.increment(1);
    await s.flush();
    expect(s.state('s1')).toBe('stopped');
    expect(readFileSync(join(s.stateDir, 'sessions', 's1.screen.txt'), 'utf8')).toBe('> you are the chat agent\n> hello\n');
    expect(s.published.find((m) => m.kind === 'agent' && m.agent === 's1' && m.event === 'ended')).toMatchObject({ how: 'stopped' });
  });

  it('with idle_timeout 0 a session is never stopped for idleness', async () => {
    const s = sessions(CHAT.replace('idle_timeout: 10s', 'idle_timeout: 0s'));
    await s.open('s1');
    s.clock.increment(86_400_000);
    await s.flush();
    expect(s.state('s1')).toBe('ready');
  });

  it('a get while the session is stopped, before it is reaped, starts it again in place: same agent, no second worker, no second template prompt', async () => {
    const s = sessions(CHAT);
    await s.open('s1');
    s.clock.increment(10_000);
    await s.flush();
    expect(s.state('s1')).toBe('stopped');
    const again = s.pool.get({ id: 's1', prompt: 'back' });
    await s.ready('s1');
    expect(await again).toMatchObject({ started: true, prompt: { outcome: 'delivered' } });
    expect(s.of('s1')).toHaveLength(1);
    expect(s.worker('s1').sent).toEqual(['you are the chat agent', 'back']);
  });

  it('after reaping, a get cold-starts the session from the template it ran from, into the same conversation, without the template prompt again', async () => {
    const s = sessions(CHAT.replace('templates:\n', 'templates:\n  other: { command: sh }\n').replace('sessions: { template: chat,', 'sessions: { template: other,'));
    const first = s.pool.get({ id: 's1', template: 'chat', vars: { who: 'me' } });
    await s.ready('s1');
    const r1 = await first;
    const cwd = s.worker('s1').init.agent.cwd;
    expect(r1.conversation).toBe(sessionId('t', 's1', cwd));
    s.clock.increment(10_000);
    await s.flush();
    // keep_finished (1s), then the agent leaves the session.
    s.clock.increment(1_000);
    await s.flush();
    expect(s.state('s1')).toBeUndefined();
    const second = s.pool.get({ id: 's1' });
    await s.ready('s1');
    const r2 = await second;
    expect(r2).toMatchObject({ agent: 's1', template: 'chat', started: true, conversation: r1.conversation });
    const [a, b] = s.of('s1');
    expect(a?.init.agent.prompt).toBe('you are the chat agent');
    expect(b?.init.agent.prompt).toBeUndefined();
    expect(b?.init.agent.resume).toEqual(a?.init.agent.resume);
    expect(JSON.parse(readFileSync(join(s.stateDir, 'sessions', 's1.json'), 'utf8'))).toEqual({ template: 'chat', vars: { who: 'me' } });
  });

  it('regression: a get arriving while the idle stop saved the screen let the stop go on and restarted the session; the stop is called off and the session goes on', async () => {
    const s = sessions(CHAT);
    await s.open('s1');
    s.clock.increment(10_000);
    // The idle stop has begun (its screen is being read) when the get comes.
    const again = s.pool.get({ id: 's1', prompt: 'still there?' });
    await s.flush();
    expect(await again).toMatchObject({ started: false, prompt: { outcome: 'delivered' } });
    expect(s.published.filter((m) => m.kind === 'state' && m.agent === 's1').map((m) => m.to)).not.toContain('stopped');
    expect(s.of('s1')).toHaveLength(1);
    expect(s.worker('s1').sent).toEqual(['you are the chat agent', 'still there?']);
    expect(existsSync(join(s.stateDir, 'sessions', 's1.screen.txt'))).toBe(true);
  });

  it('an idle stop does not come while a get is being answered: it is due from the get\'s end', async () => {
    const s = sessions(CHAT);
    await s.open('s1');
    // The idle timeout passes while a get is being answered (it has not returned yet).
    const held = s.pool.get({ id: 's1' });
    s.clock.increment(10_000);
    await s.flush();
    expect(s.state('s1')).toBe('ready');
    await held;
    s.clock.increment(9_999);
    await s.flush();
    expect(s.state('s1')).toBe('ready');
    s.clock.increment(1);
    await s.flush();
    expect(s.state('s1')).toBe('stopped');
  });

  it('ps says which agents are sessions\' (role session), beside the crew and spawned ephemeral agents', async () => {
    const s = sessions(CHAT);
    await s.open('s1');
    await s.work.spawn('chat', { name: 'once' });
    const tasks = new Tasks(s.config, s.sup, s.work, { publisher: s.publisher, logger: s.logger, clock: s.clock });
    const ps = await controlHandlers(s.sup, { session: 't' }, () => Promise.resolve(), s.work, tasks, s.pool).ps({});
    expect(ps.agents.map((a) => [a.name, a.role])).toEqual([
      ['crew', 'crew'],
      ['s1', 'session'],
      ['once', 'ephemeral'],
    ]);
  });

  it('refuses clearly: an id that cannot name an agent, a crew agent, no template to start from, another template than the running one', async () => {
    const s = sessions(CHAT.replace('sessions: { template: chat, idle_timeout: 10s }\n', ''));
    const refusal = (p: Promise<unknown>) => p.then(() => 'no error', (e: ControlError) => `${e.code}: ${e.message}`);
    expect(await refusal(s.pool.get({ id: 'a b' }))).toBe('bad-request: session id "a b": expected letters, digits, "-" and "_" (max 64), starting with a letter or digit (it names the session\'s agent)');
    expect(await refusal(s.pool.get({ id: 'crew' }))).toBe('bad-request: "crew" is an agent of session "t" that is not an on-demand session (a crew agent, or spawned with orchestra spawn): choose another session id');
    expect(await refusal(s.pool.get({ id: 's1' }))).toMatch(/^bad-request: session "s1" does not run and no template says how to start it: give --template \(templates: chat\), or set sessions.template in /);
    expect(await refusal(s.pool.get({ id: 's1', template: 'nope' }))).toBe('bad-request: no template named "nope" (templates: chat)');
    const get = s.pool.get({ id: 's1', template: 'chat' });
    await s.ready('s1');
    await get;
    expect(await refusal(s.pool.get({ id: 's1', template: 'other' }))).toBe('bad-request: session "s1" runs from template "chat", not "other" (a template applies to a cold start, once the session is reaped: leave --template out)');
    expect(existsSync(join(s.stateDir, 'sessions', 's1.json'))).toBe(true);
  });

  it('regression: a session from a headless template started a one-off run, answered "no agent named" and could never be asked for again while it ran; it is refused', async () => {
    const s = sessions('templates:\n  once: { command: sh, mode: headless, output: text }\n');
    const refusal = await s.pool.get({ id: 's1', template: 'once' }).then(() => 'no error', (e: ControlError) => `${e.code}: ${e.message}`);
    expect(refusal).toBe('bad-request: template "once" is mode: headless (one run per prompt, no agent to keep): a session needs an interactive template');
    expect(s.published.filter((m) => m.kind === 'headless')).toEqual([]);
    expect(s.pool.has('s1')).toBe(false);
  });
});
