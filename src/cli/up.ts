/** `orchestra up [FILE]`: run the crew in the foreground until Ctrl-C / SIGTERM. */
import { randomBytes } from 'node:crypto';
import { controlHandlers } from '../supervisor/control-handlers.js';
import { createLogger } from '../host/logger.js';
import { Reaper } from '../host/reaper.js';
import { claimSession, endpoints, releaseSession, SessionBusyError, writeSession } from '../host/session.js';
import { Supervisor } from '../supervisor/supervisor.js';
import { ControlServer } from '../bus/control.js';
import { Publisher } from '../bus/publisher.js';
import { loadConfig } from '../config/load.js';
import { UsageError } from './errors.js';
import { PrefixPrinter } from './prefix-printer.js';

export interface UpOptions {
  readonly file: string;
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

export async function up(opts: UpOptions): Promise<number> {
  const config = loadConfig(opts.file);
  let claim;
  try {
    claim = claimSession(config);
  } catch (err) {
    if (err instanceof SessionBusyError) throw new UsageError(`session "${config.session}" is already running, pid ${err.pid} (${config.stateDir})`, 1);
    throw err;
  }
  const { paths, unclean } = claim;
  // A full disk must not stop the supervisor: it says so once (stderr, bus) and supervises on.
  let publishLogError: (err: Error) => void = () => undefined;
  const { logger } = createLogger(paths.log, {
    stderr: process.stderr.isTTY === true,
    ...config.log,
    events: {
      failed: (err) => {
        process.stderr.write(`orchestra: cannot write its log ${paths.log}: ${err.message}; supervising on without it until it can be written again\n`);
        publishLogError(err);
      },
      resumed: (lost) => process.stderr.write(`orchestra: writing its log ${paths.log} again; ${lost} records were lost\n`),
    },
  });
  if (unclean) {
    const what = `the previous supervisor of this session (pid ${unclean.pid}, run ${unclean.runId}, started ${unclean.startedAt}) did not shut down cleanly; the watchdog killed its agents. Its log: ${paths.log}`;
    logger.warn({ previous: unclean }, what);
    process.stderr.write(`orchestra: note: ${what}\n`);
  }
  const { publish: endpoint, control: controlEndpoint } = endpoints(config);
  const runId = randomBytes(8).toString('hex');
  const colour = process.stdout.isTTY === true;
  // Node writes to a terminal synchronously on Linux: a terminal stopped with Ctrl-S (or a stuck
  // pipe) would freeze the supervisor. Non-blocking, the printer's bounded buffer takes over for
  // agents' output; orchestra's own lines on stderr are few and simply queue.
  setNonBlocking(process.stdout);
  setNonBlocking(process.stderr);
  const printer = new PrefixPrinter(config.agents.map((a) => a.name), process.stdout, colour);

  const reaper = new Reaper();
  const publisher = new Publisher({ endpoint, runId, highWaterMark: config.bus.highWaterMark, queueLimit: config.bus.queueLimit });
  const sup = new Supervisor(config, {
    publisher,
    logger,
    reaper,
    runId,
    listener: {
      output: opts.output ? (agent, data) => printer.output(agent, data) : undefined,
      state: (agent, from, to, reason) => printer.note(agent, `${from ?? 'new'} -> ${to} (${reason})`),
      decision: (agent, d) => printer.note(agent, d.action === 'restart' ? `restarting in ${d.delayMs}ms (attempt ${d.attempt}, ${d.budgetLeft} left in budget)` : `not restarting: ${d.reason}`),
    },
  });
  publishLogError = (err) =>
    publisher.publish('supervisor', '', { kind: 'supervisor', event: 'log-error', pid: process.pid, session: config.session, agents: config.agents.map((a) => a.name), path: paths.log, error: err.message });
  let stopGracefully: (why: string) => Promise<void> = () => Promise.resolve();
  const control = new ControlServer(
    controlEndpoint,
    controlHandlers(sup, config, () => stopGracefully('down requested')),
    (err, cmd) => logger.error({ err: err.stack, cmd }, 'control request failed'),
    (event) =>
      event.kind === 'dropped'
        ? logger.warn(event, 'control client dropped: it did not read its replies; its requests are not run until it reads again')
        : logger.info(event, 'control client reads its replies again'),
  );
  try {
    await publisher.bind();
  } catch (err) {
    reaper.close();
    releaseSession(config.stateDir);
    throw new UsageError(`cannot start the bus on ${endpoint}: ${(err as Error).message}`, 1);
  }
  try {
    await control.bind();
  } catch (err) {
    await publisher.close();
    reaper.close();
    releaseSession(config.stateDir);
    throw new UsageError(`cannot start the control socket on ${controlEndpoint}: ${(err as Error).message}`, 1);
  }
  writeSession(config.stateDir, {
    pid: process.pid,
    runId,
    session: config.session,
    config: config.file,
    publish: publisher.endpoint,
    control: control.boundEndpoint,
    startedAt: new Date().toISOString(),
  });
  logger.info({ endpoint: publisher.endpoint, stateDir: config.stateDir }, 'supervisor started');
  process.stderr.write(`orchestra: session "${config.session}" up; bus ${publisher.endpoint}; logs in ${paths.logs}\n`);

  // `orchestra up 2>&1 | head`: once stdout or stderr is gone, nothing more is shown there; the
  // agents keep running, and orchestra's own log file still gets every record.
  for (const [name, stream] of [['stdout', process.stdout], ['stderr', process.stderr]] as const) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') logger.error({ err: err.message }, `${name} error`);
    });
  }
  const done = new Promise<number>((resolve) => {
    // A bug of ours must not leave agents behind or end in a stack trace.
    let failed = false;
    process.on('uncaughtException', (err) => {
      const first = !failed;
      failed = true;
      // The forced stop starts before anything is reported: no reporting failure may skip it.
      if (first) void sup.forceStop().then(() => resolve(1), () => resolve(1));
      try {
        logger.fatal({ err: err.stack }, 'unexpected error; killing all agents');
        if (first) process.stderr.write(`orchestra: unexpected error: ${err.message}; all agents killed (details in ${paths.log})\n`);
      } catch {
        // reporting is best effort here; a second error must not loop
      }
    });
    let stop: 'none' | 'graceful' | 'forced' = 'none';
    let graceful: Promise<void> | undefined;
    stopGracefully = (why) => {
      if (graceful) return graceful;
      stop = 'graceful';
      const hint = why.startsWith('SIG') ? ' (press Ctrl+C again to force)' : '';
      process.stderr.write(`\norchestra: ${why}: gracefully stopping...${hint}\n`);
      // A forced stop may finish the graceful one early: the exit code says which happened.
      graceful = sup.shutdown().then((how) => {
        if (stop === 'forced') return resolve(130);
        if (how === 'forced') {
          process.stderr.write(`orchestra: the graceful stop did not finish within its deadline; the rest was killed (details in ${paths.log})\n`);
          return resolve(1);
        }
        resolve(0);
      });
      return graceful;
    };
    const onSignal = (sig: NodeJS.Signals) => {
      if (stop === 'none') {
        void stopGracefully(sig);
      } else if (stop === 'graceful') {
        stop = 'forced';
        process.stderr.write('orchestra: forcing stop: killing all agents\n');
        void sup.forceStop().then(
          () => resolve(130),
          () => resolve(130),
        );
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);
  });
  if (opts.awaitSubscriber && !(await publisher.firstSubscription(AWAIT_SUBSCRIBER_MS))) {
    logger.warn(`no bus subscriber within ${AWAIT_SUBSCRIBER_MS}ms; starting agents anyway`);
  }
  sup.start();
  const code = await done;
  printer.close();
  await control.close();
  await publisher.close();
  reaper.close();
  releaseSession(config.stateDir);
  logger.info('supervisor stopped');
  logger.flush();
  exitWhenStuck(code);
  return code;
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
