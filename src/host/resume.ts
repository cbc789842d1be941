/**
 * Resuming an agent's conversation across runs. Each crew agent of a provider that can resume gets
 * a session id derived from (orchestra session, agent, working directory) — the same id for every
 * run and every `orchestra up` of that crew — and is started with it: the provider's `start`
 * arguments for a new conversation, its `again` arguments once the provider's transcript of that
 * conversation exists (claude refuses `--session-id` for an id already in use, and `--resume` for
 * one it never saved). Transcripts are kept per working directory: resuming needs the same cwd.
 */
import { existsSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { v5 as uuidv5 } from 'uuid';
import type { ResumeSettings } from '../config/types.js';

export type { ResumeSettings };

/** orchestra's namespace for name-based (v5) session ids. */
const NAMESPACE = '6f1d4c3e-2b7a-5e1f-9a0c-4d8b2e6f7a19';

export function sessionId(session: string, agent: string, cwd: string): string {
  return uuidv5(`${session}\0${agent}\0${cwd}`, NAMESPACE);
}

/** A directory as claude names its project folder: every character but letters and digits becomes "-". */
export function cwdSlug(cwd: string): string {
  // The directory as the CLI sees it once it has started there: symlinks resolved.
  let real = cwd;
  try {
    real = realpathSync(cwd);
  } catch {
    // not there (yet): the path as given
  }
  return real.replace(/[^a-zA-Z0-9]/g, '-');
}

/** Expands a transcript path template for one agent. */
export function transcriptPath(template: string, id: string, cwd: string, env: Readonly<Record<string, string | undefined>>): string {
  const home = env.HOME ?? homedir();
  return template
    .replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, fallback: string | undefined) => env[name] || (fallback ?? ''))
    .replace(/^~(?=\/|$)/, home)
    .replace(/\{cwd_slug\}/g, cwdSlug(cwd))
    .replace(/\{id\}/g, id);
}

export interface ResumeRun {
  readonly id: string;
  /** The arguments to add to the command's own for this run. */
  readonly args: string[];
  /** Whether this run resumes an earlier conversation. */
  readonly resumed: boolean;
}

/**
 * The arguments of the next run. `ranBefore`: a run of this agent was already started by this
 * supervisor (what decides when the provider's transcript cannot be checked).
 */
export function nextRun(r: ResumeSettings, id: string, cwd: string, env: Readonly<Record<string, string | undefined>>, ranBefore: boolean): ResumeRun {
  const resumed = r.transcript === undefined ? ranBefore : existsSync(transcriptPath(r.transcript, id, cwd, env));
  const args = (resumed ? r.again : r.start).map((a) => a.replace(/\{id\}/g, id));
  return { id, args, resumed };
}
