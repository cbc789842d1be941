import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BusSubscriber } from '../../src/bus/client.js';
import { anyAlive, CLI, type Crew, eventually, FIX, isState, startCrew, streamSource, until, untilText } from './harness.js';

let crew: Crew | undefined;
afterEach(async () => {
  await crew?.stop('SIGKILL');
  crew = undefined;
});

/** A short grace: the family's grandchild ignores SIGTERM, so every stop ends in SIGKILL. */
const GRACE = '    stop: { grace: 300ms }\n';

const family = (name: string, extra = '', args = '') =>
  `  ${name}:\n    command: node\n    args: [${join(FIX, 'family.mjs')}${args}]\n    ready: { pattern: "family> $" }\n${extra}`;

/** Waits until every agent in `names` printed its FAMILY line and is ready; returns all their pids. */
async function families(bus: BusSubscriber, names: string[]): Promise<Map<string, number[]>> {
  const text = new Map<string, string>();
  const pids = new Map<string, number[]>();
  const ready = new Set<string>();
  await until(bus, (r) => {
    if (r.msg.kind === 'output') {
      const t = (text.get(r.msg.agent) ?? '') + Buffer.from(r.msg.data).toString();
      text.set(r.msg.agent, t);
      const m = /FAMILY ([\d ]+)\r?\n/.exec(t);
      if (m?.[1]) pids.set(r.msg.agent, m[1].trim().split(' ').map(Number));
    }
    if (r.msg.kind === 'state' && r.msg.to === 'ready') ready.add(r.msg.agent);
    return names.every((n) => ready.has(n) && pids.has(n));
  });
  for (const p of pids.values()) expect(p).toHaveLength(3);
  return pids;
}

describe('no process outlives its agent', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`no process of any agent survives orchestra exiting on ${signal}`, async () => {
      crew = startCrew(family('f1', GRACE) + family('f2', `    depends_on: [f1]\n${GRACE}`));
      const pids = [...(await families(crew.bus, ['f1', 'f2'])).values()].flat();
      expect(anyAlive(pids)).toBe(true);
      const { code } = await crew.stop(signal);
      expect(code).toBe(0);
      // The stop sequence verified each group empty before orchestra exited: no waiting here.
      expect(anyAlive(pids)).toBe(false);
    });
  }

  it('a hung grandchild (and a leader ignoring SIGTERM) cannot make down hang', async () => {
    crew = startCrew(family('stubborn', '    stop: { signal: SIGTERM, grace: 500ms }\n', ', stubborn'));
    const pids = (await families(crew.bus, ['stubborn'])).get('stubborn') ?? [];
    const t0 = Date.now();
    crew.signal('SIGTERM');
    const seen = await until(crew.bus, isState('stubborn', 'stopped'));
    const { code } = await crew.exited;
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(anyAlive(pids)).toBe(false);
    const stopped = seen.at(-1)?.msg;
    expect(stopped?.kind === 'state' && stopped.reason).toMatch(/SIGKILL/);
  });

  it('a second Ctrl-C forces: SIGKILL to every group at once, exit 130, nothing left', async () => {
    crew = startCrew(family('slow', '    stop: { signal: SIGTERM, grace: 60s }\n', ', stubborn'));
    const pids = (await families(crew.bus, ['slow'])).get('slow') ?? [];
    crew.signal('SIGINT');
    await until(crew.bus, isState('slow', 'stopping'));
    crew.signal('SIGINT');
    const { code } = await crew.stop();
    expect(code).toBe(130);
    expect(crew.stderr()).toMatch(/press Ctrl\+C again to force[\s\S]*forcing stop/);
    await eventually(() => !anyAlive(pids), 5_000, 'all agent processes gone');
  });

  it('after SIGKILL of the supervisor, agents and their grandchildren are killed by the reaper', async () => {
    crew = startCrew(family('f1', GRACE) + family('f2', GRACE));
    const pids = [...(await families(crew.bus, ['f1', 'f2'])).values()].flat();
    await crew.stop('SIGKILL');
    await eventually(() => !anyAlive(pids), 5_000, 'all agent processes gone');
    // The next `up` of the session explains what happened to the previous one.
    const again = spawn(process.execPath, [CLI, 'up', crew.file, '--no-output'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const stderr = await untilText(streamSource(again.stderr), /up; bus/);
    again.kill('SIGKILL');
    expect(stderr).toMatch(/note: the previous supervisor of this session \(pid \d+, run [0-9a-f]{16}, started .*\) did not shut down cleanly; the watchdog killed its agents/);
    await new Promise((r) => again.once('exit', r));
  });

  it('a crashed worker thread: the supervisor kills the orphaned group and restarts the agent', async () => {
    crew = startCrew(family('fam', `    restart: { policy: on-failure, backoff: { initial: 100ms } }\n${GRACE}`), {
      env: { ORCHESTRA_TEST_FAULT: 'worker-crash:fam' },
      subscribe: { agents: ['fam'] },
    });
    const text: string[] = [];
    const seen = await until(crew.bus, (r) => {
      if (r.msg.kind === 'output') text.push(Buffer.from(r.msg.data).toString());
      return isState('fam', 'ready')(r);
    });
    const exit = seen.find((r) => r.msg.kind === 'exit')?.msg;
    expect(exit?.kind === 'exit' && exit.cause).toBe('worker-crash');
    // The replacement worker continues the agent's output numbering: no gap, no restart at 1.
    const outputs = seen.filter((r) => r.msg.kind === 'output');
    expect(outputs.map((r) => r.msg.seq)).toEqual(outputs.map((_, i) => i + 1));
    const decision = seen.find((r) => r.msg.kind === 'restart')?.msg;
    expect(decision?.kind === 'restart' && decision.action).toBe('restart');
    // The first run's FAMILY (if it got to print) is gone; the second run is alive.
    const lines = [...text.join('').matchAll(/FAMILY ([\d ]+)\r?\n/g)].map((m) => (m[1] ?? '').trim().split(' ').map(Number));
    const firstPid = exit?.kind === 'exit' ? exit.pid : null;
    expect(firstPid).not.toBeNull();
    expect(anyAlive([firstPid ?? 0])).toBe(false);
    for (const pids of lines.slice(0, -1)) expect(anyAlive(pids)).toBe(false);
    const current = lines.at(-1) ?? [];
    expect(current).toHaveLength(3);
    expect(anyAlive(current)).toBe(true);
  });
});
