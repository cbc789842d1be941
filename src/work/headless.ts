/**
 * What a headless run of an agent CLI (one prompt, no terminal) prints, and the result it comes
 * to. Formats are data: how stdout is framed (`text`, one `json` object, `ndjson` events) and where
 * in the events the result's parts are (`ResultSpec`). The built-in ones were taken from what
 * claude-code 2.1.197 (`-p --output-format stream-json --verbose`), codex 0.171.0 (`exec --json`)
 * and gemini-cli 0.61.0 (`-p --output-format stream-json` and `json`) print here against local
 * API stubs (recordings in test/fixtures/headless/).
 */
import type { HeadlessOutput } from '../config/headless.js';

export type Framing = 'text' | 'json' | 'ndjson';

/**
 * Where one part of the result is: the `path` (dotted) of the last event that has every field of
 * `match` (dotted paths too) with that value; with `join`, of every such event, joined (streamed
 * text deltas).
 */
export interface Pick {
  readonly match?: Readonly<Record<string, string | number | boolean>>;
  readonly path: string;
  readonly join?: boolean;
}

export interface ResultSpec {
  readonly text?: Pick;
  readonly usage?: Pick;
  /** The provider's id of the conversation (to resume it). */
  readonly session?: Pick;
  /** Present (and not false, null or empty): the run failed; a string value is the reason. */
  readonly error?: Pick;
  readonly durationMs?: Pick;
}

export interface HeadlessFormat {
  readonly framing: Framing;
  readonly result: ResultSpec;
}

/** The formats of the CLIs orchestra knows, by name. */
export const FORMATS: Readonly<Record<string, HeadlessFormat>> = {
  text: { framing: 'text', result: {} },
  json: { framing: 'json', result: {} },
  ndjson: { framing: 'ndjson', result: {} },
  // `result` ends the stream; a failure is `is_error: true` (its subtype may still say "success").
  'claude-stream-json': {
    framing: 'ndjson',
    result: {
      text: { match: { type: 'result' }, path: 'result' },
      usage: { match: { type: 'result' }, path: 'usage' },
      session: { match: { type: 'system', subtype: 'init' }, path: 'session_id' },
      error: { match: { type: 'result', is_error: true }, path: 'result' },
      durationMs: { match: { type: 'result' }, path: 'duration_ms' },
    },
  },
  // The text is the last agent message; `turn.failed` says it failed. No duration is given.
  'codex-json': {
    framing: 'ndjson',
    result: {
      text: { match: { type: 'item.completed', 'item.type': 'agent_message' }, path: 'item.text' },
      usage: { match: { type: 'turn.completed' }, path: 'usage' },
      session: { match: { type: 'thread.started' }, path: 'thread_id' },
      error: { match: { type: 'turn.failed' }, path: 'error.message' },
    },
  },
  // The answer streams as assistant deltas; `result` has the stats and, failing, the error.
  'gemini-stream-json': {
    framing: 'ndjson',
    result: {
      text: { match: { type: 'message', role: 'assistant' }, path: 'content', join: true },
      usage: { match: { type: 'result' }, path: 'stats' },
      session: { match: { type: 'init' }, path: 'session_id' },
      error: { match: { type: 'result', status: 'error' }, path: 'error.message' },
      durationMs: { match: { type: 'result' }, path: 'stats.duration_ms' },
    },
  },
  // One object at the end; failing, gemini prints it on stderr instead and stdout stays empty.
  'gemini-json': {
    framing: 'json',
    result: { text: { path: 'response' }, usage: { path: 'stats' }, session: { path: 'session_id' }, error: { path: 'error.message' } },
  },
};

/** The format each name a headless template's `output:` takes (config/headless.ts) reads its stdout as. */
const OUTPUTS: Readonly<Record<HeadlessOutput, keyof typeof FORMATS>> = {
  claude: 'claude-stream-json',
  codex: 'codex-json',
  gemini: 'gemini-stream-json',
  'gemini-json': 'gemini-json',
  text: 'text',
  json: 'json',
  ndjson: 'ndjson',
};

/** The format an `output:` reads. */
export function outputFormat(output: HeadlessOutput): HeadlessFormat {
  const format = FORMATS[OUTPUTS[output]];
  if (!format) throw new Error(`output "${output}" names no format`);
  return format;
}

export interface HeadlessResult {
  readonly ok: boolean;
  readonly text: string;
  readonly usage?: unknown;
  readonly session?: string;
  readonly durationMs: number;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** Why it failed (the CLI's error, the exit, a timeout), when it did. */
  readonly reason?: string;
}

/** The value at a dotted path of an object, if any. */
export function at(value: unknown, path: string): unknown {
  let v = value;
  for (const key of path.split('.')) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

function picked(events: readonly unknown[], p: Pick | undefined): unknown {
  if (!p) return undefined;
  const matching = events.filter((e) => Object.entries(p.match ?? {}).every(([k, want]) => at(e, k) === want));
  if (p.join) {
    const parts = matching.map((e) => at(e, p.path)).filter((v) => typeof v === 'string');
    return parts.length > 0 ? parts.join('') : undefined;
  }
  for (let i = matching.length - 1; i >= 0; i--) {
    const v = at(matching[i], p.path);
    if (v !== undefined) return v;
  }
  return undefined;
}

const failing = (v: unknown) => v !== undefined && v !== null && v !== false && v !== '';

/**
 * The result of a finished run: what its events (or, for `text`, its output) say, and how it
 * ended. A run fails when the format's error says so, or it exited other than 0, or it timed out.
 */
export function resultOf(
  format: HeadlessFormat,
  run: { readonly events: readonly unknown[]; readonly text: string; readonly exitCode: number | null; readonly signal: string | null; readonly durationMs: number; readonly timedOut?: string; readonly stderr?: string },
): HeadlessResult {
  const r = format.result;
  const { events } = run;
  const text = picked(events, r.text);
  const error = picked(events, r.error);
  const session = picked(events, r.session);
  const duration = picked(events, r.durationMs);
  const usage = picked(events, r.usage);
  const exitedBadly = run.exitCode !== 0 || run.signal !== null;
  const how = run.signal ? `killed by ${run.signal}` : run.exitCode === null ? 'it did not start' : `exit code ${run.exitCode}`;
  const reason =
    run.timedOut ??
    (failing(error) ? (typeof error === 'string' ? error : JSON.stringify(error)) : undefined) ??
    (exitedBadly ? `${how}${run.stderr ? `: ${run.stderr.trim().split('\n').at(-1)}` : ''}` : undefined);
  return {
    ok: reason === undefined,
    text: typeof text === 'string' ? text : format.framing === 'text' ? run.text : '',
    ...(usage !== undefined ? { usage } : {}),
    ...(typeof session === 'string' ? { session } : {}),
    durationMs: typeof duration === 'number' ? duration : run.durationMs,
    exitCode: run.exitCode,
    signal: run.signal,
    ...(reason !== undefined ? { reason } : {}),
  };
}

/**
 * The object a `json` run printed: its stdout, or, when that holds none, the last object on its
 * stderr (gemini prints its error object there, after its stack traces).
 */
export function jsonOutput(stdout: string, stderr: string): unknown[] {
  for (const text of [stdout.trim(), lastObject(stderr)]) {
    if (!text) continue;
    try {
      return [JSON.parse(text)];
    } catch {
      // not one object: the next place
    }
  }
  return [];
}

/** From the last line that opens an object at its first column to the end. */
function lastObject(text: string): string {
  const at = text.lastIndexOf('\n{');
  return (at >= 0 ? text.slice(at + 1) : text.startsWith('{') ? text : '').trim();
}

