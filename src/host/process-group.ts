/**
 * An agent's processes, and ending them. One notion for every path that stops an agent (the stop
 * sequence, the end of a run, a forced stop, a crashed worker; the watchdog in reaper.ts applies
 * the same rules in sh):
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
export interface ProcStat {
  /** One letter: R, S, D, Z (zombie), X (dead), … */
  readonly state: string;
  readonly ppid: number;
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
  return { state: fields[0] ?? '', ppid: Number(fields[1]), sid: Number(fields[3]), comm: stat.slice(stat.indexOf('(') + 1, close) };
}

/** A zombie (exited, waiting for its parent to reap it) or a dead process runs nothing. */
export const isLive = (s: ProcStat | undefined): s is ProcStat => s !== undefined && s.state !== 'Z' && s.state !== 'X';

/** The agent's live processes, from /proc. Zombies do not count: they run nothing. */
export function agentProcesses(id: AgentIdentity): AgentProcess[] {
  if (!LINUX) return groupAlive(id.sid) ? [{ pid: id.sid, comm: '?', escaped: false }] : [];
  const marks = id.run !== undefined && id.agent !== undefined ? [Buffer.from(`ORCHESTRA_RUN=${id.run}`), Buffer.from(`ORCHESTRA_AGENT=${id.agent}`)] : undefined;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [{ pid: id.sid, comm: '?', escaped: false }]; // cannot tell: assume alive
  }
  const found: AgentProcess[] = [];
  for (const e of entries) {
    const c = e.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    const stat = readStat(e);
    if (!isLive(stat)) continue; // exited meanwhile, or a zombie
    const { comm } = stat;
    // The leader counts from the fork on: until the child has called setsid it is still in our
    // session (a stop signalled then found nothing and was lost), but it is already our child.
    if (stat.sid === id.sid || (pid === id.sid && stat.ppid === process.pid && id.leaderUnreaped?.() === true)) {
      found.push({ pid, comm, escaped: false });
      continue;
    }
    if (!marks) continue;
    let environ: Buffer;
    try {
      environ = readFileSync(`/proc/${e}/environ`);
    } catch {
      continue; // another user's process (not ours to signal anyway), or gone
    }
    if (marks.every((m) => hasEntry(environ, m))) found.push({ pid, comm, escaped: true });
  }
  return found;
}

/** True while the agent has a live process. */
export function agentAlive(id: AgentIdentity): boolean {
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
  // The leader's group in one call too: a child forked there since the scan gets it as well.
  kill(-id.sid, signal);
  for (const p of found) kill(p.pid, signal);
  return found;
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
 * Polls until the agent has no live process or `timeoutMs` passes. There is no event for "these
 * processes are gone" (they need not be our children), so polling is the honest way.
 */
export async function waitAgentGone(id: AgentIdentity, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const delays = pollDelays();
  while (agentAlive(id)) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await new Promise((r) => setTimeout(r, Math.min(left, delays.next().value ?? 250)));
  }
  return true;
}

/** Escapees seen, once each, in the order found. */
class Escapees {
  private readonly seen = new Map<number, AgentProcess>();
  add(found: AgentProcess[]): void {
    for (const p of found) if (p.escaped && !this.seen.has(p.pid)) this.seen.set(p.pid, p);
  }
  get list(): AgentProcess[] {
    return [...this.seen.values()];
  }
}

export interface KillResult {
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
  try {
    escapees.add(signalAgent(id, 'SIGKILL'));
  } catch (err) {
    return Promise.reject(err);
  }
  const deadline = Date.now() + timeoutMs;
  const delays = pollDelays();
  return (async () => {
    for (;;) {
      await new Promise((r) => setTimeout(r, delays.next().value ?? 250));
      const left = signalAgent(id, 'SIGKILL');
      escapees.add(left);
      if (left.length === 0) return { gone: true, escapees: escapees.list };
      if (Date.now() >= deadline) return { gone: false, escapees: escapees.list };
    }
  })();
}

export interface TerminateResult extends KillResult {
  readonly outcome: 'empty' | 'signalled' | 'killed' | 'survivors';
}

/**
 * Ends the agent: `signal` to every process of it, up to `graceMs` for all of them to go, then
 * SIGKILL and verify. Resolves to how it ended and which escapees it had to signal.
 */
export async function terminateAgent(id: AgentIdentity, signal: NodeJS.Signals, graceMs: number): Promise<TerminateResult> {
  const escapees = new Escapees();
  const first = signalAgent(id, signal);
  escapees.add(first);
  if (first.length === 0) return { outcome: 'empty', gone: true, escapees: [] };
  if (await waitAgentGone(id, graceMs)) return { outcome: 'signalled', gone: true, escapees: escapees.list };
  const killed = await killAgent(id);
  escapees.add(killed.escapees);
  return { outcome: killed.gone ? 'killed' : 'survivors', gone: killed.gone, escapees: escapees.list };
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
