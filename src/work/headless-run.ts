/**
 * One headless run of an agent CLI: the command runs for one prompt with no terminal, stdin
 * closed (codex waits for the end of an open stdin and adds it to the prompt), in a session of its
 * own, so that stopping it — by a timeout or on request — ends every process it started, through
 * the one termination sequence agents have. Its structured output is handed on event by event as
 * it arrives; when it ends, its result (headless.ts) says what it came to.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { type HeadlessFormat, type HeadlessResult, jsonOutput, resultOf } from './headless.js';
import { Lines } from '../host/lines.js';
import { type StopPlan, Termination } from '../host/termination.js';

export interface HeadlessSpec {
  /** A name for the run's identity (its processes carry it in ORCHESTRA_AGENT). */
  readonly name: string;
  readonly file: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly format: HeadlessFormat;
  readonly timeoutMs: number;
  readonly stop: StopPlan;
  /** Longest line of ndjson output kept (a longer one is skipped and reported). */
  readonly maxLine?: number;
  /** A file every byte of its stdout and stderr is appended to, as it arrives (`orchestra logs NAME`). */
  readonly log?: string;
  /** ORCHESTRA_RUN of its processes (default: an id of its own): the supervisor's, so its watchdog finds them. */
  readonly run?: string;
}

/** What a run reports while it runs. */
export interface HeadlessListener {
  /** One structured event (an ndjson line), as it arrives. */
  event?(event: unknown): void;
  /** A line of ndjson output that is not a JSON object, or was too long: skipped. */
  skipped?(why: string, excerpt: string): void;
  /** Its log file could not be written (the run goes on; the bus still has its events). */
  logFailed?(message: string): void;
}

/** Stderr kept for the failure reason. */
const STDERR_KEEP = 16 * 1024;
/** Text or json output kept (its end). */
const OUTPUT_KEEP = 4 * 1024 * 1024;

export interface HeadlessRun {
  readonly pid: number | undefined;
  readonly result: Promise<HeadlessResult>;
  /** Stops the run (the result then says why); forced, at once with SIGKILL, overtaking a graceful stop. */
  stop(why: string, force?: boolean): void;
}

function keepEnd(text: string, add: string, max: number): string {
  const all = text + add;
  return all.length > max ? all.slice(all.length - max) : all;
}

export function runHeadless(spec: HeadlessSpec, listener: HeadlessListener = {}): HeadlessRun {
  const started = Date.now();
  const run = spec.run ?? randomBytes(6).toString('hex');
  const child = spawn(spec.file, spec.args, {
    cwd: spec.cwd,
    env: { ...spec.env, ORCHESTRA_AGENT: spec.name, ORCHESTRA_RUN: run },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const events: unknown[] = [];
  let stdout = '';
  let stderr = '';
  const lines = new Lines<{ event: unknown } | { skipped: string; excerpt: string }>(
    spec.maxLine ?? 1024 * 1024,
    (item) => {
      if ('event' in item) {
        events.push(item.event);
        listener.event?.(item.event);
      } else listener.skipped?.(item.skipped, item.excerpt);
    },
    (line) => {
      try {
        const value: unknown = JSON.parse(line);
        if (typeof value === 'object' && value !== null && !Array.isArray(value)) return { event: value };
      } catch {
        // reported below
      }
      return { skipped: 'not a JSON object', excerpt: line.slice(0, 120) };
    },
    (excerpt, bytes) => ({ skipped: `a line of ${bytes} bytes, longer than the limit`, excerpt }),
  );
  const log = spec.log === undefined ? undefined : openLog(spec.log, (message) => listener.logFailed?.(message));
  child.stdout.on('data', (d: Buffer) => {
    log?.write(d);
    if (spec.format.framing === 'ndjson') lines.push(d);
    else stdout = keepEnd(stdout, d.toString('utf8'), OUTPUT_KEEP);
  });
  child.stderr.on('data', (d: Buffer) => {
    log?.write(d);
    stderr = keepEnd(stderr, d.toString('utf8'), STDERR_KEEP);
  });
  let exited = false;
  /** The leader has exited and Node has reaped it: its pid may be anyone's from now on. */
  let reaped = false;
  let stopped: string | undefined;
  const termination = child.pid === undefined ? undefined : new Termination({ sid: child.pid, run, agent: spec.name, leaderUnreaped: () => !reaped }, spec.stop);
  const stop = (why: string, force = false) => {
    if (exited) return;
    // It has exited by itself, its leftovers being killed: a stop now changes nothing of its result.
    if (!reaped) stopped ??= why;
    void (force ? termination?.force(why) : termination?.stop());
  };
  const timer = setTimeout(() => stop(`timed out after ${spec.timeoutMs}ms`), spec.timeoutMs);
  const result = new Promise<HeadlessResult>((resolve) => {
    const finish = (exitCode: number | null, signal: string | null) => {
      if (exited) return;
      exited = true;
      clearTimeout(timer);
      lines.end();
      const parsed = spec.format.framing === 'json' ? jsonOutput(stdout, stderr) : events;
      const result = resultOf(spec.format, { events: parsed, text: stdout, exitCode, signal, durationMs: Date.now() - started, timedOut: stopped, stderr });
      // Its end is known once its log has all of its output.
      if (log) log.end(() => resolve(result));
      else resolve(result);
    };
    // Not started at all (not found, not executable): its reason is the error.
    child.once('error', (err) => {
      stderr = keepEnd(stderr, `${err.message}\n`, STDERR_KEEP);
      finish(null, null);
    });
    // Whatever the CLI left in its session goes with it, as with an agent's run — at its exit, not
    // at `close`: a leftover holding the output pipes would keep `close` (and the run) waiting
    // until the timeout.
    child.once('exit', () => {
      reaped = true;
      void termination?.stop();
    });
    // `close`: the process exited and its output was read to the end.
    child.once('close', (code, signal) => finish(code, signal));
  });
  return { pid: child.pid, result, stop };
}

/** The run's log, appended to; one that cannot be written is reported once and given up, the run goes on. */
function openLog(path: string, failed: (message: string) => void): WriteStream | undefined {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  } catch (err) {
    failed(`cannot write ${path}: ${(err as Error).message}`);
    return undefined;
  }
  // Agents' output is theirs alone, as an agent's log is (0600).
  const stream = createWriteStream(path, { flags: 'a', mode: 0o600 });
  stream.on('error', (err) => failed(`${path}: ${err.message}`));
  return stream;
}
