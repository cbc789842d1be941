/**
 * `orchestra ls`: the sessions running on this machine. Each `up` (foreground or -d) writes an
 * entry in `$XDG_RUNTIME_DIR/orchestra-UID/sessions/` (the temp dir without XDG_RUNTIME_DIR) once
 * its sockets are bound and removes it on exit; an entry whose supervisor is gone (killed, crashed)
 * is ignored and removed by the next `ls`. A session's state directory may be anywhere, so a
 * registry in one known place is what finds them all.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OrchestraConfig } from '../config/types.js';
import { runningSession } from '../host/session.js';
import { formatDuration, formatTable } from './ops.js';

export interface SessionEntry {
  readonly session: string;
  /** The config files, in the order they were merged. */
  readonly config: readonly string[];
  readonly stateDir: string;
  readonly pid: number;
  /** ms since the epoch */
  readonly startedAt: number;
  readonly agents: readonly string[];
}

export function registryDir(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return join(process.env.XDG_RUNTIME_DIR || tmpdir(), `orchestra-${uid}`, 'sessions');
}

function entryPath(stateDir: string): string {
  return join(registryDir(), `${createHash('sha256').update(stateDir).digest('hex').slice(0, 16)}.json`);
}

/** Registers this process's session; returns what removes the entry again. Best effort: `ls` is not worth failing `up` for. */
export function register(config: OrchestraConfig, files: readonly string[], agents: readonly string[]): () => void {
  const file = entryPath(config.stateDir);
  const entry: SessionEntry = { session: config.session, config: files, stateDir: config.stateDir, pid: process.pid, startedAt: Date.now(), agents };
  try {
    mkdirSync(registryDir(), { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify(entry), { mode: 0o600 });
  } catch {
    return () => undefined;
  }
  return () => rmSync(file, { force: true });
}

/** The live sessions; stale entries (their supervisor gone, or the pid now another's) are removed. */
export function runningSessions(): SessionEntry[] {
  let names: string[];
  try {
    names = readdirSync(registryDir()).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  const out: SessionEntry[] = [];
  for (const name of names) {
    const file = join(registryDir(), name);
    let e: SessionEntry;
    try {
      e = JSON.parse(readFileSync(file, 'utf8')) as SessionEntry;
    } catch {
      continue;
    }
    if (runningSession(e.stateDir)?.pid === e.pid) out.push(e);
    else rmSync(file, { force: true });
  }
  return out.sort((a, b) => a.startedAt - b.startedAt);
}

export function listSessions(json: boolean, out: NodeJS.WritableStream, now = Date.now()): number {
  const sessions = runningSessions();
  if (json) {
    out.write(`${JSON.stringify(sessions)}\n`);
    return 0;
  }
  const rows = [['NAME', 'CONFIG', 'PID', 'AGENTS', 'UPTIME']];
  for (const s of sessions) rows.push([s.session, s.config.join(','), String(s.pid), String(s.agents.length), formatDuration(now - s.startedAt)]);
  out.write(formatTable(rows));
  return 0;
}
