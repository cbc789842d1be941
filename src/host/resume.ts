/**
 * Resuming an agent's conversation across runs. Each crew agent of a provider that can resume gets
 * a session id derived from (orchestra session, agent, working directory) — the same id for every
 * run and every `orchestra up` of that crew — and is started with it: the provider's `start`
 * arguments for a new conversation, its `again` arguments once the provider's transcript of that
 * conversation exists (claude refuses `--session-id` for an id already in use, and `--resume` for
 * one it never saved). A CLI that chooses the id itself (codex) has it captured from its files
 * after a run started the conversation, and kept in the state directory. Transcripts are kept per
 * working directory: resuming needs the same cwd.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { expandHome, interpolate } from '../config/interpolate.js';
import type { CaptureSettings, ResumeSettings, TranscriptSettings } from '../config/types.js';
import { fieldOf, globFiles, hasMessage, headerHas, readHeader } from './session-files.js';

export type { ResumeSettings };

/** orchestra's namespace for name-based (v5) session ids. */
const NAMESPACE = '6f1d4c3e-2b7a-5e1f-9a0c-4d8b2e6f7a19';

export function sessionId(session: string, agent: string, cwd: string): string {
  return uuidV5(`${session}\0${agent}\0${cwd}`, NAMESPACE);
}

/**
 * RFC 9562's name-based UUID (SHA-1), as the `uuid` package's v5 makes it: that package cost each
 * agent's worker ~1.6 MiB to load, for these few lines.
 */
function uuidV5(name: string, namespace: string): string {
  const hash = createHash('sha1').update(Buffer.from(namespace.replaceAll('-', ''), 'hex')).update(name, 'utf8').digest();
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50;
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A directory as claude names its project folder: every character but letters and digits becomes "-". */
export function cwdSlug(cwd: string): string {
  return realDir(cwd).replace(/[^a-zA-Z0-9]/g, '-');
}

/** The directory as the CLI sees it once it has started there: symlinks resolved (as given when it is not there yet). */
function realDir(cwd: string): string {
  try {
    return realpathSync(cwd);
  } catch {
    return cwd;
  }
}

/** Expands a path template (or pattern) of a preset's `resume` for one agent. */
export function transcriptPath(template: string, id: string, cwd: string, env: Readonly<Record<string, string | undefined>>): string {
  const home = env.HOME ?? homedir();
  // Unset variables are empty, as in the shell; a template that cannot be expanded is searched as written (and found nowhere).
  const expanded = interpolate(template, (name) => env[name] ?? '');
  return expandHome('value' in expanded ? expanded.value : template, home)
    .replace(/\{cwd_slug\}/g, cwdSlug(cwd))
    .replace(/\{id\}/g, id);
}

export interface ResumeRun {
  /** The conversation's id; undefined for a CLI that chooses it, until orchestra has captured it. */
  readonly id: string | undefined;
  /** The arguments to add to the command's own for this run. */
  readonly args: string[];
  /** Whether this run resumes an earlier conversation. */
  readonly resumed: boolean;
  /** Why a conversation that may exist is not resumed, for the log. */
  readonly note?: string;
}

/**
 * The arguments of the next run. `id`: the agent's session id (ignored with `capture`);
 * `ranBefore`: a run of this agent was already started by this supervisor (what decides when the
 * provider's transcript cannot be checked).
 */
export function nextRun(r: ResumeSettings, id: string, cwd: string, env: Readonly<Record<string, string | undefined>>, ranBefore: boolean): ResumeRun {
  if (r.capture) return capturedRun(r, r.capture, cwd, env);
  const resumed = r.transcript === undefined ? ranBefore : saved(r.transcript, id, cwd, env);
  return { id, args: withId(resumed ? r.again : r.start, id), resumed };
}

function withId(args: readonly string[], id: string): string[] {
  return args.map((a) => a.replace(/\{id\}/g, id));
}

/** `{id}` and `{cwd}` (resolved as the CLI sees it) in the header fields a file must have. */
function expectedHeader(want: Readonly<Record<string, string>>, id: string, cwd: string): Record<string, string> {
  const real = realDir(cwd);
  return Object.fromEntries(Object.entries(want).map(([k, v]) => [k, v.replace(/\{id\}/g, id).replace(/\{cwd\}/g, real)]));
}

/**
 * Whether the CLI has saved the conversation of `id`. gemini writes a file for the id before any
 * prompt, then refuses both `--session-id` for that id ("already exists") and `--resume` (no
 * message to resume) while it holds no message: such files are removed before a new start, as
 * gemini itself removes them on a clean exit.
 */
function saved(t: TranscriptSettings, id: string, cwd: string, env: Readonly<Record<string, string | undefined>>): boolean {
  const want = expectedHeader(t.header, id, cwd);
  const files = globFiles(transcriptPath(t.files, id, cwd, env)).filter((f) => Object.keys(want).length === 0 || headerHas(readHeader(f), want));
  if (t.message === undefined) return files.length > 0;
  const message = t.message;
  if (files.some((f) => hasMessage(f, message))) return true;
  if (t.removeEmpty) for (const f of files) rmSync(f, { force: true });
  return false;
}

/** What orchestra keeps of an agent whose CLI chooses the id: the start of its last run, and the conversation captured. */
interface CaptureState {
  /** When the last run was spawned (ms since the epoch). */
  readonly started?: number;
  readonly id?: string;
  readonly file?: string;
  /** The working directory the conversation ran in (resolved). */
  readonly cwd?: string;
}

function readState(file: string): CaptureState {
  try {
    const v: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return typeof v === 'object' && v !== null ? (v as CaptureState) : {};
  } catch {
    return {};
  }
}

function writeState(file: string, state: CaptureState): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  // Written whole then renamed: the worker and the supervisor both read it.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/**
 * A CLI that chooses the id itself (codex) saves a conversation only once it was given a prompt.
 * The agent's conversation is the one orchestra captured, while its file is there and it ran in
 * the same directory; else the one file that a run of the agent created: matching the header
 * (the cwd), started after the run did, and not captured by another agent of the session.
 * Several such files cannot be told apart: a new conversation then, never another's.
 */
function capturedRun(r: ResumeSettings, c: CaptureSettings, cwd: string, env: Readonly<Record<string, string | undefined>>): ResumeRun {
  const state = readState(r.state);
  const real = realDir(cwd);
  if (state.id !== undefined && state.file !== undefined && state.cwd === real && existsSync(state.file)) {
    return { id: state.id, args: withId(r.again, state.id), resumed: true };
  }
  const started = state.started;
  const found = started === undefined ? [] : candidates(r, c, cwd, env, started);
  const [one] = found;
  if (found.length === 1 && one) {
    const run = { id: one.id, args: withId(r.again, one.id), resumed: true };
    try {
      writeState(r.state, { started, id: one.id, file: one.file, cwd: real });
      return run;
    } catch (err) {
      return { ...run, note: `cannot keep the captured id in ${r.state} (${(err as Error).message}): a new supervisor will not resume it` };
    }
  }
  const note = found.length > 1 ? `${found.length} conversations in ${real} started since the agent's last run (${found.map((f) => f.id).join(', ')}); which is this agent's cannot be told, so a new one starts` : undefined;
  return { id: undefined, args: withId(r.start, ''), resumed: false, ...(note ? { note } : {}) };
}

function candidates(r: ResumeSettings, c: CaptureSettings, cwd: string, env: Readonly<Record<string, string | undefined>>, started: number): { id: string; file: string }[] {
  const claimed = claimedByOthers(r.state);
  const want = expectedHeader(c.header, '', cwd);
  const found: { id: string; file: string }[] = [];
  for (const file of globFiles(transcriptPath(c.files, '', cwd, env))) {
    if (claimed.has(file) || !modifiedSince(file, started)) continue;
    const header = readHeader(file);
    if (!headerHas(header, want)) continue;
    const id = fieldOf(header, c.id);
    if (typeof id !== 'string' || id === '') continue;
    if (c.started !== undefined && !(Date.parse(String(fieldOf(header, c.started))) >= started)) continue;
    found.push({ id, file });
  }
  return found;
}

function modifiedSince(file: string, ms: number): boolean {
  try {
    return statSync(file).mtimeMs >= ms;
  } catch {
    return false;
  }
}

/** The files the session's other agents captured (their state files sit beside this agent's). */
function claimedByOthers(own: string): Set<string> {
  const dir = dirname(own);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return new Set();
  }
  const files = names.filter((n) => n.endsWith('.json') && join(dir, n) !== own).map((n) => readState(join(dir, n)).file);
  return new Set(files.filter((f): f is string => f !== undefined));
}

/**
 * A run of an agent whose CLI chooses the id is being spawned: its start bounds which files the
 * next capture considers; a conversation it does not resume is forgotten.
 */
export function runStarting(r: ResumeSettings, run: ResumeRun, now: number): void {
  if (!r.capture) return;
  const state = readState(r.state);
  writeState(r.state, run.resumed ? { ...state, started: now } : { started: now });
}
