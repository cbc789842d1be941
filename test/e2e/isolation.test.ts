import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BusSubscriber } from '../../src/bus/client.js';
import { anyAlive, type Crew, eventually, FIX, type Runtime, runCli, startCrew, until } from './harness.js';

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

interface Proc {
  readonly pid: number;
  readonly sid: number;
  readonly cmdline: string;
}

/**
 * Live processes (zombies excluded) in one of the sessions `sids`, or whose environment carries
 * `ORCHESTRA_RUN=run`: what must be gone once the agents are.
 */
function leftovers(run: string, sids: number[]): Proc[] {
  const found: Proc[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      const sid = Number(fields[3]);
      const environ = readFileSync(`/proc/${e}/environ`, 'latin1').split('\0');
      if (sids.includes(sid) || environ.includes(`ORCHESTRA_RUN=${run}`)) {
        found.push({ pid: Number(e), sid, cmdline: readFileSync(`/proc/${e}/cmdline`, 'latin1').replaceAll('\0', ' ').trim() });
      }
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return found;
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

describe.each<Runtime>(['node', 'deno'])('agents are isolated from each other (supervisor under %s)', (runtime) => {
  it('an agent writing to every terminal descriptor it holds reaches no other agent, and each agent holds only its own terminal', async () => {
    const victims = ['v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7'];
    const victim = (n: string) => `  ${n}:\n    command: sh\n    args: [-c, "echo ${n}-ready; exec sleep 3001"]\n    ready: { pattern: "${n}-ready" }\n    stop: { grace: 300ms }\n`;
    // Started last, so that before the fix it inherited every other agent's terminal master.
    const thief = `  thief:\n    command: node\n    args: [${join(FIX, 'terminal-thief.mjs')}]\n    ready: { pattern: "thief> $" }\n    depends_on: [${victims.join(', ')}]\n`;
    crew = startCrew(victims.map(victim).join('') + thief, { runtime });
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

describe("stopping covers the agent's whole session and whatever carries its identity", () => {
  it('a background job typed into bash -i does not outlive down', async () => {
    crew = startCrew(
      '  shell:\n    command: bash\n    args: [--norc, --noprofile, -i]\n    env: { PS1: "shell> " }\n    ready: { pattern: "shell> $" }\n    stop: { grace: 300ms }\n',
    );
    const { pids, run } = await watch(crew.bus, (_, ready) => ready.has('shell'));
    const sent = await runCli(['send', 'shell', 'sleep 3003 &', '--file', crew.file]);
    expect(sent.stdout).toMatch(/delivered/);
    // bash announces the job as "[1] PID".
    const { text } = await watch(crew.bus, (t) => /\[1\] \d+/.test(t.get('shell') ?? ''));
    const job = Number(/\[1\] (\d+)/.exec(text.get('shell') ?? '')?.[1]);
    expect(anyAlive([job])).toBe(true);
    const sid = pids.get('shell') ?? 0;
    // Job control put the job in a process group of its own, in the shell's session.
    expect(leftovers(run, [sid]).map((p) => p.pid)).toContain(job);
    expect((await runCli(['down', '--file', crew.file])).code).toBe(0);
    expect((await crew.exited).code).toBe(0);
    expect(anyAlive([job])).toBe(false);
    expect(leftovers(run, [sid])).toEqual([]);
  }, 60_000);

  /** Starts the escapees fixture; its agent's run id, session id, setsid child and background job. */
  async function startEscapees(yaml: string) {
    const c = startCrew(yaml);
    crew = c;
    const { text, pids, run } = await watch(c.bus, (t, ready) => ready.has('esc') && /ESCAPEES \d+ \d+/.test(t.get('esc') ?? ''));
    const [setsid = 0, job = 0] = (/ESCAPEES (\d+) (\d+)/.exec(text.get('esc') ?? '') ?? []).slice(1).map(Number);
    const sid = pids.get('esc') ?? 0;
    // The fixture prints the pids right after forking: wait for both sleeps to be exec'd.
    const cmd = (pid: number) => leftovers(run, [sid]).find((p) => p.pid === pid)?.cmdline;
    await eventually(() => cmd(setsid) === 'sleep 3004' && cmd(job) === 'sleep 3003', 5_000, 'both sleeps started');
    return { crew: c, run, sid, setsid, job };
  }

  const escapees = `  esc:\n    command: bash\n    args: [${join(FIX, 'escapees.sh')}]\n    ready: { pattern: "escapees> $" }\n    stop: { grace: 300ms }\n`;

  for (const how of ['down', 'SIGINT', 'SIGTERM', 'SIGKILL'] as const) {
    it(`no process with the agent's session id or run identity survives ${how === 'down' ? 'down' : `${how} of the supervisor`} (setsid child, background job)`, async () => {
      const { crew: c, run, sid, setsid, job } = await startEscapees(escapees);
      const before = leftovers(run, [sid]);
      // The setsid child is outside the session and found only by its environment.
      expect(before.find((p) => p.pid === setsid)).toMatchObject({ cmdline: 'sleep 3004' });
      expect(before.find((p) => p.pid === setsid)?.sid).not.toBe(sid);
      expect(before.find((p) => p.pid === job)).toMatchObject({ sid, cmdline: 'sleep 3003' });
      if (how === 'down') {
        expect((await runCli(['down', '--file', c.file])).code).toBe(0);
        expect((await c.exited).code).toBe(0);
      } else {
        const { code } = await c.stop(how);
        if (how !== 'SIGKILL') expect(code).toBe(0);
      }
      if (how === 'SIGKILL') {
        // Nothing is left to verify the stop but the watchdog, which acts once orchestra is gone.
        await eventually(() => leftovers(run, [sid]).length === 0, 10_000, 'every process of the agent gone');
      } else {
        // orchestra exits only after verifying: nothing to wait for.
        expect(leftovers(run, [sid])).toEqual([]);
        const log = readFileSync(join(c.stateDir, 'orchestra.log'), 'utf8');
        expect(log).toMatch(new RegExp(`had left agent esc's session ${sid} but carry its identity: ${setsid} \\(sleep\\)`));
      }
      expect(anyAlive([setsid, job, sid])).toBe(false);
    }, 60_000);
  }

  it('a forced stop (a second Ctrl-C) kills the setsid child and the background job too', async () => {
    const { crew: c, run, sid } = await startEscapees(escapees.replace('escapees.sh]', 'escapees.sh, stubborn]').replace('grace: 300ms', 'grace: 60s'));
    c.signal('SIGINT');
    // Everything ignores SIGTERM: the graceful stop would wait its 60s grace.
    await until(c.bus, (r) => r.msg.kind === 'state' && r.msg.to === 'stopping');
    c.signal('SIGINT');
    const { code } = await c.stop();
    expect(code).toBe(130);
    await eventually(() => leftovers(run, [sid]).length === 0, 5_000, 'every process of the agent gone');
  }, 60_000);
});
