/**
 * A crashed agent is restarted into its conversation: a claude-like one with --resume and the same
 * session id, a codex-like one (which chooses its id) with `resume <the id captured from its files>`.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { Received } from '../../src/bus/client.js';
import { sessionId } from '../../src/host/resume.js';
import { type Crew, FIX, isState, runCli, startCrew, until } from './harness.js';

let crew: Crew | undefined;
afterEach(async () => {
  await crew?.stop();
  crew = undefined;
});

it('a crashed claude-like agent is restarted with --resume <the same id>, and the restart message says it resumes', async () => {
  const home = mkdtempSync(join(tmpdir(), 'orch-home-'));
  crew = startCrew(
    `  c:\n    command: node\n    args: [${join(FIX, 'resumable-agent.mjs')}]\n    cwd: ${FIX}\n    env: { HOME: ${home} }\n    ready: { pattern: "^> $" }\n` +
      `    resume:\n      start: ["--session-id", "{id}"]\n      again: ["--resume", "{id}"]\n      transcript: "\${CLAUDE_CONFIG_DIR:-~/.claude}/projects/{cwd_slug}/{id}.jsonl"\n` +
      `    restart: { policy: always, backoff: { initial: 200ms, jitter: 0 } }\n`,
  );
  const id = sessionId('e2e', 'c', FIX);
  const seen: Received[] = [];
  const text = () => seen.map((r) => (r.msg.kind === 'output' ? Buffer.from(r.msg.data).toString() : '')).join('');
  await until(crew.bus, isState('c', 'ready'), 20_000, seen);
  expect(text()).toContain(`new conversation ${id}`);
  expect((await runCli(['send', 'c', 'crash', '--file', crew.file])).code).toBe(0);
  const restart = (await until(crew.bus, (r) => r.msg.kind === 'restart', 20_000, seen)).at(-1)?.msg;
  expect(restart).toMatchObject({ action: 'restart', resume: { id, resumed: true } });
  await until(crew.bus, (r) => isState('c', 'ready')(r) && text().includes(`resumed conversation ${id}`), 20_000, seen);
}, 60_000);

it('a crashed codex-like agent is restarted with `resume <the id it wrote in its rollout file>`, captured by the codex preset, and the restart message says so', async () => {
  const home = mkdtempSync(join(tmpdir(), 'orch-codex-home-'));
  crew = startCrew(
    `  c:\n    provider: codex\n    command: node\n    args: [${join(FIX, 'codex-like-agent.mjs')}]\n    cwd: ${FIX}\n    env: { CODEX_HOME: ${home} }\n    ready: { pattern: "^> $" }\n` +
      `    restart: { policy: always, backoff: { initial: 200ms, jitter: 0 } }\n`,
  );
  const seen: Received[] = [];
  const text = () => seen.map((r) => (r.msg.kind === 'output' ? Buffer.from(r.msg.data).toString() : '')).join('');
  await until(crew.bus, isState('c', 'ready'), 20_000, seen);
  expect(text()).toContain('new conversation');
  // Its first input makes it write its rollout file (then "crash" ends it).
  expect((await runCli(['send', 'c', 'crash', '--file', crew.file])).code).toBe(0);
  const restart = (await until(crew.bus, (r) => r.msg.kind === 'restart', 20_000, seen)).at(-1)?.msg;
  const sessions = join(home, 'sessions');
  const [rollout] = readdirSync(sessions, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.jsonl'));
  const id = (JSON.parse(readFileSync(join(sessions, rollout ?? ''), 'utf8').split('\n')[0] ?? '') as { payload: { id: string } }).payload.id;
  expect(restart).toMatchObject({ action: 'restart', resume: { id, resumed: true } });
  await until(crew.bus, (r) => isState('c', 'ready')(r) && text().includes(`resumed conversation ${id}`), 20_000, seen);
  // Kept where a new supervisor finds it.
  expect(JSON.parse(readFileSync(join(crew.stateDir, 'resume', 'c.json'), 'utf8'))).toMatchObject({ id });
}, 60_000);
