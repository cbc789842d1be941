import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, type Crew, FIX, isState, startCrew, until } from './harness.js';

const run = (args: string[], cwd?: string) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd, env: { ...process.env, NO_COLOR: '1' } });

let crew: Crew | undefined;
afterEach(async () => {
  await crew?.stop();
  crew = undefined;
});

describe('cli', () => {
  it('validate prints ok for the bundled example', () => {
    const r = run(['validate', 'config/example.yaml'], join(FIX, '../..'));
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ok: .*example\.yaml: session "example", 4 agent\(s\): mayor, worker, flaky, reporter/);
  });

  it('validate accepts the example crew of real agent CLIs (their presets), none of them installed', () => {
    const r = run(['validate', 'config/agents.yaml'], join(FIX, '../..'));
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/^ok: .*agents\.yaml: session "agents", 4 agent\(s\): mayor, codex, gemini, opencode/);
  });

  it('validate and up report config errors with file:line:col, exit 2, and no stack trace', () => {
    const dir = mkdtempSync('/tmp/orch-cli-');
    writeFileSync(join(dir, 'orchestra.yaml'), 'agents:\n  a:\n    command: sh\n    restart: sometimes\n');
    for (const cmd of ['validate', 'up']) {
      const r = run([cmd], dir);
      expect(r.status).toBe(2);
      expect(r.stderr).toBe('orchestra.yaml:4:14: agents.a.restart: expected one of "no", "on-failure", "always", found "sometimes"\n');
    }
  });

  it('a missing config file is a one-line error', () => {
    const r = run(['up', '/nonexistent/orchestra.yaml']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('/nonexistent/orchestra.yaml: cannot read config: no such file\n');
  });

  it('unknown commands and options are usage errors (exit 2)', () => {
    expect(run(['frobnicate']).status).toBe(2);
    expect(run(['up', '--bogus']).status).toBe(2);
  });

  it('a second up for the same session refuses: already running, pid N', async () => {
    crew = startCrew(`  a:\n    command: node\n    args: [${join(FIX, 'echo-agent.mjs')}, a]\n    ready: { pattern: "a> $" }\n`);
    await until(crew.bus, isState('a', 'ready'));
    const r = run(['up', crew.file]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`orchestra: session "e2e" is already running, pid ${crew.proc.pid} (${crew.stateDir})\n`);
  });

  it('a command that does not exist is reported, not retried forever', async () => {
    crew = startCrew('  ghost:\n    command: no-such-agent-cli\n    restart: always\n');
    const seen = await until(crew.bus, isState('ghost', 'dead'));
    const states = seen.flatMap((r) => (r.msg.kind === 'state' ? [`${r.msg.to}: ${r.msg.reason}`] : []));
    expect(states).toEqual([
      'starting: created',
      'exited: spawn failed: command not found: no-such-agent-cli',
      'dead: spawn failed; not retrying a command that cannot start',
    ]);
  });
});
