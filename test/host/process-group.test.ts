import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { agentProcesses, killAgent, signalAgent, waitAgentGone } from '../../src/host/process-group.js';
import { type AgentIdentity, ProcessScan, scanAgents } from '../../src/host/process-scan.js';
import { Termination } from '../../src/host/termination.js';

const started: ChildProcess[] = [];
afterEach(() => {
  for (const c of started.splice(0)) c.kill('SIGKILL');
});

/** A new session (util-linux setsid execs in place: the pid is the session id), with `env` added. */
function session(script: string, env: Record<string, string> = {}): ChildProcess {
  const c = spawn('setsid', ['sh', '-c', script], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, ...env } });
  started.push(c);
  return c;
}

/** The first line the child prints (its fixture announces pids that way). */
function firstLine(c: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    c.stdout?.on('data', (d: Buffer) => {
      text += d.toString();
      const nl = text.indexOf('\n');
      if (nl >= 0) resolve(text.slice(0, nl));
    });
  });
}

const stateOf = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return 'gone';
  }
};

/** Polls /proc (the processes are not our children, no event says they changed). */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 5s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("an agent's processes", () => {
  it('a child that called setsid is found by its identity, flagged as an escapee; one of another run is not', async () => {
    const id = { run: 'run-a', agent: 'x' };
    // `setsid sleep` from a non-leader execs in place: $! is the escaped sleep.
    const leader = session('setsid sleep 3201 & echo $!; exec sleep 3200', { ORCHESTRA_RUN: 'run-a', ORCHESTRA_AGENT: 'x' });
    const escaped = Number(await firstLine(leader));
    const stranger = session('exec sleep 3202', { ORCHESTRA_RUN: 'run-b', ORCHESTRA_AGENT: 'x' });
    const sibling = session('exec sleep 3203', { ORCHESTRA_RUN: 'run-a', ORCHESTRA_AGENT: 'xy' });
    const sid = leader.pid ?? 0;
    await until(() => agentProcesses({ sid, ...id }).length === 2, 'leader and escapee seen');
    const found = agentProcesses({ sid, ...id });
    expect(found.find((p) => p.pid === sid)).toMatchObject({ escaped: false });
    expect(found.find((p) => p.pid === escaped)).toMatchObject({ escaped: true, comm: 'sleep' });
    expect(found.map((p) => p.pid)).not.toContain(stranger.pid);
    expect(found.map((p) => p.pid)).not.toContain(sibling.pid);
    // Without an identity, the session alone.
    expect(agentProcesses({ sid }).map((p) => p.pid)).toEqual([sid]);
    const { gone, escapees } = await killAgent({ sid, ...id });
    expect(gone).toBe(true);
    expect(escapees.map((p) => p.pid)).toEqual([escaped]);
    expect(stateOf(stranger.pid ?? 0)).not.toMatch(/^(Z|gone)$/);
  });

  it('a stop signalled right after the fork, before the child called setsid, finds the leader (it found nothing and the stop was lost)', async () => {
    // A child of ours still in our session: what node-pty's child is between fork and setsid.
    const child = spawn('sleep', ['3205'], { stdio: 'ignore' });
    started.push(child);
    const sid = child.pid ?? 0;
    await until(() => stateOf(sid) === 'S', 'the child runs');
    // Once its spawner has reaped it, a pid of our child's is not taken for the agent's: it may be reused.
    expect(agentProcesses({ sid, leaderUnreaped: () => false }).map((p) => p.pid)).toEqual([]);
    const id = { sid, leaderUnreaped: () => true };
    expect(agentProcesses(id).map((p) => p.pid)).toEqual([sid]);
    expect((await signalAgent(id, 'SIGTERM')).map((p) => p.pid)).toEqual([sid]);
    expect(await waitAgentGone(id, 1000)).toBe(true);
  });

  it('a zombie in the session does not count as alive', async () => {
    // The shell forks a child, then becomes `sleep`, which never reaps it: a zombie in the session.
    // The child exits only once the shell is `sleep` (the shell could reap one that ended earlier).
    const leader = session('( while [ "$(cat /proc/$$/comm)" != sleep ]; do sleep 0.01; done ) & echo $!; exec sleep 3204');
    const zombie = Number(await firstLine(leader));
    const sid = leader.pid ?? 0;
    await until(() => stateOf(zombie) === 'Z', 'the child is a zombie');
    expect(agentProcesses({ sid }).map((p) => p.pid)).toEqual([sid]);
    expect((await signalAgent({ sid }, 'SIGTERM')).map((p) => p.pid)).toEqual([sid]);
    expect(await waitAgentGone({ sid }, 1000)).toBe(true);
  });
});

describe('one /proc pass for many agents', () => {
  it('one pass finds each agent its own session and escapees, not another agent\'s', async () => {
    const env = (agent: string) => ({ ORCHESTRA_RUN: 'run-m', ORCHESTRA_AGENT: agent });
    const a = session('setsid sleep 3211 & echo $!; exec sleep 3210', env('a'));
    const b = session('setsid sleep 3213 & echo $!; exec sleep 3212', env('ab'));
    const [escA, escB] = (await Promise.all([firstLine(a), firstLine(b)])).map(Number);
    const ids = [{ sid: a.pid ?? 0, run: 'run-m', agent: 'a' }, { sid: b.pid ?? 0, run: 'run-m', agent: 'ab' }, { sid: a.pid ?? 0 }];
    await until(() => scanAgents(ids).every((f, i) => f.length === (i < 2 ? 2 : 1)), 'both leaders and escapees seen');
    const [foundA, foundB, sessionA] = scanAgents(ids).map((f) => f.map((p) => `${p.pid}${p.escaped ? ' escaped' : ''}`).sort());
    expect(foundA).toEqual([`${a.pid}`, `${escA} escaped`].sort());
    expect(foundB).toEqual([`${b.pid}`, `${escB} escaped`].sort());
    expect(sessionA).toEqual([`${a.pid}`]);
    await Promise.all(ids.slice(0, 2).map((id) => killAgent(id)));
  });

  it('K agents stopping at once share each pass: passes do not grow with K (500 stops, each scanning every poll, wedged the supervisor)', async () => {
    const K = 24;
    const leaders = Array.from({ length: K }, (_, i) => session(`exec sleep ${3220 + i}`, { ORCHESTRA_RUN: 'run-k', ORCHESTRA_AGENT: `k${i}` }));
    const ids = leaders.map((c, i) => ({ sid: c.pid ?? 0, run: 'run-k', agent: `k${i}` }));
    await until(() => scanAgents(ids).every((f) => f.length === 1), 'every agent runs');
    let passes = 0;
    let widest = 0;
    const scan = new ProcessScan((q: readonly AgentIdentity[]) => {
      passes++;
      widest = Math.max(widest, q.length);
      return scanAgents(q);
    });
    const results = await Promise.all(ids.map((id) => new Termination(id, { signal: 'SIGTERM', graceMs: 10_000 }, scan).stop()));
    expect(results.map((r) => r.outcome)).toEqual(Array(K).fill('signalled'));
    // One stop alone takes a pass to signal and one per poll until its agent is gone (a few, as
    // SIGTERM ends sleep at once); K stops each on their own took at least 2K.
    expect(passes).toBeLessThan(K / 2);
    expect(widest).toBe(K);
  });
});
