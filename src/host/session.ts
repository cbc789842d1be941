/**
 * A session's state directory (0700): the bus socket, the supervisor's pid and endpoints, logs.
 * One supervisor per session: a live pid file makes a second `up` refuse.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OrchestraConfig } from '../config/types.js';
import { isLive, readStat } from './process-group.js';

export interface SessionInfo {
  readonly pid: number;
  readonly runId: string;
  readonly session: string;
  readonly config: string;
  readonly publish: string;
  readonly control: string;
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
    controlSocket: join(stateDir, 'control.sock'),
    log: join(stateDir, 'orchestra.log'),
    logs: join(stateDir, 'logs'),
  };
}

/**
 * True while `pid` runs. A zombie does not: it has exited and only waits for its parent to reap it,
 * yet `kill(pid, 0)` still succeeds on it, so on Linux the state in /proc decides.
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return process.platform !== 'linux' || isLive(readStat(pid));
}

function readInfo(stateDir: string): SessionInfo | undefined {
  try {
    return JSON.parse(readFileSync(sessionPaths(stateDir).info, 'utf8')) as SessionInfo;
  } catch {
    return undefined;
  }
}

export interface Claim {
  readonly paths: ReturnType<typeof sessionPaths>;
  /**
   * The previous supervisor of this session when it did not shut down cleanly (its info file is
   * removed only on a clean exit): killed, crashed, or its machine restarted.
   */
  readonly unclean: SessionInfo | undefined;
}

/** Creates the state directory (0700) and claims it for this process. */
export function claimSession(config: OrchestraConfig): Claim {
  const paths = sessionPaths(config.stateDir);
  mkdirSync(paths.logs, { recursive: true, mode: 0o700 });
  chmodSync(paths.dir, 0o700);
  if (statSync(paths.dir).uid !== process.getuid?.()) throw new Error(`state directory ${paths.dir} belongs to another user`);
  const previous = readInfo(config.stateDir);
  const running = runningSession(config.stateDir);
  if (running && running.pid !== process.pid) throw new SessionBusyError(running.pid);
  rmSync(paths.busSocket, { force: true });
  rmSync(paths.controlSocket, { force: true });
  return { paths, unclean: previous };
}

/** Where the session's bus and control socket are bound (ipc in the state directory, or tcp). */
export function endpoints(config: OrchestraConfig): { publish: string; control: string } {
  const paths = sessionPaths(config.stateDir);
  return {
    publish: config.bus.publish === 'ipc' ? `ipc://${paths.busSocket}` : config.bus.publish,
    control: config.bus.control === 'ipc' ? `ipc://${paths.controlSocket}` : config.bus.control,
  };
}

/** The session's supervisor if one is running (its info file names a live process). */
export function runningSession(stateDir: string): SessionInfo | undefined {
  const info = readInfo(stateDir);
  return info && alive(info.pid) ? info : undefined;
}

export function writeSession(stateDir: string, info: SessionInfo): void {
  writeFileSync(sessionPaths(stateDir).info, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
}

export function releaseSession(stateDir: string): void {
  const paths = sessionPaths(stateDir);
  rmSync(paths.info, { force: true });
  rmSync(paths.busSocket, { force: true });
  rmSync(paths.controlSocket, { force: true });
}
