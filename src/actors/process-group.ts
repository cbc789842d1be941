/**
 * Signalling a whole process group. node-pty starts each agent as a session leader, so its pid is
 * also its process group id and every child it forks (unless it calls setsid itself) is in it.
 */
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

export function groupAlive(pgid: number): boolean {
  return signalGroup(pgid, 0);
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
