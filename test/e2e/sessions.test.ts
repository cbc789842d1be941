/**
 * On-demand sessions end to end (a real supervisor, real PTYs): concurrent `session.get` requests
 * start one agent; an idle session is stopped (its screen saved first) and reaped, and `orchestra
 * session` brings it back into the same conversation — the claude-like fixture started with
 * `--session-id <id>`, then with `--resume <the same id>`.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Received } from '../../src/bus/client.js';
import { ControlClient } from '../../src/bus/control-client.js';
import { sessionId } from '../../src/host/resume.js';
import { repo } from '../work/git-repo.js';
import { type Crew, FIX, isState, runCli, startCrew, until } from './harness.js';

describe('on-demand sessions', () => {
  let crew: Crew;
  const seen: Received[] = [];
  const text = (agent: string) => seen.map((r) => (r.msg.kind === 'output' && r.msg.agent === agent ? Buffer.from(r.msg.data).toString() : '')).join('');
  const agentEvent = (agent: string, event: string) => (r: Received) => r.msg.kind === 'agent' && r.msg.agent === agent && r.msg.event === event;

  beforeAll(async () => {
    const home = mkdtempSync(join(tmpdir(), 'orch-sessions-home-'));
    const git = repo();
    // The claude-like fixture, with claude's resume flags; its transcripts under `home`.
    const claudeLike =
      `    command: node\n    args: [${join(FIX, 'resumable-agent.mjs')}]\n    env: { HOME: ${home}, CLAUDE_CONFIG_DIR: ${home}/.claude }\n    ready: { pattern: "^> $" }\n    idle_after: 300ms\n` +
      `    resume:\n      start: ["--session-id", "{id}"]\n      again: ["--resume", "{id}"]\n      transcript: "${home}/.claude/projects/{cwd_slug}/{id}.jsonl"\n`;
    crew = startCrew(
      `  crew:\n    command: node\n    args: [${join(FIX, 'echo-agent.mjs')}, crew]\n    ready: { pattern: "crew> $" }\n` +
        'templates:\n' +
        `  chat:\n${claudeLike}    cwd: ${FIX}\n    keep_finished: 300ms\n` +
        // Its cold start makes a git worktree first: callers arriving meanwhile must wait on that start.
        `  tree:\n${claudeLike}    cwd: ${git.dir}\n    worktree: { root: ${git.root} }\n`,
      { extra: 'sessions: { template: chat, idle_timeout: 1500ms }\n' },
    );
    await until(crew.bus, isState('crew', 'ready'), 20_000, seen);
  });

  afterAll(async () => {
    await crew?.stop();
  });

  it('five concurrent session.get requests for one id start one agent, and every caller gets it', async () => {
    const clients = Array.from({ length: 5 }, () => new ControlClient(`ipc://${join(crew.stateDir, 'control.sock')}`));
    try {
      const replies = await Promise.all(clients.map((c) => c.request('session.get', { id: 's1', template: 'tree' }, 60_000)));
      expect(replies.map((r) => r.agent)).toEqual(['s1', 's1', 's1', 's1', 's1']);
      expect(replies.filter((r) => r.started)).toHaveLength(1);
      expect(new Set(replies.map((r) => r.conversation)).size).toBe(1);
      await until(crew.bus, isState('s1', 'ready'), 20_000, seen);
      expect(seen.filter(isState('s1', 'starting'))).toHaveLength(1);
      expect(seen.filter(agentEvent('s1', 'spawned'))).toHaveLength(1);
      expect(text('s1')).toContain(`new conversation ${replies[0]?.conversation}`);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  }, 60_000);

  it('an idle session is stopped with its screen saved, reaped, and `orchestra session` brings it back with --resume <the same id>', async () => {
    const id = sessionId('e2e', 's2', FIX);
    const first = await runCli(['session', 's2', 'hello', '--file', crew.file]);
    expect(first).toMatchObject({ code: 0, stdout: expect.stringMatching(/^s2\ns2: send \S+: delivered\n$/) });
    expect(first.stderr).toBe(`orchestra: started session s2 from template chat (conversation ${id})\n`);
    await until(crew.bus, () => text('s2').includes('you said: hello'), 20_000, seen);
    expect(text('s2')).toContain(`new conversation ${id}`);
    // Ready for idle_timeout (1.5s): stopped on purpose, then reaped after keep_finished.
    await until(crew.bus, agentEvent('s2', 'ended'), 20_000, seen);
    expect(seen.find(agentEvent('s2', 'ended'))?.msg).toMatchObject({ how: 'stopped' });
    expect(readFileSync(join(crew.stateDir, 'sessions', 's2.screen.txt'), 'utf8')).toContain('you said: hello');
    await until(crew.bus, agentEvent('s2', 'reaped'), 20_000, seen);
    expect(JSON.parse((await runCli(['ps', '--json', '--file', crew.file])).stdout).agents.map((a: { name: string }) => a.name)).not.toContain('s2');

    const again = await runCli(['session', 's2', 'again', '--file', crew.file]);
    expect(again).toMatchObject({ code: 0, stderr: `orchestra: started session s2 from template chat (conversation ${id})\n` });
    await until(crew.bus, () => text('s2').includes('you said: again'), 20_000, seen);
    expect(text('s2')).toContain(`resumed conversation ${id}`);
    expect(seen.filter(agentEvent('s2', 'spawned'))).toHaveLength(2);
  }, 60_000);
});
