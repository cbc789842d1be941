/**
 * Live reconfiguration: the running crew takes a changed config (`orchestra reload`, `orchestra up`
 * on a running session, SIGHUP to a daemon): new agents start, removed ones stop, changed ones and
 * what depends on them are recreated, the rest keep their process.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { type Crew, eventually, isState, runCli, startCrew, until } from './harness.js';

const agent = (name: string, word = 'ready', deps: string[] = []) =>
  `  ${name}:\n    command: sh\n    args: [-c, "echo ${word}; exec sleep 1000"]\n    ready: { pattern: "${word}" }\n    stop: { grace: 1s }\n${deps.length ? `    depends_on: [${deps.join(', ')}]\n` : ''}`;

async function pids(crew: Crew): Promise<Record<string, number | null>> {
  const ps = await runCli(['ps', '--json', '-f', crew.file]);
  return Object.fromEntries((JSON.parse(ps.stdout) as { agents: { name: string; pid: number | null }[] }).agents.map((a) => [a.name, a.pid]));
}

/** Waits until each of `names` has been seen ready (in any order). */
function allReady(crew: Crew, names: string[]): Promise<unknown> {
  const left = new Set(names);
  return until(crew.bus, (r) => r.msg.kind === 'state' && r.msg.to === 'ready' && left.delete(r.msg.agent) && left.size === 0);
}

/** The crew's config file with its `agents:` block replaced. */
function rewrite(crew: Crew, agents: string): void {
  const text = readFileSync(crew.file, 'utf8');
  writeFileSync(crew.file, `${text.slice(0, text.indexOf('agents:\n'))}agents:\n${agents}`);
}

describe('live reconfiguration', () => {
  let crew: Crew | undefined;
  afterEach(async () => {
    await crew?.stop('SIGKILL');
    crew = undefined;
  });

  it('reload: a new agent is created, a removed one removed, a changed one and its dependents recreated, the rest untouched; it says so per agent', async () => {
    crew = startCrew(agent('db') + agent('api', 'ready', ['db']) + agent('lone') + agent('old'));
    await allReady(crew, ['db', 'api', 'lone', 'old']);
    const before = await pids(crew);
    rewrite(crew, agent('db', 'set') + agent('api', 'ready', ['db']) + agent('lone') + agent('fresh'));
    const r = await runCli(['reload', '-f', crew.file]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(['db     Recreated (its settings changed)', 'api    Recreated (db, which it depends on, is recreated)', 'lone   Running', 'fresh  Created', 'old    Removed', ''].join('\n'));
    expect(r.code).toBe(0);
    await allReady(crew, ['db', 'api', 'fresh']);
    const after = await pids(crew);
    expect(Object.keys(after).sort()).toEqual(['api', 'db', 'fresh', 'lone']);
    expect(after.lone).toBe(before.lone);
    expect(after.db).not.toBe(before.db);
    expect(after.api).not.toBe(before.api);
    // An unchanged config changes nothing.
    expect((await runCli(['reload', '-f', crew.file])).stdout).toBe(['db     Running', 'api    Running', 'lone   Running', 'fresh  Running', ''].join('\n'));
  });

  it('orchestra up on a running session applies the config; a broken config changes nothing and says why', async () => {
    crew = startCrew(agent('a'));
    await until(crew.bus, isState('a', 'ready'));
    rewrite(crew, agent('a') + agent('b'));
    const up = await runCli(['up', '-f', crew.file]);
    expect(up.stderr).toMatch(/^orchestra: the session runs \(pid \d+\): applying the config to it\n$/);
    expect(up.stdout).toBe('a  Running\nb  Created\n');
    await until(crew.bus, isState('b', 'ready'));
    rewrite(crew, `${agent('a')}  b:\n    comand: sh\n`);
    const bad = await runCli(['reload', '-f', crew.file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/agents\.b/);
    rewrite(crew, agent('a') + agent('b'));
    expect(Object.keys(await pids(crew)).sort()).toEqual(['a', 'b']);
  });

  it('SIGHUP to a daemon (no terminal) reloads its config files', async () => {
    crew = startCrew(agent('a'), { env: { ORCHESTRA_DETACHED: '1' } });
    await until(crew.bus, isState('a', 'ready'));
    rewrite(crew, agent('a') + agent('b'));
    crew.signal('SIGHUP');
    await until(crew.bus, isState('b', 'ready'));
    expect((await pids(crew)).a).toBeTypeOf('number');
    await eventually(() => /reload on SIGHUP/.test(readFileSync(`${crew!.stateDir}/orchestra.log`, 'utf8')));
  });
});
