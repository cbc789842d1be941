import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { agentProcesses, killAgent } from '../../src/host/process-group.js';
import { Termination } from '../../src/host/termination.js';

const FAMILY = resolve(import.meta.dirname, '../fixtures/family.mjs');
/** Far longer than any of these tests may take: a sequence that waited it out would time out the test. */
const LONG = { signal: 'SIGTERM' as const, graceMs: 120_000 };

const started: ChildProcess[] = [];
// A failed test may leave a family behind: end each session's processes, not only its leader.
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => killAgent({ sid: c.pid ?? 0 })));
});

/** An agent stand-in: a new session (util-linux setsid execs in place, so the pid is the session id). */
function session(args: string[], stdin: 'ignore' | 'pipe' = 'ignore') {
  const child = spawn('setsid', args, { stdio: [stdin, 'pipe', 'ignore'] });
  started.push(child);
  let out = '';
  const waiting: { text: string; resolve: (out: string) => void }[] = [];
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiting.filter((w) => out.includes(w.text))) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve(out);
    }
  });
  const closed = once(child.stdout ?? child, 'close');
  return {
    child,
    sid: child.pid ?? 0,
    /** The output so far, once it contains `text` (the fixtures announce what they do). */
    printed: (text: string) => new Promise<string>((res) => (out.includes(text) ? res(out) : waiting.push({ text, resolve: res }))),
    /** Everything printed, once nothing holds its stdout any more. */
    output: async () => {
      await closed;
      return out;
    },
  };
}

/** family.mjs ignoring SIGTERM, and its children (one ignores SIGTERM, one does not). */
async function stubbornFamily() {
  const s = session([process.execPath, FAMILY, 'stubborn']);
  const pids = /FAMILY ([\d ]+)\n/.exec(await s.printed('family> '))?.[1]?.split(' ').map(Number) ?? [];
  expect(pids).toHaveLength(3);
  return { ...s, pids };
}

const count = (text: string, what: string) => text.split(what).length - 1;

describe('the termination sequence', () => {
  it('a force during the grace period SIGKILLs at once instead of waiting for the grace to end', async () => {
    const family = await stubbornFamily();
    const t = new Termination({ sid: family.sid }, LONG);
    const stopping = t.stop();
    await family.printed('ignoring SIGTERM');
    expect(t.force('stop deadline')).toBe(stopping);
    expect(await stopping).toEqual({ outcome: 'killed', escapees: [], forced: 'stop deadline' });
    expect(agentProcesses({ sid: family.sid })).toEqual([]);
  }, 10_000);

  it('a second stop returns the sequence under way: the signal is sent once', async () => {
    const family = await stubbornFamily();
    const t = new Termination({ sid: family.sid }, { signal: 'SIGTERM', graceMs: 300 });
    const stopping = t.stop();
    expect(t.stop()).toBe(stopping);
    expect(await stopping).toMatchObject({ outcome: 'killed', forced: undefined });
    expect(t.stop()).toBe(stopping);
    expect(count(await family.output(), 'ignoring SIGTERM')).toBe(1);
  });

  it('forced before any stop: SIGKILL and verify only, never the stop signal', async () => {
    const family = await stubbornFamily();
    const t = new Termination({ sid: family.sid }, LONG);
    const forced = t.force('worker crash');
    expect(t.stop()).toBe(forced);
    expect(await forced).toMatchObject({ outcome: 'killed', forced: 'worker crash' });
    expect(agentProcesses({ sid: family.sid })).toEqual([]);
    expect(count(await family.output(), 'ignoring SIGTERM')).toBe(0);
  }, 10_000);

  it("the keys step ends at the leader's exit, not at the end of the grace period; what it left is signalled", async () => {
    // The leader leaves a child behind and exits when a line is typed.
    const s = session(['sh', '-c', 'sleep 3310 & echo "child $!"; read line; exit 0'], 'pipe');
    const child = Number(/child (\d+)/.exec(await s.printed('\n'))?.[1]);
    const t = new Termination({ sid: s.sid }, LONG);
    let typed = 0;
    const result = await t.stop({
      type: () => {
        typed++;
        s.child.stdin?.write('\n');
      },
      leaderExit: once(s.child, 'exit'),
    });
    expect(typed).toBe(1);
    expect(result).toEqual({ outcome: 'signalled', escapees: [], forced: undefined });
    expect(agentProcesses({ sid: s.sid }).map((p) => p.pid)).not.toContain(child);
  }, 10_000);

  it("started after the leader's own exit, it begins at the signal; with nothing left it says the agent exited", async () => {
    const s = session(['sh', '-c', 'sleep 3311 & exit 0']);
    await once(s.child, 'exit');
    const t = new Termination({ sid: s.sid }, LONG);
    expect(await t.stop()).toMatchObject({ outcome: 'signalled' });
    expect(agentProcesses({ sid: s.sid })).toEqual([]);
    expect(await new Termination({ sid: s.sid }, LONG).stop()).toMatchObject({ outcome: 'exited' });
  }, 10_000);
});
