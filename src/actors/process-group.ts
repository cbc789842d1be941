/**
 * Signalling a whole process group. node-pty starts each agent as a session leader, so its pid is
 * also its process group id and every child it forks (unless it calls setsid itself) is in it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';

/** Sends `signal` to every process of group `pgid`; false when the group is already empty. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    // EPERM: some member is not ours to signal, so the group is not empty.
    if (code === 'EPERM') return true;
    throw err;
  }
}

/**
 * True while the group has a live member. Zombies do not count: they run nothing, and they stay
 * in the group until their new parent reaps them, which some init processes do only lazily.
 */
export function groupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  if (process.platform !== 'linux') return true;
  return liveMembers(pgid) > 0;
}

/** Members of group `pgid` that are not zombies, from /proc (Linux). */
export function liveMembers(pgid: number): number {
  let n = 0;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return 1; // cannot tell: assume alive
  }
  for (const e of entries) {
    if (e.charCodeAt(0) < 48 || e.charCodeAt(0) > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${e}/stat`, 'latin1');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp ..." — comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z') n++;
  }
  return n;
}

/**
 * Polls until the group is empty or `timeoutMs` passes. There is no event for "a process group
 * became empty" (its members need not be our children), so polling is the honest way.
 */
export async function waitGroupEmpty(pgid: number, timeoutMs: number, everyMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (groupAlive(pgid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return true;
}

/**
 * Terminates a group: `signal`, up to `graceMs` for it to empty, then SIGKILL and verify.
 * Resolves to how it ended.
 */
export async function terminateGroup(pgid: number, signal: NodeJS.Signals, graceMs: number): Promise<'empty' | 'signalled' | 'killed' | 'survivors'> {
  if (!signalGroup(pgid, signal)) return 'empty';
  if (await waitGroupEmpty(pgid, graceMs)) return 'signalled';
  signalGroup(pgid, 'SIGKILL');
  return (await waitGroupEmpty(pgid, 2000)) ? 'killed' : 'survivors';
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, num]) => [num, name]));

/** node-pty reports signals as numbers; the bus and logs use names. */
export function signalName(num: number | undefined): string | null {
  if (!num) return null;
  return SIGNAL_NAMES.get(num) ?? `SIG${num}`;
}
