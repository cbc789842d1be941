/** Session ids and resume arguments: deterministic per (session, agent, cwd); resume once the provider saved the conversation. */
import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nextRun, sessionId, transcriptPath } from '../../src/host/resume.js';

const claude = { start: ['--session-id', '{id}'], again: ['--resume', '{id}'], transcript: '${CLAUDE_CONFIG_DIR:-~/.claude}/projects/{cwd_slug}/{id}.jsonl' };

describe('resume', () => {
  it('the session id is a UUID derived from the orchestra session, the agent and its directory: the same every run, another for another agent or directory', () => {
    const id = sessionId('crew', 'mayor', '/work/repo');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(sessionId('crew', 'mayor', '/work/repo')).toBe(id);
    expect(sessionId('crew', 'polecat', '/work/repo')).not.toBe(id);
    expect(sessionId('crew', 'mayor', '/work/other')).not.toBe(id);
  });

  it('the transcript path follows the provider: the config dir from the agent environment, or its default under HOME', () => {
    expect(transcriptPath(claude.transcript, 'ID', '/work/my repo', { HOME: '/h' })).toBe('/h/.claude/projects/-work-my-repo/ID.jsonl');
    expect(transcriptPath(claude.transcript, 'ID', '/w', { HOME: '/h', CLAUDE_CONFIG_DIR: '/cfg' })).toBe('/cfg/projects/-w/ID.jsonl');
  });

  it('a new conversation starts with the id; once the provider has saved it, runs resume it (claude refuses --session-id for an id in use)', () => {
    const home = mkdtempSync(join(tmpdir(), 'orch-resume-'));
    const env = { HOME: home };
    const id = sessionId('crew', 'a', '/w');
    expect(nextRun(claude, id, '/w', env, true)).toEqual({ id, args: ['--session-id', id], resumed: false });
    mkdirSync(join(home, '.claude/projects/-w'), { recursive: true });
    writeFileSync(join(home, `.claude/projects/-w/${id}.jsonl`), '{}\n');
    expect(nextRun(claude, id, '/w', env, false)).toEqual({ id, args: ['--resume', id], resumed: true });
  });

  it('without a transcript to check, every run after the first resumes', () => {
    const r = { start: ['--id', '{id}'], again: ['--resume={id}'], transcript: undefined };
    expect(nextRun(r, 'X', '/w', {}, false).args).toEqual(['--id', 'X']);
    expect(nextRun(r, 'X', '/w', {}, true)).toEqual({ id: 'X', args: ['--resume=X'], resumed: true });
  });

  it('a symlinked working directory is named as the CLI names it, resolved (else a saved conversation is missed and claude refuses the id)', () => {
    const real = mkdtempSync(join(tmpdir(), 'orch-real-'));
    const link = `${real}-link`;
    symlinkSync(real, link);
    expect(transcriptPath('~/p/{cwd_slug}/{id}', 'ID', link, { HOME: '/h' })).toBe(`/h/p/${realpathSync(real).replace(/[^a-zA-Z0-9]/g, '-')}/ID`);
  });
});
