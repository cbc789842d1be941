/**
 * End-to-end harness: writes a config, runs the real `orchestra up` in a child process (Node or
 * Deno), and watches it through a real ZeroMQ subscriber in this process. Every wait is for an
 * event or a condition, bounded by a timeout; nothing sleeps to synchronise.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BusSubscriber, type Received, type SubscribeOptions } from '../../src/bus/client.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const FIX = join(ROOT, 'test/fixtures');
export const CLI = join(ROOT, 'bin/orchestra.js');
export const DENO = join(ROOT, 'node_modules/.bin/deno');

export type Runtime = 'node' | 'deno';

export interface Crew {
  readonly dir: string;
  readonly stateDir: string;
  readonly file: string;
  readonly endpoint: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
  /** A subscriber connected before the supervisor started (sees everything from the first message). */
  readonly bus: BusSubscriber;
  subscribe(opts?: SubscribeOptions): BusSubscriber;
  /** Creates the gate file the `--gate` fixtures wait for. */
  openGate(): void;
  readonly gate: string;
  logFile(agent: string): string;
  /** Sends a signal to the supervisor (if it still runs). */
  signal(signal: NodeJS.Signals): void;
  /** Signals, waits for the exit, closes every subscriber. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function runtimeCommand(runtime: Runtime, args: string[]): [string, string[]] {
  return runtime === 'node' ? [process.execPath, [CLI, ...args]] : [DENO, ['run', '-A', join(ROOT, 'dist/cli/main.js'), ...args]];
}

export interface CrewPaths {
  readonly dir: string;
  readonly gate: string;
}

export interface CrewOptions {
  readonly runtime?: Runtime;
  /** Top-level YAML placed before `agents:`. */
  readonly extra?: string;
  /** What the first subscriber listens to. */
  readonly subscribe?: SubscribeOptions;
  readonly env?: Record<string, string>;
  /** The bus endpoint when the config sets `bus.publish` (default: the state directory's ipc socket). */
  readonly endpoint?: string;
  /** The directory of an earlier crew, to run a session again in it (default: a new one). */
  readonly dir?: string;
}

/** Starts `orchestra up` on a config whose `agents:` block is `agents` (indented two spaces). */
export function startCrew(agents: string | ((p: CrewPaths) => string), opts: CrewOptions = {}): Crew {
  const dir = opts.dir ?? mkdtempSync('/tmp/orch-e2e-');
  const stateDir = join(dir, 's');
  const file = join(dir, 'orchestra.yaml');
  const gate = join(dir, 'gate');
  const agentsYaml = typeof agents === 'string' ? agents : agents({ dir, gate });
  writeFileSync(file, `session: e2e\nstate_dir: ${stateDir}\n${opts.extra ?? ''}agents:\n${agentsYaml}`);
  const endpoint = opts.endpoint ?? `ipc://${stateDir}/bus.sock`;
  // Subscribe first: ZeroMQ connects to the ipc endpoint as soon as the supervisor binds it.
  const bus = new BusSubscriber(endpoint, opts.subscribe ?? {});
  // --await-subscriber: agents start only once `bus` has subscribed, so it sees every message.
  const [cmd, args] = runtimeCommand(opts.runtime ?? 'node', ['up', file, '--no-output', '--await-subscriber']);
  const proc = spawn(cmd, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...opts.env } });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => proc.on('exit', (code, signal) => res({ code, signal })));
  const subs: BusSubscriber[] = [bus];
  let signalled = false;
  return {
    dir,
    stateDir,
    file,
    endpoint,
    proc,
    exited,
    stdout: () => out,
    stderr: () => err,
    bus,
    subscribe(o) {
      const s = new BusSubscriber(endpoint, o ?? {});
      subs.push(s);
      return s;
    },
    gate,
    openGate: () => writeFileSync(gate, 'go'),
    logFile: (agent) => join(stateDir, 'logs', `${agent}.log`),
    signal(signal) {
      signalled = true;
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    },
    async stop(signal = 'SIGTERM') {
      // A second SIGINT/SIGTERM would force the stop: signal only if the test has not already.
      if (proc.exitCode === null && proc.signalCode === null && (!signalled || signal === 'SIGKILL')) proc.kill(signal);
      const result = await exited;
      for (const s of subs) s.close();
      return result;
    },
  };
}

/** Reads messages until `pred` holds; rejects after `ms` with the tail of what was seen. */
/** A bus message's payload, as a test looks into it. */
export type Body = Record<string, unknown>;

/** Every bus message of a crew, and a wait for the first that a predicate holds for (its error lists the last task, agent and headless messages). */
export function watchBus(crew: Crew) {
  const seen: Received[] = [];
  let wake: () => void = () => undefined;
  void (async () => {
    for (;;) {
      seen.push(await crew.bus.next());
      wake();
    }
  })().catch(() => undefined);
  const message = (pred: (m: Body) => boolean, ms = 30_000): Promise<Body> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no such bus message within ${ms}ms; the last work messages: ${JSON.stringify(work().slice(-10))}`)), ms);
      const check = () => {
        const r = seen.find((x) => pred(x.msg as unknown as Body));
        if (!r) return;
        clearTimeout(timer);
        resolve(r.msg as unknown as Body);
      };
      const prev = wake;
      wake = () => {
        prev();
        check();
      };
      check();
    });
  const tasks = (id?: string) => seen.map((r) => r.msg as unknown as Body).filter((m) => m.kind === 'task' && (id === undefined || m.id === id));
  const work = () => seen.map((r) => r.msg as unknown as Body).filter((m) => m.kind === 'task' || m.kind === 'agent' || m.kind === 'headless');
  return { seen, message, tasks };
}

export async function until(sub: BusSubscriber, pred: (r: Received) => boolean, ms = 20_000, seen: Received[] = []): Promise<Received[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => {
    timer = setTimeout(() => {
      const tail = seen.slice(-8).map((r) => `${r.topic} ${JSON.stringify({ ...r.msg, data: undefined })}`);
      rej(new Error(`timed out after ${ms}ms; last messages:\n${tail.join('\n')}`));
    }, ms);
  });
  try {
    for (;;) {
      const r = await Promise.race([sub.next(), timeout]);
      seen.push(r);
      if (pred(r)) return seen;
    }
  } finally {
    clearTimeout(timer);
  }
}

export const isState = (agent: string, to: string) => (r: Received) => r.msg.kind === 'state' && r.msg.agent === agent && r.msg.to === to;

/** True while any of `pids` exists. */
export function anyAlive(pids: number[]): boolean {
  return pids.some((p) => {
    try {
      process.kill(p, 0);
      return !isZombie(p);
    } catch {
      return false;
    }
  });
}

function isZombie(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Polls a condition about the OS, bounded. Only for facts no event reports, such as "these pids
 * are gone" (they are not our children); anything a stream or the bus tells us is awaited instead.
 */
export async function eventually(cond: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${ms}ms`);
    // The polling interval of an OS check, not a synchronisation sleep (see above).
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Text arriving in chunks: a child's stdout/stderr, a PTY. `on` returns how to stop listening. */
export interface TextSource {
  on(listener: (chunk: string) => void): () => void;
}

export const streamSource = (stream: NodeJS.ReadableStream | null | undefined): TextSource => ({
  on(listener) {
    const l = (d: Buffer | string) => listener(d.toString());
    stream?.on('data', l);
    return () => stream?.off('data', l);
  },
});

/** Waits for `re` in the text `source` delivers from now on (after `seen`); rejects after `ms`. */
export function untilText(source: TextSource, re: RegExp, ms = 10_000, seen = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = seen;
    if (re.test(text)) return resolve(text);
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`${re} not seen within ${ms}ms; last text: ${JSON.stringify(text.slice(-300))}`));
    }, ms);
    const stop = source.on((chunk) => {
      text += chunk;
      if (!re.test(text)) return;
      clearTimeout(timer);
      stop();
      resolve(text);
    });
  });
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real `orchestra` command (Node) to completion; `input` is written to its stdin. */
export function runCli(args: string[], opts: { cwd?: string; input?: string | Buffer; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...opts.env } });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    proc.on('close', (code) => resolve({ code, stdout: out, stderr: err }));
    proc.stdin.end(opts.input ?? '');
  });
}

