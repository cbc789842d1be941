import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BusSubscriber } from '../../src/bus/client.js';
import { type Crew, FIX, startCrew, until } from './harness.js';

let crew: Crew | undefined;
afterEach(async () => {
  await crew?.stop('SIGKILL');
  crew = undefined;
});

/** Every descriptor of `pid` that is a terminal (a master, /dev/ptmx, or a slave, /dev/pts/N). */
function terminals(pid: number): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target === '/dev/ptmx' || target.startsWith('/dev/pts/')) out.push(target);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** The run id and every agent's pid (its session id), from the bus, once `done` holds. */
async function watch(bus: BusSubscriber, done: (text: Map<string, string>, ready: Set<string>) => boolean, ms = 30_000) {
  const text = new Map<string, string>();
  const ready = new Set<string>();
  const pids = new Map<string, number>();
  let run = '';
  await until(
    bus,
    (r) => {
      run = r.msg.run;
      if (r.msg.kind === 'output') text.set(r.msg.agent, (text.get(r.msg.agent) ?? '') + Buffer.from(r.msg.data).toString());
      if (r.msg.kind === 'state' && r.msg.pid) pids.set(r.msg.agent, r.msg.pid);
      if (r.msg.kind === 'state' && r.msg.to === 'ready') ready.add(r.msg.agent);
      return done(text, ready);
    },
    ms,
  );
  return { text, pids, run };
}

describe('agents are isolated from each other', () => {
  it('an agent writing to every terminal descriptor it holds reaches no other agent, and each agent holds only its own terminal', async () => {
    const victims = ['v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7'];
    const victim = (n: string) => `  ${n}:\n    command: sh\n    args: [-c, "echo ${n}-ready; exec sleep 3001"]\n    ready: { pattern: "${n}-ready" }\n    stop: { grace: 300ms }\n`;
    // Started last, so that before the fix it inherited every other agent's terminal master.
    const thief = `  thief:\n    command: node\n    args: [${join(FIX, 'terminal-thief.mjs')}]\n    ready: { pattern: "thief> $" }\n    depends_on: [${victims.join(', ')}]\n`;
    crew = startCrew(victims.map(victim).join('') + thief);
    const all = [...victims, 'thief'];
    const { text, pids } = await watch(crew.bus, (t, ready) => all.every((a) => ready.has(a)) && /THIEF \d+/.test(t.get('thief') ?? ''), 60_000);
    // What the thief found, the other terminals each agent holds, and whose log got the marker:
    // collected in full before asserting, so a failure shows the whole leak.
    const thiefSaw = /THIEF \d+ \[[^\]]*\]/.exec(text.get('thief') ?? '')?.[0];
    const foreign = new Map<string, string[]>();
    for (const a of all) {
      const pid = pids.get(a) ?? 0;
      const own = readlinkSync(`/proc/${pid}/fd/0`);
      // node reopens its terminal for its own stdio, so the thief may hold its own more than thrice.
      const held = terminals(pid);
      expect(held).toContain(own);
      const others = held.filter((t) => t !== own);
      if (others.length > 0) foreign.set(a, others);
    }
    const { code } = await crew.stop('SIGTERM');
    expect(code).toBe(0);
    // Every byte of every run is in its log once orchestra has exited.
    const breached = victims.filter((v) => readFileSync(crew?.logFile(v) ?? '', 'utf8').includes('ISOLATION-BREACH'));
    expect({ thiefSaw, foreign: Object.fromEntries(foreign), breached }).toEqual({ thiefSaw: 'THIEF 0 []', foreign: {}, breached: [] });
  }, 90_000);
});
