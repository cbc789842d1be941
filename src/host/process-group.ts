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
import { readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { KILL_VERIFY_MS } from '../machines/agent.js';

/** Who an agent's processes are. */
export interface AgentIdentity {
  /** The session id: the pid of the agent's first process. */
  readonly sid: number;
  /** `ORCHESTRA_RUN` and `ORCHESTRA_AGENT` as set for the agent; without them, the session alone. */
  readonly run?: string | undefined;
  readonly agent?: string | undefined;
  /**
   * True while the leader is our child and not yet reaped (only its spawner knows). Then the pid
   * is the agent's even before the child has called setsid; after the reap it may be reused.
   */
  readonly leaderUnreaped?: () => boolean;
}

export interface AgentProcess {
  readonly pid: number;
  /** Its process group. */
  readonly pgid: number;
  /** The command name from /proc/PID/stat. */
  readonly comm: string;
  /** Outside the agent's session, found by its environment. */
  readonly escaped: boolean;
}

const LINUX = process.platform === 'linux';

/** `NAME=value` as a whole entry of a NUL-separated environment block. */
function hasEntry(environ: Buffer, entry: Buffer): boolean {
  for (let at = environ.indexOf(entry); at !== -1; at = environ.indexOf(entry, at + 1)) {
    if ((at === 0 || environ[at - 1] === 0) && (at + entry.length === environ.length || environ[at + entry.length] === 0)) return true;
  }
  return false;
}

/** What /proc/PID/stat says of a process; undefined once it is gone (or elsewhere than Linux). */
interface ProcStat {
  /** One letter: R, S, D, Z (zombie), X (dead), … */
  readonly state: string;
  readonly ppid: number;
  readonly pgid: number;
  readonly sid: number;
  readonly comm: string;
}

export function readStat(pid: number | string): ProcStat | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined; // gone (or no /proc)
  }
  // "pid (comm) state ppid pgrp session ..." — comm may contain spaces and parentheses.
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  return { state: fields[0] ?? '', ppid: Number(fields[1]), pgid: Number(fields[2]), sid: Number(fields[3]), comm: stat.slice(stat.indexOf('(') + 1, close) };
}

/** A zombie (exited, waiting for its parent to reap it) or a dead process runs nothing. */
export const isLive = (s: ProcStat | undefined): s is ProcStat => s !== undefined && s.state !== 'Z' && s.state !== 'X';

/** The agent's live processes, from /proc. Zombies do not count: they run nothing. */
export function agentProcesses(id: AgentIdentity): AgentProcess[] {
  if (!LINUX) return groupAlive(id.sid) ? [{ pid: id.sid, pgid: id.sid, comm: '?', escaped: false }] : [];
  const marks = id.run !== undefined && id.agent !== undefined ? [Buffer.from(`ORCHESTRA_RUN=${id.run}`), Buffer.from(`ORCHESTRA_AGENT=${id.agent}`)] : undefined;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [{ pid: id.sid, pgid: id.sid, comm: '?', escaped: false }]; // cannot tell: assume alive
  }
  const found: AgentProcess[] = [];
  for (const e of entries) {
    const c = e.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    const stat = readStat(e);
    if (!isLive(stat)) continue; // exited meanwhile, or a zombie
    const { comm, pgid } = stat;
    // The leader counts from the fork on: until the child has called setsid it is still in our
    // session (a stop signalled then found nothing and was lost), but it is already our child.
    if (stat.sid === id.sid || (pid === id.sid && stat.ppid === process.pid && id.leaderUnreaped?.() === true)) {
      found.push({ pid, pgid, comm, escaped: false });
      continue;
    }
    if (!marks) continue;
    let environ: Buffer;
    try {
      environ = readFileSync(`/proc/${e}/environ`);
    } catch {
      continue; // another user's process (not ours to signal anyway), or gone
    }
    if (marks.every((m) => hasEntry(environ, m))) found.push({ pid, pgid, comm, escaped: true });
  }
  return found;
}

/** True while the agent has a live process. */
function agentAlive(id: AgentIdentity): boolean {
  return agentProcesses(id).length > 0;
}

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

/** Sends `signal` to every process of the agent; returns those it found. */
export function signalAgent(id: AgentIdentity, signal: NodeJS.Signals): AgentProcess[] {
  // kill(-0) and kill(-1) mean "our own group" and "everyone": never an agent's session.
  if (!Number.isInteger(id.sid) || id.sid <= 1) throw new Error(`not an agent's session id: ${id.sid}`);
  const found = agentProcesses(id);
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
 * off, because a scan reads every process's stat and environ (~5 ms for ~100 processes on 2 cores)
 * and a hundred agents may be stopping at once.
 */
function* pollDelays(): Generator<number> {
  for (let ms = 10; ; ms = Math.min(250, Math.round(ms * 1.5))) yield ms;
}

/**
 * Polls until the agent has no live process (true), or `timeoutMs` passes or `abort` fires (false).
 * There is no event for "these processes are gone" (they need not be our children), so polling is
 * the honest way.
 */
export async function waitAgentGone(id: AgentIdentity, timeoutMs: number, abort?: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const delays = pollDelays();
  while (agentAlive(id)) {
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
 * SIGKILL to every process of the agent at once (before this returns its promise), then again to
 * whatever appears (a fork racing the first round) until none is left or `timeoutMs` passes.
 */
export function killAgent(id: AgentIdentity, timeoutMs = KILL_VERIFY_MS): Promise<KillResult> {
  const escapees = new Escapees();
  let first: AgentProcess[];
  try {
    first = signalAgent(id, 'SIGKILL');
  } catch (err) {
    return Promise.reject(err);
  }
  escapees.add(first);
  const found = first.length > 0;
  const deadline = Date.now() + timeoutMs;
  const delays = pollDelays();
  return (async () => {
    for (;;) {
      await pause(delays.next().value ?? 250);
      const left = signalAgent(id, 'SIGKILL');
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

/** Outside Linux: is any process of group `pgid` left (zombies included, there is no /proc)? */
function groupAlive(pgid: number): boolean {
  return kill(-pgid, 0);
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, num]) => [num, name]));

/** node-pty reports signals as numbers; the bus and logs use names. */
export function signalName(num: number | undefined): string | null {
  if (!num) return null;
  return SIGNAL_NAMES.get(num) ?? `SIG${num}`;
}
