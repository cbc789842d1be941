/**
 * An agent's processes, and the primitives that end them (termination.ts is the one sequence
 * every stop path runs; the watchdog in reaper.ts applies the same rules in sh):
 *
 * - every live process of the agent's **session**: node-pty makes the agent's first process a
 *   session leader, so the session id is its pid. Job control moves background jobs of an
 *   interactive shell into groups of their own, but they stay in the session;
 * - every live process outside it whose environment carries the agent's identity
 *   (`ORCHESTRA_RUN` and `ORCHESTRA_AGENT`, set by orchestra): children that called `setsid` or
 *   daemonized. Such an escapee is reported so the caller can name it.
 *
 * A process that changes both its session and its environment is not found (see docs/lifecycle.md).
 * Linux only: elsewhere the agent's process group is all there is.
 */
import { constants } from 'node:os';
import { KILL_VERIFY_MS } from '../machines/agent.js';
import { type AgentIdentity, type AgentProcess, isLive, type ProcessSource, readStat, sharedScan } from './process-scan.js';

export { type AgentIdentity, type AgentProcess, agentProcesses, isLive, type ProcessSource, readStat } from './process-scan.js';

function kill(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    // EPERM: it exists, but is not ours to signal.
    if (code === 'EPERM') return true;
    throw err;
  }
}

/** kill(-0) and kill(-1) mean "our own group" and "everyone": never an agent's session. */
function checkSid(id: AgentIdentity): void {
  if (!Number.isInteger(id.sid) || id.sid <= 1) throw new Error(`not an agent's session id: ${id.sid}`);
}

/** Sends `signal` to every process of the agent; resolves with those it found. */
export async function signalAgent(id: AgentIdentity, signal: NodeJS.Signals, source: ProcessSource = sharedScan): Promise<AgentProcess[]> {
  checkSid(id);
  const found = await source.processes(id);
  // The leader's group in one call: a child forked there since the scan gets it as well. The rest
  // one by one, each once (an agent may count signals: a second SIGINT often means "quit now").
  kill(-id.sid, signal);
  for (const p of found) if (p.pgid !== id.sid) kill(p.pid, signal);
  // Without /proc the scan cannot see a leader that has not made its session yet; while it is
  // unreaped its pid is still the agent's. (Not counted as found: it may be a zombie.)
  if (id.leaderUnreaped?.() === true && !found.some((p) => p.pid === id.sid)) kill(id.sid, signal);
  return found;
}

/** Resolves after `ms`, or as soon as `abort` fires or `early` settles. */
export function pause(ms: number, abort?: AbortSignal, early?: Promise<unknown>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      abort?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    abort?.addEventListener('abort', done);
    if (abort?.aborted) done();
    early?.then(done, done);
  });
}

/**
 * Poll intervals: quick at first (most agents go within milliseconds of the signal), then backing
 * off, because a scan reads every process's stat and environ (~30-40 µs a process on 2 cores; one
 * scan serves every agent stopping at once, see process-scan.ts).
 */
function* pollDelays(): Generator<number> {
  for (let ms = 10; ; ms = Math.min(250, Math.round(ms * 1.5))) yield ms;
}

/**
 * Polls until the agent has no live process (true), or `timeoutMs` passes or `abort` fires (false).
 * There is no event for "these processes are gone" (they need not be our children), so polling is
 * the honest way.
 */
export async function waitAgentGone(id: AgentIdentity, timeoutMs: number, abort?: AbortSignal, source: ProcessSource = sharedScan): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const delays = pollDelays();
  while ((await source.processes(id)).length > 0) {
    const left = deadline - Date.now();
    if (left <= 0 || abort?.aborted) return false;
    await pause(Math.min(left, delays.next().value ?? 250), abort);
  }
  return true;
}

/** Escapees seen, once each, in the order found. */
export class Escapees {
  private readonly seen = new Map<number, AgentProcess>();
  add(found: AgentProcess[]): void {
    for (const p of found) if (p.escaped && !this.seen.has(p.pid)) this.seen.set(p.pid, p);
  }
  get list(): AgentProcess[] {
    return [...this.seen.values()];
  }
}

interface KillResult {
  /** False when the first round found no process: there was nothing left to kill. */
  readonly found: boolean;
  /** True once no live process of the agent remains. */
  readonly gone: boolean;
  /** Processes that had left the session and were signalled because they carry the identity. */
  readonly escapees: AgentProcess[];
}

/**
 * SIGKILL to the leader's group at once (before this returns its promise: the caller may be about
 * to lose its thread), to every process of the agent once a scan has found them, then again to
 * whatever appears (a fork racing the first round) until none is left or `timeoutMs` passes.
 */
export function killAgent(id: AgentIdentity, timeoutMs = KILL_VERIFY_MS, source: ProcessSource = sharedScan): Promise<KillResult> {
  try {
    checkSid(id);
  } catch (err) {
    return Promise.reject(err);
  }
  const leader = readStat(id.sid);
  const leaderLive = isLive(leader) && (leader.sid === id.sid || (leader.ppid === process.pid && id.leaderUnreaped?.() === true));
  kill(-id.sid, 'SIGKILL');
  if (id.leaderUnreaped?.() === true) kill(id.sid, 'SIGKILL');
  const escapees = new Escapees();
  const deadline = Date.now() + timeoutMs;
  const delays = pollDelays();
  return (async () => {
    const first = await signalAgent(id, 'SIGKILL', source);
    escapees.add(first);
    const found = leaderLive || first.length > 0;
    for (;;) {
      await pause(delays.next().value ?? 250);
      const left = await signalAgent(id, 'SIGKILL', source);
      escapees.add(left);
      if (left.length === 0) return { found, gone: true, escapees: escapees.list };
      if (Date.now() >= deadline) return { found, gone: false, escapees: escapees.list };
    }
  })();
}

/** "1234 (sleep), 1240 (node)": for log lines that name processes. */
export function describeProcesses(ps: readonly AgentProcess[]): string {
  return ps.map((p) => `${p.pid} (${p.comm})`).join(', ');
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, num]) => [num, name]));

/** node-pty reports signals as numbers; the bus and logs use names. */
export function signalName(num: number | undefined): string | null {
  if (!num) return null;
  return SIGNAL_NAMES.get(num) ?? `SIG${num}`;
}
