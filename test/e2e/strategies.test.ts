/**
 * Group strategies with real agents: a chain a ← b ← c (c depends on b, b on a) and an unrelated x.
 * Agent b exits with code 3; the published restart decisions say who is restarted and why, and
 * every agent that was restarted is ready again afterwards.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Received } from '../../src/bus/client.js';
import type { Message } from '../../src/bus/protocol.js';
import { type Crew, FIX, isState, runCli, startCrew, until } from './harness.js';

const agent = (name: string, deps: string[] = []) =>
  `  ${name}:\n    command: node\n    args: [${join(FIX, 'echo-agent.mjs')}, ${name}]\n    ready: { pattern: "${name}> $" }\n${deps.length ? `    depends_on: [${deps.join(', ')}]\n` : ''}`;
const AGENTS = agent('a') + agent('b', ['a']) + agent('c', ['b']) + agent('x');
const defaults = 'defaults:\n  restart: { policy: always, backoff: { initial: 200ms, jitter: 0 } }\n';

let crew: Crew | undefined;
afterEach(async () => {
  await crew?.stop();
  crew = undefined;
});

type Restart = Extract<Message, { kind: 'restart' }>;

/** Adds the agent of a `ready` state message to `into` (if `when` holds for it); true for such a message. */
function isReady(r: Received, into: Set<string>, when: (agent: string) => boolean = () => true): boolean {
  if (r.msg.kind !== 'state' || r.msg.to !== 'ready' || !when(r.msg.agent)) return false;
  into.add(r.msg.agent);
  return true;
}

/** Crashes b, then waits until every agent of `restarted` is ready again; returns b's and the others' decisions. */
async function crashB(strategy: string, restarted: string[]): Promise<Restart[]> {
  crew = startCrew(AGENTS, { extra: `${defaults}supervision: { strategy: ${strategy} }\n` });
  const seen: Received[] = [];
  const ready = new Set<string>();
  await until(crew.bus, (r) => isReady(r, ready) && ready.size === 4, 20_000, seen);
  const from = seen.length;
  expect((await runCli(['send', 'b', 'exit 3', '--file', crew.file])).code).toBe(0);
  // Each agent restarted goes through restarting and is ready again; the others are left alone.
  const back = new Set<string>();
  const wentThrough = (n: string) => seen.slice(from).some(isState(n, 'restarting'));
  await until(crew.bus, (r) => isReady(r, back, wentThrough) && restarted.every((n) => back.has(n)), 20_000, seen);
  const after = seen.slice(from);
  for (const n of ['a', 'c', 'x'].filter((x) => !restarted.includes(x))) {
    expect(after.some((r) => r.msg.kind === 'state' && r.msg.agent === n), `${n} is left alone`).toBe(false);
  }
  return after.map((r) => r.msg).filter((m): m is Restart => m.kind === 'restart');
}

describe('group strategies (real agents)', () => {
  it('one_for_one: only the crashed agent is restarted', async () => {
    const decisions = await crashB('one_for_one', ['b']);
    expect(decisions.map((d) => [d.agent, d.action, d.because])).toEqual([['b', 'restart', undefined]]);
  }, 60_000);

  it('rest_for_one: the crashed agent and what depends on it (c), not what it depends on (a) or x; c is restarted because of b', async () => {
    const decisions = await crashB('rest_for_one', ['b', 'c']);
    expect(decisions.map((d) => [d.agent, d.action, d.because, d.strategy])).toEqual([
      ['b', 'restart', undefined, 'rest_for_one'],
      ['c', 'restart', 'b', 'rest_for_one'],
    ]);
  }, 60_000);

  it('one_for_all: every agent is restarted, each with the published cause', async () => {
    const decisions = await crashB('one_for_all', ['a', 'b', 'c', 'x']);
    expect(decisions.map((d) => [d.agent, d.action, d.because, d.strategy])).toEqual([
      ['b', 'restart', undefined, 'one_for_all'],
      ['a', 'restart', 'b', 'one_for_all'],
      ['c', 'restart', 'b', 'one_for_all'],
      ['x', 'restart', 'b', 'one_for_all'],
    ]);
  }, 60_000);
});
