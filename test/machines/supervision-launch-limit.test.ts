import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { type Crew, type CrewEvent, type CrewSpec, initialCrew, step } from '../../src/machines/supervision.js';

/** A crew of `n` agents (a0 … a{n-1}); `deps` gives some of them dependencies. */
function spec(n: number, maxLaunching: number | undefined, deps: Record<string, string[]> = {}): CrewSpec {
  const agents = Array.from({ length: n }, (_, i) => {
    const d = deps[`a${i}`];
    return `  a${i}:\n    command: sleep\n    args: ["1000"]\n${d ? `    depends_on: ${JSON.stringify(d)}\n` : ''}`;
  }).join('');
  const config = parseConfig(`session: t\nagents:\n${agents}`, join(tmpdir(), 'orchestra-launch-limit.yaml'));
  return { agents: config.agents, strategy: 'one_for_one', budget: { maxRestarts: 5, windowMs: 60_000 }, ...(maxLaunching === undefined ? {} : { maxLaunching }) };
}

/** Drives the chart; `runs` lists the agents it told to run, in order. */
function driver(s: CrewSpec) {
  let crew: Crew = initialCrew(s);
  const runs: string[] = [];
  const send = (e: CrewEvent) => {
    const r = step(crew, e, { spec: s, now: 0, random: () => 0.5 });
    crew = r.crew;
    for (const eff of r.effects) if (eff.do === 'run') runs.push(eff.agent);
  };
  const report = (agent: string, to: 'starting' | 'ready' | 'exited') => send({ type: 'run.state', agent, to, reason: to, pid: 1 });
  return { send, report, runs, crew: () => crew };
}

describe('supervision chart: launching runs at once are bounded', () => {
  it('500 agents: only maxLaunching are told to run until their workers report; the rest follow in start order', () => {
    const d = driver(spec(500, 4));
    d.send({ type: 'start' });
    expect(d.runs).toEqual(['a0', 'a1', 'a2', 'a3']);
    d.report('a1', 'starting');
    expect(d.runs).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    for (const a of ['a0', 'a2', 'a3', 'a4']) d.report(a, 'starting');
    expect(d.runs).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8']);
    for (let i = 5; i < 500; i++) d.report(`a${i}`, 'starting');
    expect(d.runs).toHaveLength(500);
    expect(new Set(d.runs).size).toBe(500);
  });

  it('a run that fails at once frees its place as any report does', () => {
    const d = driver(spec(3, 1));
    d.send({ type: 'start' });
    d.report('a0', 'exited');
    expect(d.runs).toEqual(['a0', 'a1']);
  });

  it('dependencies still decide first: a dependent waits for its dependency to be up, not only for a place', () => {
    const d = driver(spec(3, 2, { a1: ['a0'] }));
    d.send({ type: 'start' });
    expect(d.runs).toEqual(['a0', 'a2']);
    d.report('a0', 'starting');
    d.report('a2', 'starting');
    expect(d.runs).toEqual(['a0', 'a2']);
    d.report('a0', 'ready');
    expect(d.runs).toEqual(['a0', 'a2', 'a1']);
  });

  it('without a limit every agent whose dependencies are met is told to run at once', () => {
    const d = driver(spec(50, undefined));
    d.send({ type: 'start' });
    expect(d.runs).toHaveLength(50);
  });
});
