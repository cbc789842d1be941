import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KINDS } from '../../src/bus/protocol.js';
import { CLI, type Crew, FIX, isState, startCrew, streamSource, until, untilText } from './harness.js';

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

  it('regression: up and logs --strip turned ESC ( B into a stray B and dropped the spaces that column moves stand for', async () => {
    const dir = mkdtempSync('/tmp/orch-cli-');
    const file = join(dir, 'orchestra.yaml');
    writeFileSync(file, `session: strip\nstate_dir: ${join(dir, 's')}\nagents:\n  cols:\n    command: node\n    args: [${join(FIX, 'column-moves.mjs')}]\n`);
    const up = spawn(process.execPath, [CLI, 'up', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    const exited = new Promise((res) => up.on('exit', res));
    try {
      const printed = await untilText(streamSource(up.stdout), /cols \| done/, 20_000);
      // The agent's own colour stays on `up`'s lines; every other sequence goes.
      expect(printed).toContain('cols | Ab\n');
      expect(printed).toContain('cols | \x1b[31mUnable to connect to Anthropic services\x1b[39m\n');
      const logs = run(['logs', 'cols', '--strip', '--file', file]);
      expect([logs.status, logs.stdout]).toEqual([0, 'Ab\nUnable to connect to Anthropic services\ndone\n']);
    } finally {
      up.kill('SIGTERM');
      await exited;
    }
  });

  it('regression: events --kind output top took the agent top for a kind; --kind takes one value per flag or a comma list', () => {
    const dir = mkdtempSync('/tmp/orch-cli-');
    writeFileSync(join(dir, 'orchestra.yaml'), 'agents:\n  top:\n    command: top\n  w1:\n    command: sh\n');
    const ok = run(['events', '--kind', 'output', 'top', '--once'], dir);
    expect([ok.status, ok.stderr]).toEqual([0, '']);
    expect(run(['events', '-k', 'output,state', '--kind', 'exit', 'top', 'w1', '--once'], dir).status).toBe(0);
    const bad = run(['events', '--kind', 'output,bogus', 'top', '--once'], dir);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe(`orchestra: --kind expects one of ${KINDS.join(', ')}, got "bogus"\n`);
    const unknown = run(['events', '--kind', 'output', 'nosuch', '--once'], dir);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/nosuch/);
  });

  it('regression: ps showed EXIT "-" for an agent stopped on purpose and "null" after a spawn failure; it says why an agent is dead', async () => {
    crew = startCrew(`  ghost:\n    command: no-such-agent-cli\n  a:\n    command: node\n    args: [${join(FIX, 'echo-agent.mjs')}, a]\n    ready: { pattern: "a> $" }\n`);
    await until(crew.bus, isState('ghost', 'dead'));
    await until(crew.bus, isState('a', 'ready'));
    expect(run(['stop', 'a', '-f', crew.file]).status).toBe(0);
    const table = run(['ps', '-f', crew.file]);
    expect(table.status).toBe(0);
    const rows = new Map(table.stdout.trim().split('\n').map((l) => [l.split(/\s+/)[0], l] as const));
    expect(rows.get('NAME')).toMatch(/EXIT\s+QUEUED\s+WHY$/);
    expect(rows.get('ghost')).toMatch(/^ghost\s+dead\s+.*\bspawn failed\s+0\s+spawn failed; not retrying a command that cannot start \(last run: spawn failed: command not found: no-such-agent-cli\)$/);
    expect(rows.get('a')).toMatch(/^a\s+stopped\s+.*\bstopped\s+0\s+\S/);
    expect(table.stdout).not.toMatch(/\bnull\b/);
    const json = JSON.parse(run(['ps', '--json', '-f', crew.file]).stdout) as { agents: { name: string; reason: string; lastExit: { cause: string; reason: string } | null }[] };
    expect(json.agents.find((x) => x.name === 'ghost')).toMatchObject({
      reason: 'spawn failed; not retrying a command that cannot start',
      lastExit: { code: null, signal: null, cause: 'spawn-failed', reason: 'spawn failed: command not found: no-such-agent-cli' },
    });
    expect(json.agents.find((x) => x.name === 'a')?.lastExit).toMatchObject({ cause: 'stopped' });
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
