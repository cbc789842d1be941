/** Session ids and resume arguments: deterministic per (session, agent, cwd); resume once the provider saved the conversation. */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ResumeSettings } from '../../src/config/types.js';
import { nextRun, runStarting, sessionId, transcriptPath } from '../../src/host/resume.js';

const scratch = (what: string) => realpathSync(mkdtempSync(join(tmpdir(), `orch-${what}-`)));

function settings(r: Partial<ResumeSettings>): ResumeSettings {
  return { start: [], again: [], transcript: undefined, capture: undefined, state: join(scratch('state'), 'resume', 'a.json'), ...r };
}

const exact = (files: string) => ({ files, header: {}, message: undefined, removeEmpty: false });
const claude = settings({ start: ['--session-id', '{id}'], again: ['--resume', '{id}'], transcript: exact('${CLAUDE_CONFIG_DIR:-~/.claude}/projects/{cwd_slug}/{id}.jsonl') });

function write(file: string, lines: unknown[]): string {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  return file;
}

describe('resume', () => {
  it('the session id is a UUID derived from the orchestra session, the agent and its directory: the same every run, another for another agent or directory', () => {
    const id = sessionId('crew', 'mayor', '/work/repo');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(sessionId('crew', 'mayor', '/work/repo')).toBe(id);
    expect(sessionId('crew', 'polecat', '/work/repo')).not.toBe(id);
    expect(sessionId('crew', 'mayor', '/work/other')).not.toBe(id);
  });

  it('the session id is the one earlier versions derived with the uuid package (a changed id would lose every conversation)', () => {
    expect(sessionId('crew', 'mayor', '/work/repo')).toBe('88eb46fa-39f3-5e22-9e1e-c7cf11300dd9');
    expect(sessionId('s', 'ä😀', '/tmp')).toBe('6869a155-9a2f-5c17-9c4a-5a2b5d16574f');
  });

  it('the transcript path follows the provider: the config dir from the agent environment, or its default under HOME', () => {
    const t = '${CLAUDE_CONFIG_DIR:-~/.claude}/projects/{cwd_slug}/{id}.jsonl';
    expect(transcriptPath(t, 'ID', '/work/my repo', { HOME: '/h' })).toBe('/h/.claude/projects/-work-my-repo/ID.jsonl');
    expect(transcriptPath(t, 'ID', '/w', { HOME: '/h', CLAUDE_CONFIG_DIR: '/cfg' })).toBe('/cfg/projects/-w/ID.jsonl');
  });

  it('a new conversation starts with the id; once the provider has saved it, runs resume it (claude refuses --session-id for an id in use)', () => {
    const home = scratch('home');
    const env = { HOME: home };
    const id = sessionId('crew', 'a', '/w');
    expect(nextRun(claude, id, '/w', env, true)).toEqual({ id, args: ['--session-id', id], resumed: false });
    write(join(home, `.claude/projects/-w/${id}.jsonl`), [{}]);
    expect(nextRun(claude, id, '/w', env, false)).toEqual({ id, args: ['--resume', id], resumed: true });
  });

  it('without a transcript to check, every run after the first resumes', () => {
    const r = settings({ start: ['--id', '{id}'], again: ['--resume={id}'] });
    expect(nextRun(r, 'X', '/w', {}, false).args).toEqual(['--id', 'X']);
    expect(nextRun(r, 'X', '/w', {}, true)).toEqual({ id: 'X', args: ['--resume=X'], resumed: true });
  });

  it('a symlinked working directory is named as the CLI names it, resolved (else a saved conversation is missed and claude refuses the id)', () => {
    const real = scratch('real');
    const link = `${real}-link`;
    symlinkSync(real, link);
    expect(transcriptPath('~/p/{cwd_slug}/{id}', 'ID', link, { HOME: '/h' })).toBe(`/h/p/${real.replace(/[^a-zA-Z0-9]/g, '-')}/ID`);
  });
});

describe('resume: gemini decides by what its session file holds', () => {
  // As providers/gemini.yaml says, and as gemini 0.61.0 wrote them here (against a local API stub).
  const gemini = settings({
    start: ['--session-id', '{id}'],
    again: ['--resume', '{id}'],
    transcript: { files: '${GEMINI_CLI_HOME:-~}/.gemini/tmp/*/chats/session-*.jsonl', header: { sessionId: '{id}' }, message: { type: ['user', 'gemini'] }, removeEmpty: true },
  });
  const id = sessionId('crew', 'g', '/w');
  const header = { sessionId: id, projectHash: 'e030', startTime: '2026-12-01T06:13:58.584Z', lastUpdated: '2026-12-01T06:13:58.584Z', kind: 'main' };
  // Written before any prompt: its "messages" hold gemini's own context as a user message, which is no conversation.
  const context = { $set: { messages: [{ id: 'd049', type: 'user', content: [{ text: '<session_context>…' }] }] } };
  const chats = (home: string, project = 'w') => join(home, '.gemini/tmp', project, 'chats');

  it('a session file with only its header (gemini killed before the first prompt) is removed and the run starts the id anew: gemini refuses both --session-id and --resume for it', () => {
    const home = scratch('gemini');
    const empty = write(join(chats(home), `session-2026-12-01T06-14-${id.slice(0, 8)}.jsonl`), [header, context]);
    expect(nextRun(gemini, id, '/w', { HOME: home }, true)).toEqual({ id, args: ['--session-id', id], resumed: false });
    expect(existsSync(empty)).toBe(false);
  });

  it('a file with a user or gemini line resumes, in whichever project directory gemini named; the empty second file a --resume leaves is kept', () => {
    const home = scratch('gemini');
    const saved = write(join(chats(home, 'w-1'), `session-2026-12-01T06-13-${id.slice(0, 8)}.jsonl`), [header, context, { id: '1b62', type: 'user', content: [{ text: 'hello' }] }]);
    const stray = write(join(chats(home, 'w-1'), `session-2026-12-01T06-15-${id.slice(0, 8)}.jsonl`), [header, context]);
    expect(nextRun(gemini, id, '/w', { HOME: home }, false)).toEqual({ id, args: ['--resume', id], resumed: true });
    expect([existsSync(saved), existsSync(stray)]).toEqual([true, true]);
  });

  it("another id's conversation is not this agent's, and is left alone; GEMINI_CLI_HOME replaces the home", () => {
    const home = scratch('gemini');
    const other = sessionId('crew', 'other', '/w');
    const theirs = write(join(chats(home), `session-2026-12-01T06-13-${other.slice(0, 8)}.jsonl`), [{ ...header, sessionId: other }]);
    expect(nextRun(gemini, id, '/w', { HOME: '/nowhere', GEMINI_CLI_HOME: home }, true).resumed).toBe(false);
    expect(existsSync(theirs)).toBe(true);
  });
});

describe('resume: codex has its id captured after the start', () => {
  const codex = (state: string) =>
    settings({
      start: [],
      again: ['resume', '{id}'],
      capture: { files: '${CODEX_HOME:-~/.codex}/sessions/*/*/*/rollout-*.jsonl', header: { type: 'session_meta', 'payload.cwd': '{cwd}' }, id: 'payload.id', started: 'payload.timestamp' },
      state,
    });
  const T0 = Date.parse('2026-12-01T06:16:58.000Z');
  /** A rollout as codex 0.171.0 writes it, started at `at`, last written at `at` too. */
  function rollout(home: string, id: string, cwd: string, at: number, extra: Record<string, unknown> = {}): string {
    const file = write(join(home, 'sessions/2026/12/01', `rollout-2026-12-01T06-16-59-${id}.jsonl`), [
      { timestamp: new Date(at + 3000).toISOString(), ordinal: 0, type: 'session_meta', payload: { session_id: id, id, timestamp: new Date(at).toISOString(), cwd, originator: 'codex-tui', ...extra } },
      { type: 'event_msg', payload: { type: 'task_started' } },
    ]);
    utimesSync(file, new Date(at + 3000), new Date(at + 3000));
    return file;
  }
  function setup() {
    const home = scratch('codex');
    const cwd = scratch('repo');
    const stateDir = join(scratch('state'), 'resume');
    return { home, cwd, stateDir, env: { HOME: '/nowhere', CODEX_HOME: home } };
  }

  it('the rollout a run created in its cwd is captured: the next run is `resume <id>`, and the id is kept in the state dir for a new supervisor', () => {
    const { home, cwd, stateDir, env } = setup();
    const r = codex(join(stateDir, 'a.json'));
    const first = nextRun(r, 'ignored', cwd, env, false);
    expect(first).toEqual({ id: undefined, args: [], resumed: false });
    runStarting(r, first, T0);
    const file = rollout(home, '01a2303f-d4a0-7ec0-847a-8adf076f2915', cwd, T0 + 1000, { base_instructions: { text: 'x'.repeat(100_000) } });
    expect(nextRun(r, 'ignored', cwd, env, true)).toEqual({ id: '01a2303f-d4a0-7ec0-847a-8adf076f2915', args: ['resume', '01a2303f-d4a0-7ec0-847a-8adf076f2915'], resumed: true });
    expect(JSON.parse(readFileSync(r.state, 'utf8'))).toMatchObject({ id: '01a2303f-d4a0-7ec0-847a-8adf076f2915', file, cwd });
    // The resumed run appends to the same file; later runs still resume it.
    runStarting(r, { id: '01a2303f-d4a0-7ec0-847a-8adf076f2915', args: [], resumed: true }, T0 + 60_000);
    expect(nextRun(codex(r.state), 'ignored', cwd, env, false).id).toBe('01a2303f-d4a0-7ec0-847a-8adf076f2915');
  });

  it('a rollout from before the run (the same directory, a conversation started earlier and written to during the run) is not captured', () => {
    const { home, cwd, stateDir, env } = setup();
    const r = codex(join(stateDir, 'a.json'));
    runStarting(r, nextRun(r, '', cwd, env, false), T0);
    const old = rollout(home, '0199aaaa-0000-7000-8000-000000000001', cwd, T0 - 60_000);
    utimesSync(old, new Date(T0 + 5000), new Date(T0 + 5000));
    expect(nextRun(r, '', cwd, env, true)).toEqual({ id: undefined, args: [], resumed: false });
  });

  it('a rollout of another directory is not captured', () => {
    const { home, cwd, stateDir, env } = setup();
    const r = codex(join(stateDir, 'a.json'));
    runStarting(r, nextRun(r, '', cwd, env, false), T0);
    rollout(home, '0199aaaa-0000-7000-8000-000000000002', scratch('elsewhere'), T0 + 1000);
    expect(nextRun(r, '', cwd, env, true).resumed).toBe(false);
  });

  it('two agents in one directory never resume each other\'s conversation: a captured file is never another agent\'s, and two new ones are left uncaptured', () => {
    const { home, cwd, stateDir, env } = setup();
    const a = codex(join(stateDir, 'a.json'));
    const b = codex(join(stateDir, 'b.json'));
    runStarting(a, nextRun(a, '', cwd, env, false), T0);
    runStarting(b, nextRun(b, '', cwd, env, false), T0);
    rollout(home, '0199aaaa-0000-7000-8000-00000000000a', cwd, T0 + 1000);
    expect(nextRun(a, '', cwd, env, true).id).toBe('0199aaaa-0000-7000-8000-00000000000a');
    // b's run started before a's conversation did, in the same directory: only the claim keeps it apart.
    expect(nextRun(b, '', cwd, env, true)).toEqual({ id: undefined, args: [], resumed: false });
    rollout(home, '0199aaaa-0000-7000-8000-00000000000b', cwd, T0 + 2000);
    rollout(home, '0199aaaa-0000-7000-8000-00000000000c', cwd, T0 + 3000);
    const run = nextRun(b, '', cwd, env, true);
    expect(run).toMatchObject({ id: undefined, args: [], resumed: false });
    expect(run.note).toMatch(/^2 conversations in .* started since the agent's last run .*which is this agent's cannot be told/);
  });

  it('a captured conversation whose file is gone, or that ran in another directory, is forgotten: the next run starts a new one', () => {
    const { home, cwd, stateDir, env } = setup();
    const r = codex(join(stateDir, 'a.json'));
    runStarting(r, nextRun(r, '', cwd, env, false), T0);
    rollout(home, '0199aaaa-0000-7000-8000-00000000000d', cwd, T0 + 1000);
    expect(nextRun(r, '', cwd, env, true).resumed).toBe(true);
    const moved = scratch('moved');
    const run = nextRun(r, '', moved, env, true);
    expect(run).toEqual({ id: undefined, args: [], resumed: false });
    runStarting(r, run, T0 + 10_000);
    expect(JSON.parse(readFileSync(r.state, 'utf8'))).toEqual({ started: T0 + 10_000 });
  });
});
