import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KINDS } from '../../src/bus/protocol.js';
import { readFileSync } from 'node:fs';
import { CLI, type Crew, FIX, isState, runCli, startCrew, streamSource, until, untilText } from './harness.js';

const run = (args: string[], cwd?: string, env: Record<string, string> = {}) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd, env: { ...process.env, NO_COLOR: '1', ...env } });

/** A config in a directory of its own (state dir inside it), and a registry dir of its own for `ls`. */
function project(agents: string, session = 'proj'): { dir: string; file: string; env: Record<string, string> } {
  const dir = mkdtempSync('/tmp/orch-cli-');
  const file = join(dir, 'orchestra.yaml');
  writeFileSync(file, `session: ${session}\nstate_dir: ${join(dir, 's')}\nagents:\n${agents}`);
  return { dir, file, env: { XDG_RUNTIME_DIR: dir } };
}

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

  it('a second up for the same session applies the config to it instead of starting another supervisor', async () => {
    crew = startCrew(`  a:\n    command: node\n    args: [${join(FIX, 'echo-agent.mjs')}, a]\n    ready: { pattern: "a> $" }\n`);
    await until(crew.bus, isState('a', 'ready'));
    const r = run(['up', crew.file]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(`orchestra: the session runs (pid ${crew.proc.pid}): applying the config to it\n`);
    expect(r.stdout).toBe('a  Running\n');
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
    expect(rows.get('NAME')).toMatch(/EXIT\s+QUEUED\s+ROLE\s+WHY$/);
    expect(rows.get('ghost')).toMatch(/^ghost\s+dead\s+.*\bspawn failed\s+0\s+crew\s+spawn failed; not retrying a command that cannot start \(last run: spawn failed: command not found: no-such-agent-cli\)$/);
    expect(rows.get('a')).toMatch(/^a\s+stopped\s+.*\bstopped\s+0\s+crew\s+\S/);
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

  it('regression: "command: sleep 3607" validated and then died at spawn; validate, up and up -d refuse it with the args to write instead', () => {
    const dir = mkdtempSync('/tmp/orch-cli-');
    writeFileSync(join(dir, 'orchestra.yaml'), 'agents:\n  a:\n    command: sleep 3607\n');
    const said = 'orchestra.yaml:3:14: agents.a.command: "sleep 3607" is neither a program on PATH nor a file: the command is one program and its arguments go in `args`; did you mean command: sleep, args: ["3607"]?\n';
    for (const args of [['validate'], ['up'], ['up', '-d']]) {
      const r = run(args, dir);
      expect([args, r.status, r.stderr]).toEqual([args, 2, said]);
    }
  });

  it('validate resolves every command on PATH, as up will (a preset CLI not installed is doctor\'s business)', () => {
    const dir = mkdtempSync('/tmp/orch-cli-');
    writeFileSync(join(dir, 'orchestra.yaml'), 'agents:\n  a:\n    command: no-such-agent-cli\n  b:\n    command: ./missing.sh\n  c:\n    command: sh\n');
    const r = run(['validate'], dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      'orchestra.yaml:3:14: agents.a.command: no program "no-such-agent-cli" on PATH: the agent would not start\n' +
        `orchestra.yaml:5:14: agents.b.command: no executable file "./missing.sh" (from ${dir}): the agent would not start\n`,
    );
  });

  it('up -d with a command not on PATH exits 1 saying so (validate would have refused it)', async () => {
    const p = project('  ghost:\n    command: no-such-agent-cli\n');
    const up = await runCli(['up', '-d', '-f', p.file], { env: p.env });
    run(['down', '-f', p.file]);
    const pid = Number(/pid (\d+)/.exec(up.stderr)?.[1]);
    expect([up.code, up.stderr]).toEqual([
      1,
      `orchestra: session "proj" is up (pid ${pid}), but not every agent is ready: ghost dead (spawn failed; not retrying a command that cannot start; last run: spawn failed: command not found: no-such-agent-cli); see orchestra ps -f ${p.file}\n`,
    ]);
  });

  it('with nothing running: ps --json prints an empty crew (exit 0), down is a note (exit 0), stop is an error (exit 1)', () => {
    const p = project('  a:\n    command: sh\n');
    const ps = run(['ps', '--json', '-f', p.file]);
    expect([ps.status, ps.stdout, ps.stderr]).toEqual([0, '{"session":"proj","pid":null,"run":null,"agents":[]}\n', '']);
    const down = run(['-f', p.file, 'down']);
    expect([down.status, down.stdout, down.stderr]).toEqual([0, 'session "proj" is not running: nothing to stop\n', '']);
    const stop = run(['stop', '-f', p.file]);
    expect([stop.status, stop.stderr]).toEqual([1, `orchestra: nothing is running for session "proj" (config ${p.file}); start it with: orchestra up -d ${p.file}\n`]);
  });

  it('completion: bash and zsh scripts complete commands and agent names; another shell is a usage error', () => {
    const p = project('  alpha:\n    command: sh\n  beta:\n    command: sh\n');
    const bash = run(['completion', 'bash']);
    expect(bash.status).toBe(0);
    expect(bash.stdout).toContain('complete -F _orchestra orchestra\n');
    expect(bash.stdout).toMatch(/compgen -W "up ps logs attach send reload spawn session worktrees task tasks interrupt escape stop start restart events down validate config schema ls completion doctor provider/);
    expect(bash.stdout).not.toContain('__agents"');
    const zsh = run(['completion', 'zsh']);
    expect(zsh.stdout).toContain('bashcompinit');
    expect(zsh.stdout).toContain('complete -F _orchestra orchestra\n');
    // Nothing running: the config's agents.
    expect(run(['-f', p.file, '__agents']).stdout).toBe('alpha\nbeta\n');
    const fish = run(['completion', 'fish']);
    expect([fish.status, fish.stderr]).toEqual([2, 'orchestra: completion expects bash or zsh, got "fish"\n']);
  });

  it('config prints the resolved config as YAML (or --json), the override file beside orchestra.yaml merged in', () => {
    const p = project('  a:\n    command: sh\n    args: [-c, base]\n');
    writeFileSync(join(p.dir, 'orchestra.override.yaml'), 'agents:\n  a:\n    args: [-c, override]\n');
    const yaml = run(['config'], p.dir);
    expect(yaml.status).toBe(0);
    expect(yaml.stdout).toMatch(/^file: .*orchestra\.yaml\nsession: proj\n/);
    expect(yaml.stdout).toContain('    args:\n      - -c\n      - override\n');
    const json = JSON.parse(run(['config', '--json'], p.dir).stdout) as { agents: { name: string; args: string[]; readyTimeoutMs: number }[] };
    expect(json.agents[0]).toMatchObject({ name: 'a', args: ['-c', 'override'], readyTimeoutMs: 60_000 });
    // Given files replace the defaults: no override then.
    expect(JSON.parse(run(['config', '--json', '-f', p.file]).stdout).agents[0].args).toEqual(['-c', 'base']);
    const broken = run(['config', '-f', p.file, '-f', join(p.dir, 'orchestra.override.yaml'), '-f', join(p.dir, 'nope.yaml')]);
    expect([broken.status, broken.stderr]).toEqual([2, `${join(p.dir, 'nope.yaml')}: cannot read config: no such file\n`]);
  });

  it('schema prints the JSON Schema that is shipped in schema/orchestra.schema.json', () => {
    const r = run(['schema']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(readFileSync(join(FIX, '../../schema/orchestra.schema.json'), 'utf8')));
  });

  it('regression: up -d exited 0 with an agent dead and its dependent waiting for ever; now exit 1 naming both, the dependent blocked in ps and in up\'s output; ls, logs of all agents, down twice', async () => {
    const p = project(
      '  early:\n    command: sh\n    args: [-c, "echo early-bird; exit 3"]\n    restart: no\n' +
        '  late:\n    command: sh\n    depends_on: [early]\n' +
        `  ok:\n    command: node\n    args: [${join(FIX, 'echo-agent.mjs')}, ok]\n    ready: { pattern: "ok> $" }\n`,
    );
    const up = await runCli(['up', '-d', '-f', p.file], { env: p.env });
    const pid = Number(/pid (\d+)/.exec(up.stderr)?.[1]);
    expect([up.code, up.stderr]).toEqual([
      1,
      `orchestra: session "proj" is up (pid ${pid}), but not every agent is ready: early dead (exit code 3; restart policy is "no"); late blocked (waiting for dependency early, which is dead); see orchestra ps -f ${p.file}\n`,
    ]);
    try {
      const ps = run(['ps', '-f', p.file]);
      const late = ps.stdout.split('\n').find((l) => l.startsWith('late'));
      expect(late).toMatch(/^late\s+blocked\s+-\s+-\s+0\s+-\s+-\s+0\s+crew\s+waiting for dependency early, which is dead$/);
      expect(readFileSync(join(p.dir, 's', 'up.log'), 'utf8')).toContain('late  | new -> blocked (waiting for dependency early, which is dead)\n');
      const ls = run(['ls'], undefined, p.env);
      expect(ls.status).toBe(0);
      expect(ls.stdout).toMatch(new RegExp(`^NAME\\s+CONFIG\\s+PID\\s+AGENTS\\s+UPTIME\\nproj\\s+${p.file}\\s+${pid}\\s+3\\s+\\d+s\\n$`));
      expect(JSON.parse(run(['ls', '--json'], undefined, p.env).stdout)).toMatchObject([{ session: 'proj', pid, agents: ['early', 'late', 'ok'] }]);
      const all = run(['logs', '--file', p.file]);
      expect(all.status).toBe(0);
      expect(all.stdout).toContain('early | early-bird\n');
      expect(all.stdout).toMatch(/^ok    \| ok> /m);
      const since = run(['logs', '--since', '1ms', '--file', p.file]);
      expect(since.stdout).toBe('');
    } finally {
      const down = run(['down', '-f', p.file]);
      expect([down.status, down.stdout]).toEqual([0, 'session "proj" is down\n']);
    }
    expect(run(['down', '-f', p.file]).stdout).toBe('session "proj" is not running: nothing to stop\n');
    expect(run(['ls'], undefined, p.env).stdout).toBe('NAME  CONFIG  PID  AGENTS  UPTIME\n');
  });

  it('up NAME starts only that agent and its dependencies (-f after the command); stop and restart without names mean all', async () => {
    const echo = (n: string, deps = '') => `  ${n}:\n    command: node\n    args: [${join(FIX, 'echo-agent.mjs')}, ${n}]\n    ready: { pattern: "${n}> $" }\n${deps}`;
    const p = project(echo('db') + echo('api', '    depends_on: [db]\n') + echo('extra'));
    const up = await runCli(['up', '-d', 'api', '-f', p.file], { env: p.env });
    try {
      expect(up.code).toBe(0);
      expect(up.stderr).toMatch(/^orchestra: session "proj" up in the background \(pid \d+\): db ready, api ready\n/);
      const names = (JSON.parse(run(['ps', '--json', '-f', p.file]).stdout) as { agents: { name: string }[] }).agents.map((a) => a.name);
      expect(names).toEqual(['db', 'api']);
      // Completion offers the running session's agents, not every agent of the config.
      expect(run(['__agents', '-f', p.file]).stdout).toBe('db\napi\n');
      const stop = await runCli(['stop', '-f', p.file]);
      expect([stop.code, stop.stdout]).toEqual([0, 'api: stopped\ndb: stopped\n']);
      const restart = await runCli(['restart', '-f', p.file]);
      expect(restart.code).toBe(0);
      expect(restart.stdout).toMatch(/^db: (starting|ready)\napi: (starting|ready)\n$/);
    } finally {
      run(['down', '-f', p.file]);
    }
    const bad = run(['up', 'nosuch', '-f', p.file]);
    expect([bad.status, bad.stderr]).toEqual([2, `orchestra: no agent named "nosuch" in ${p.file} (agents: db, api, extra)\n`]);
  });

  it('logs -f without an agent follows every agent interleaved, each line prefixed, -t with the time it was output', async () => {
    crew = startCrew(`  tick:\n    command: node\n    args: [${join(FIX, 'worker-agent.mjs')}, "100"]\n  tock:\n    command: node\n    args: [${join(FIX, 'worker-agent.mjs')}, "150"]\n`);
    await until(crew.bus, isState('tock', 'starting'));
    const logs = spawn(process.execPath, [CLI, 'logs', '-f', '-t', '-n', '0', '--file', crew.file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    const exited = new Promise<number | null>((res) => logs.on('exit', res));
    try {
      const text = await untilText(streamSource(logs.stdout), /tick \| \S+ tick: task \d+ step 3\/3\n[^]*tock \| \S+ tock: task \d+ step 3\/3\n/, 20_000);
      for (const line of text.trimEnd().split('\n')) expect(line).toMatch(/^(tick|tock) \| \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (tick|tock): task \d+ step \d\/3$/);
    } finally {
      logs.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  });
});
