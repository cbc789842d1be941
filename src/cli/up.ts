/** `orchestra up [FILE]`: run the crew in the foreground until Ctrl-C / SIGTERM. */
import { SessionBusyError } from '../host/session.js';
import { type Crew, type HostNotice, start, StartError } from '../host/start.js';
import { resolve } from 'node:path';
import { ConfigError } from '../config/issues.js';
import { loadConfigFiles } from '../config/load.js';
import type { OrchestraConfig } from '../config/types.js';
import { UsageError } from './errors.js';
import { PrefixPrinter } from './prefix-printer.js';
import { reload } from '../supervisor/control-handlers.js';
import { reloadLines } from './reload.js';
import { register } from './registry.js';
import { checkAgent } from './session-client.js';

export interface UpOptions {
  readonly files: readonly string[];
  /** Only these agents and what they depend on (none: all). */
  readonly only: readonly string[];
  readonly colour: boolean;
  /** Print agents' output on stdout (docker compose style). */
  readonly output: boolean;
  /** Start agents only once a bus subscriber is there (bounded by AWAIT_SUBSCRIBER_MS). */
  readonly awaitSubscriber: boolean;
}

const AWAIT_SUBSCRIBER_MS = 10_000;
/** After the supervisor has stopped: how long stdout may make no progress (a loaded machine can starve a reader for seconds) before `up` exits anyway. */
export const EXIT_FALLBACK_MS = 5000;

/** Node's stdio streams keep their libuv handle private; `setBlocking` exists on TTY and pipe handles. */
function setNonBlocking(stream: NodeJS.WriteStream): void {
  const handle = (stream as unknown as { _handle?: { setBlocking?: (blocking: boolean) => number } })._handle;
  handle?.setBlocking?.(false);
}

/** The config with only `names` and their dependencies, direct or not (in start order); all agents when none is named. */
export function selectAgents(config: OrchestraConfig, names: readonly string[]): OrchestraConfig {
  if (names.length === 0) return config;
  for (const n of names) checkAgent(config, n);
  const keep = new Set(names);
  // Start order puts dependencies first: walking it backwards reaches each one after its dependents.
  for (const a of [...config.agents].reverse()) if (keep.has(a.name)) for (const d of a.dependsOn) keep.add(d);
  return { ...config, agents: config.agents.filter((a) => keep.has(a.name)) };
}

export async function up(opts: UpOptions): Promise<number> {
  const config = selectAgents(loadConfigFiles(opts.files), opts.only);
  const colour = opts.colour;
  // Node writes to a terminal synchronously on Linux: a terminal stopped with Ctrl-S (or a stuck
  // pipe) would freeze the supervisor. Non-blocking, the printer's bounded buffer takes over for
  // agents' output; orchestra's own lines on stderr are few and simply queue.
  setNonBlocking(process.stdout);
  setNonBlocking(process.stderr);
  const printer = new PrefixPrinter(config.agents.map((a) => a.name), process.stdout, colour);

  let finish: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (finish = resolve));
  let stopGracefully: (why: string) => Promise<void> = () => Promise.resolve();
  let crew: Crew;
  let unregister: () => void = () => undefined;
  try {
    crew = await start(config, {
      logToStderr: process.stderr.isTTY === true,
      notice: (n) => process.stderr.write(noticeLine(n)),
      listener: {
        output: opts.output ? (agent, data) => printer.output(agent, data) : undefined,
        state: (agent, from, to, reason) => printer.note(agent, `${from ?? 'new'} -> ${to} (${reason})`),
        decision: (agent, d) => printer.note(agent, d.action === 'restart' ? `restarting in ${d.delayMs}ms (attempt ${d.attempt}, ${d.budgetLeft} left in budget)` : `not restarting: ${d.reason}`),
      },
      down: () => stopGracefully('down requested'),
      awaitSubscriberMs: opts.awaitSubscriber ? AWAIT_SUBSCRIBER_MS : undefined,
      // Before any agent starts, as before start() existed: from here Ctrl-C stops the crew.
      bound: (c) => {
        process.stderr.write(`orchestra: session "${config.session}" up; bus ${c.endpoints.publish}; logs in ${c.paths.logs}\n`);
        unregister = register(config, opts.files.map((f) => resolve(f)), config.agents.map((a) => a.name));
        stopGracefully = superviseUntilStopped(c, finish, process.env.ORCHESTRA_DETACHED === '1' ? () => void reloadFromFiles(c, opts.files) : undefined);
      },
    });
  } catch (err) {
    if (err instanceof SessionBusyError) throw new UsageError(`session "${config.session}" is already running, pid ${err.pid} (${config.stateDir})`, 1);
    if (err instanceof StartError) throw new UsageError(err.message, 1);
    throw err;
  }
  const code = await done;
  unregister();
  printer.close();
  await crew.closed;
  exitWhenStuck(code);
  return code;
}

/** SIGHUP to a daemon: the config files read again and applied; what was done goes to its log. */
async function reloadFromFiles(crew: Crew, files: readonly string[]): Promise<void> {
  try {
    const next = loadConfigFiles(files);
    const r = await reload(next, crew.supervisor, crew.work, crew.tasks, crew.sessions);
    const lines = reloadLines(r);
    crew.logger.info({ actions: r.actions, failed: r.failed, notApplied: r.not_applied }, `reload on SIGHUP:\n${lines.out}${lines.err}`);
  } catch (err) {
    const why = err instanceof ConfigError ? err.message : (err as Error).message;
    crew.logger.error(`reload on SIGHUP not done: ${why}`);
  }
}

/** A notice of the host as the line `up` writes on stderr. */
function noticeLine(n: HostNotice): string {
  switch (n.kind) {
    case 'unclean-previous':
      return `orchestra: note: ${n.message}\n`;
    case 'log-failed':
      return `orchestra: cannot write its log ${n.path}: ${n.error.message}; supervising on without it until it can be written again\n`;
    case 'log-resumed':
      return `orchestra: writing its log ${n.path} again; ${n.lost} records were lost\n`;
  }
}

/**
 * Signals (Ctrl-C once graceful, twice forced), a lost stdout/stderr and a bug of ours, each ending
 * in `finish(exit code)`. Returns the graceful stop, for `down`.
 */
function superviseUntilStopped(crew: Crew, finish: (code: number) => void, hangup?: () => void): (why: string) => Promise<void> {
  const { logger, paths } = crew;
  // `orchestra up 2>&1 | head`: once stdout or stderr is gone, nothing more is shown there; the
  // agents keep running, and orchestra's own log file still gets every record.
  for (const [name, stream] of [['stdout', process.stdout], ['stderr', process.stderr]] as const) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') logger.error({ err: err.message }, `${name} error`);
    });
  }
  // A bug of ours must not leave agents behind or end in a stack trace.
  let failed = false;
  process.on('uncaughtException', (err) => {
    const first = !failed;
    failed = true;
    // The forced stop starts before anything is reported: no reporting failure may skip it.
    if (first) void crew.forceStop().then(() => finish(1), () => finish(1));
    try {
      logger.fatal({ err: err.stack }, 'unexpected error; killing all agents');
      if (first) process.stderr.write(`orchestra: unexpected error: ${err.message}; all agents killed (details in ${paths.log})\n`);
    } catch {
      // reporting is best effort here; a second error must not loop
    }
  });
  let stop: 'none' | 'graceful' | 'forced' = 'none';
  let graceful: Promise<void> | undefined;
  const stopGracefully = (why: string): Promise<void> => {
    if (graceful) return graceful;
    stop = 'graceful';
    const hint = why.startsWith('SIG') ? ' (press Ctrl+C again to force)' : '';
    process.stderr.write(`\norchestra: ${why}: gracefully stopping...${hint}\n`);
    // A forced stop may finish the graceful one early: the exit code says which happened.
    graceful = crew.stop().then((how) => {
      if (stop === 'forced') return finish(130);
      if (how === 'forced') {
        process.stderr.write(`orchestra: the graceful stop did not finish within its deadline; the rest was killed (details in ${paths.log})\n`);
        return finish(1);
      }
      finish(0);
    });
    return graceful;
  };
  const onSignal = (sig: NodeJS.Signals) => {
    if (stop === 'none') {
      void stopGracefully(sig);
    } else if (stop === 'graceful') {
      stop = 'forced';
      process.stderr.write('orchestra: forcing stop: killing all agents\n');
      void crew.forceStop().then(
        () => finish(130),
        () => finish(130),
      );
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A terminal's hangup ends a foreground `up`, as it ends a shell; a daemon has no terminal, and
  // SIGHUP asks it to take its config again, as daemons do.
  process.on('SIGHUP', hangup ?? onSignal);
  return stopGracefully;
}

/**
 * Node exits by itself once stdout has written what is queued. Two things could keep `up` alive
 * for ever after a stop: a worker that never closed (Supervisor.closeWorkers gave up on it) and a
 * stdout nobody reads. One Ctrl-C must end `up`, so once stdout makes no progress for
 * EXIT_FALLBACK_MS (or has nothing left and the process still runs), it exits. A reader that is
 * merely slow (a loaded machine, a pager) still gets everything. Unref'd: a clean exit never waits.
 */
function exitWhenStuck(code: number): void {
  let last = unwritten(process.stdout);
  setInterval(() => {
    const now = unwritten(process.stdout);
    const progressed = now.buffered < last.buffered || (now.buffered === last.buffered && now.inWrite < last.inWrite);
    if (now.buffered === 0 || !progressed) process.exit(code);
    last = now;
  }, EXIT_FALLBACK_MS).unref();
}

/**
 * What stdout has not written yet. Once the first write is under way, Node hands every chunk
 * queued behind it to the next write at once, and `writableLength` counts them all until that whole
 * write is done; a slow reader's progress shows in the handle's count of that write's bytes left.
 */
function unwritten(stream: NodeJS.WriteStream): { buffered: number; inWrite: number } {
  const handle = (stream as unknown as { _handle?: { writeQueueSize?: number } })._handle;
  return { buffered: stream.writableLength, inWrite: handle?.writeQueueSize ?? 0 };
}
