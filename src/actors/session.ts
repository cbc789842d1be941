/**
 * A session's state directory (0700): the bus socket, the supervisor's pid and endpoints, logs.
 * One supervisor per session: a live pid file makes a second `up` refuse.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OrchestraConfig } from '../config/types.js';

export interface SessionInfo {
  readonly pid: number;
  readonly runId: string;
  readonly session: string;
  readonly config: string;
  readonly publish: string;
  readonly startedAt: string;
}

export class SessionBusyError extends Error {
  constructor(readonly pid: number) {
    super(`already running, pid ${pid}`);
  }
}

export function sessionPaths(stateDir: string) {
  return {
    dir: stateDir,
    info: join(stateDir, 'supervisor.json'),
    busSocket: join(stateDir, 'bus.sock'),
    log: join(stateDir, 'orchestra.log'),
    logs: join(stateDir, 'logs'),
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reads the running supervisor's info, or undefined when none runs (stale files are ignored). */
export function readSession(stateDir: string): SessionInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(sessionPaths(stateDir).info, 'utf8')) as SessionInfo;
    return alive(info.pid) ? info : undefined;
  } catch {
    return undefined;
  }
}

/** Creates the state directory (0700) and claims it for this process. */
export function claimSession(config: OrchestraConfig): ReturnType<typeof sessionPaths> {
  const paths = sessionPaths(config.stateDir);
  mkdirSync(paths.logs, { recursive: true, mode: 0o700 });
  chmodSync(paths.dir, 0o700);
  if (statSync(paths.dir).uid !== process.getuid?.()) throw new Error(`state directory ${paths.dir} belongs to another user`);
  const running = readSession(config.stateDir);
  if (running && running.pid !== process.pid) throw new SessionBusyError(running.pid);
  rmSync(paths.busSocket, { force: true });
  return paths;
}

export function writeSession(stateDir: string, info: SessionInfo): void {
  writeFileSync(sessionPaths(stateDir).info, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
}

export function releaseSession(stateDir: string): void {
  const paths = sessionPaths(stateDir);
  rmSync(paths.info, { force: true });
  rmSync(paths.busSocket, { force: true });
}
