import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Crew, FIX, isState, startCrew, until } from './harness.js';

let crew: Crew | undefined;
afterEach(async () => {
  await crew?.stop();
  crew = undefined;
});

const echo = (name: string, extra = '') =>
  `  ${name}:\n    command: node\n    args: [${join(FIX, 'echo-agent.mjs')}, ${name}]\n    ready: { pattern: "${name}> $" }\n${extra}`;

describe('bus contract', () => {
  it('a late subscriber gets the current state of every agent at once (last-value replay)', async () => {
    crew = startCrew(echo('a') + echo('b') + echo('c'));
    const ready = new Set<string>();
    await until(crew.bus, (r) => {
      if (r.msg.kind === 'state' && r.msg.to === 'ready') ready.add(r.msg.agent);
      return ready.size === 3;
    });
    const late = crew.subscribe({ kinds: ['state'] });
    const states = new Map<string, string>();
    const seen = await until(late, (r) => {
      if (r.msg.kind === 'state') states.set(r.msg.agent, r.msg.to);
      return states.size === 3;
    }, 5_000);
    expect(Object.fromEntries(states)).toEqual({ a: 'ready', b: 'ready', c: 'ready' });
    expect(seen.every((r) => r.msg.replay === true && r.msg.v === 1 && typeof r.msg.run === 'string')).toBe(true);
  });

  it('the state directory (bus socket, logs) is private: mode 0700', async () => {
    crew = startCrew(echo('a'));
    await until(crew.bus, isState('a', 'ready'));
    expect(statSync(crew.stateDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(crew.stateDir, 'logs')).mode & 0o777).toBe(0o700);
  });

  it('the bus can be bound to tcp on 127.0.0.1 instead', async () => {
    const port = 20_000 + (process.pid % 20_000);
    const endpoint = `tcp://127.0.0.1:${port}`;
    crew = startCrew(echo('a'), { extra: `bus: { publish: "${endpoint}" }\n`, endpoint });
    const seen = await until(crew.bus, isState('a', 'ready'));
    expect(seen.some((r) => r.msg.kind === 'output')).toBe(true);
  });

  it('a subscription to agent "a" never matches agent "ab"', async () => {
    // ab is ready (and has written its banner) before a even starts.
    crew = startCrew(echo('ab') + echo('a', '    depends_on: [ab]\n'), { subscribe: { agents: ['a'], kinds: ['output', 'state'] } });
    crew.subscribe();
    const seen = await until(crew.bus, isState('a', 'ready'));
    crew.signal('SIGTERM');
    await until(crew.bus, isState('a', 'stopped'), 20_000, seen);
    expect(seen.some((r) => r.msg.kind === 'output')).toBe(true);
    expect(seen.filter((r) => r.msg.agent !== 'a')).toEqual([]);
  });

  it('every message carries version, run id, agent, per-topic seq and timestamp; the supervisor announces itself', async () => {
    crew = startCrew(echo('a'));
    const seen = await until(crew.bus, isState('a', 'ready'));
    const run = seen[0]?.msg.run;
    expect(run).toMatch(/^[0-9a-f]{16}$/);
    for (const r of seen) {
      expect(r.msg.v).toBe(1);
      expect(r.msg.run).toBe(run);
      expect(r.msg.seq).toBeGreaterThan(0);
      expect(Math.abs(Date.now() - r.msg.ts)).toBeLessThan(60_000);
    }
    // Published before this subscriber could connect: it arrives as a last-value replay.
    const sup = seen.find((r) => r.msg.kind === 'supervisor')?.msg;
    expect(sup?.kind === 'supervisor' && sup.event).toBe('started');
    expect(sup?.kind === 'supervisor' && sup.agents).toEqual(['a']);
    const stateSeqs = seen.filter((r) => r.msg.kind === 'state').map((r) => r.msg.seq);
    expect(stateSeqs).toEqual([1, 2]);
  });
});
