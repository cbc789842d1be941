/**
 * Finding agents' processes in /proc (who counts as an agent's: process-group.ts), for many
 * agents in one pass. A pass reads the stat and the environment of every process on the machine
 * (~30-40 µs each on 2 cores, most of it in the kernel), so a pass per stopping agent per poll
 * made a crew's stop quadratic: 500 agents stopping at once, each scanning ~1100 processes every
 * poll, kept both cores busy for minutes. Here every query pending when a pass runs shares it.
 *
 * One `ProcessScan` serves a whole process: agent workers ask the main thread's (`sharedScan`)
 * through the worker protocol (worker-protocol.ts `procs.scan`), so a crew's stop costs one pass
 * per poll interval, however many agents are stopping.
 */
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';

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

/** Where a stop finds an agent's processes: this thread's pass, or the main thread's (a worker). */
export interface ProcessSource {
  processes(id: AgentIdentity): Promise<AgentProcess[]>;
}

const LINUX = process.platform === 'linux';

/**
 * One buffer per thread for /proc reads: `readFileSync` on a /proc file (size 0) allocates two
 * 64 KiB buffers per call, which for every file of every pass grew each worker's heap by GBs.
 */
let buf = Buffer.allocUnsafe(16 * 1024);

/** The bytes of a /proc file in `buf` (valid until the next read); -1 when it cannot be read. */
function readProc(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return -1; // gone, or another user's
  }
  try {
    // /proc files give all they have in one read when there is room: a short read is the end.
    for (let n = 0; ; ) {
      n += readSync(fd, buf, n, buf.length - n, null);
      if (n < buf.length) return n;
      const bigger = Buffer.allocUnsafe(buf.length * 2);
      buf.copy(bigger);
      buf = bigger;
    }
  } catch {
    return -1;
  } finally {
    closeSync(fd);
  }
}

/** What /proc/PID/stat says of a process; undefined once it is gone (or elsewhere than Linux). */
export interface ProcStat {
  /** One letter: R, S, D, Z (zombie), X (dead), … */
  readonly state: string;
  readonly ppid: number;
  readonly pgid: number;
  readonly sid: number;
  readonly comm: string;
}

export function readStat(pid: number | string): ProcStat | undefined {
  const n = readProc(`/proc/${pid}/stat`);
  if (n < 0) return undefined;
  // "pid (comm) state ppid pgrp session ..." — comm may contain spaces and parentheses.
  const stat = buf.toString('latin1', 0, n);
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ', 4);
  return { state: fields[0] ?? '', ppid: Number(fields[1]), pgid: Number(fields[2]), sid: Number(fields[3]), comm: stat.slice(stat.indexOf('(') + 1, close) };
}

/** A zombie (exited, waiting for its parent to reap it) or a dead process runs nothing. */
export const isLive = (s: ProcStat | undefined): s is ProcStat => s !== undefined && s.state !== 'Z' && s.state !== 'X';

const RUN = Buffer.from('ORCHESTRA_RUN=');
const AGENT = Buffer.from('ORCHESTRA_AGENT=');

/** The values of every whole `NAME=value` entry of a NUL-separated environment block. */
function values(environ: Buffer, prefix: Buffer): string[] {
  const out: string[] = [];
  for (let at = environ.indexOf(prefix); at !== -1; at = environ.indexOf(prefix, at + 1)) {
    if (at !== 0 && environ[at - 1] !== 0) continue;
    const end = environ.indexOf(0, at);
    out.push(environ.toString('utf8', at + prefix.length, end === -1 ? environ.length : end));
  }
  return out;
}

const markKey = (run: string, agent: string) => `${run}\0${agent}`;

/** Outside Linux: is any process of group `pgid` left (zombies included, there is no /proc)? */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Each identity's live processes, from one pass over /proc. Zombies do not count: they run nothing. */
export function scanAgents(ids: readonly AgentIdentity[]): AgentProcess[][] {
  const found = ids.map((): AgentProcess[] => []);
  if (!LINUX) return ids.map((id) => (groupAlive(id.sid) ? [{ pid: id.sid, pgid: id.sid, comm: '?', escaped: false }] : []));
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return ids.map((id) => [{ pid: id.sid, pgid: id.sid, comm: '?', escaped: false }]); // cannot tell: assume alive
  }
  const bySid = new Map<number, number[]>();
  const byMark = new Map<string, number[]>();
  const push = <K>(m: Map<K, number[]>, k: K, i: number) => m.set(k, [...(m.get(k) ?? []), i]);
  ids.forEach((id, i) => {
    push(bySid, id.sid, i);
    if (id.run !== undefined && id.agent !== undefined) push(byMark, markKey(id.run, id.agent), i);
  });
  for (const e of entries) {
    const c = e.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    const stat = readStat(e);
    if (!isLive(stat)) continue; // exited meanwhile, or a zombie
    const { comm, pgid } = stat;
    const member = new Set(bySid.get(stat.sid));
    // The leader counts from the fork on: until the child has called setsid it is still in our
    // session (a stop signalled then found nothing and was lost), but it is already our child.
    if (stat.ppid === process.pid) for (const i of bySid.get(pid) ?? []) if (ids[i]?.leaderUnreaped?.() === true) member.add(i);
    for (const i of member) found[i]?.push({ pid, pgid, comm, escaped: false });
    if (byMark.size === 0 || member.size === ids.length) continue;
    const n = readProc(`/proc/${e}/environ`);
    if (n < 0) continue; // another user's process (not ours to signal anyway), or gone
    const environ = buf.subarray(0, n);
    if (environ.indexOf(RUN) === -1) continue;
    const agents = values(environ, AGENT);
    for (const run of values(environ, RUN)) {
      for (const agent of agents) {
        for (const i of byMark.get(markKey(run, agent)) ?? []) if (!member.has(i)) found[i]?.push({ pid, pgid, comm, escaped: true });
      }
    }
  }
  return found;
}

/** The agent's live processes, from a pass of its own. */
export function agentProcesses(id: AgentIdentity): AgentProcess[] {
  return scanAgents([id])[0] ?? [];
}

/**
 * Passes over /proc shared by every query pending when one runs: queries made in the same turn of
 * the event loop, or while the previous pass ran, get one pass between them.
 */
export class ProcessScan implements ProcessSource {
  private pending: { id: AgentIdentity; resolve: (found: AgentProcess[]) => void }[] = [];
  private scheduled = false;

  constructor(private readonly pass: (ids: readonly AgentIdentity[]) => AgentProcess[][] = scanAgents) {}

  processes(id: AgentIdentity): Promise<AgentProcess[]> {
    return new Promise((resolve) => {
      this.pending.push({ id, resolve });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.run());
    });
  }

  private run(): void {
    const queries = this.pending;
    this.pending = [];
    this.scheduled = false;
    let found: AgentProcess[][];
    try {
      found = this.pass(queries.map((q) => q.id));
    } catch {
      found = queries.map(({ id }) => [{ pid: id.sid, pgid: id.sid, comm: '?', escaped: false }]); // cannot tell: assume alive
    }
    queries.forEach((q, i) => q.resolve(found[i] ?? []));
  }
}

/** This thread's pass: the main thread's serves every agent worker too. */
export const sharedScan = new ProcessScan();
