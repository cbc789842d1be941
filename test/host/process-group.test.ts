import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { agentProcesses, killAgent, signalAgent, waitAgentGone } from '../../src/host/process-group.js';

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
    expect(signalAgent(id, 'SIGTERM').map((p) => p.pid)).toEqual([sid]);
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
    expect(signalAgent({ sid }, 'SIGTERM').map((p) => p.pid)).toEqual([sid]);
    expect(await waitAgentGone({ sid }, 1000)).toBe(true);
  });
});
