/**
 * The composition root: runs one crew in this process. It claims the session's state directory,
 * creates the logger, the reaper, the bus publisher, the supervisor and the control server, binds
 * both sockets, writes supervisor.json and starts the agents; stopping closes it all in order.
 * `orchestra up` calls it; so can any program that embeds orchestra (no CLI needed). It prints
 * nothing: what an operator should hear is handed to `notice`.
 */
import { randomBytes } from 'node:crypto';
import type pino from 'pino';
import { ControlServer } from '../bus/control.js';
import { Publisher } from '../bus/publisher.js';
import type { OrchestraConfig } from '../config/types.js';
import { controlHandlers } from '../supervisor/control-handlers.js';
import { Supervisor, type SupervisorListener } from '../supervisor/supervisor.js';
import { Sessions } from '../work/sessions.js';
import { Tasks } from '../work/tasks.js';
import { crewWorktrees, Work } from '../work/work.js';
import { systemClock } from './clock.js';
import { createLogger } from './logger.js';
import { Reaper } from './reaper.js';
import { claimSession, endpoints, releaseSession, type sessionPaths, writeSession } from './session.js';

// `orchestra/host` is this module: what an embedding program needs besides start() comes with it.
export { loadConfig, parseConfig } from '../config/load.js';
export type { OrchestraConfig } from '../config/types.js';
export { SessionBusyError } from './session.js';
export type { Supervisor, SupervisorListener } from '../supervisor/supervisor.js';
export type { Ended, SpawnOptions, Work } from '../work/work.js';
export type { SessionRequest, SessionResult, Sessions } from '../work/sessions.js';

/** What an operator should hear about while the crew runs (the CLI writes these on stderr). */
export type HostNotice =
  /** The previous supervisor of this session did not shut down cleanly; its agents were killed. */
  | { readonly kind: 'unclean-previous'; readonly message: string }
  /** orchestra's own log file cannot be written (a full disk): supervising goes on without it. */
  | { readonly kind: 'log-failed'; readonly path: string; readonly error: Error }
  /** The log file is written again; `lost` records could not be written meanwhile. */
  | { readonly kind: 'log-resumed'; readonly path: string; readonly lost: number };

export interface StartOptions {
  /** In-process observations of agents' output, state changes and restart decisions. */
  readonly listener?: SupervisorListener;
  /** Also show the log's warnings and errors on stderr, readably (default: only the log file). */
  readonly logToStderr?: boolean;
  /** Called for each notice (default: none; everything is in the log file too). */
  readonly notice?: (notice: HostNotice) => void;
  /** Called once both sockets are bound and supervisor.json is written, before any agent starts. */
  readonly bound?: (crew: Crew) => void;
  /** Start agents only once a bus subscriber is there, waiting at most this long (default: at once). */
  readonly awaitSubscriberMs?: number;
  /** What a control `down` request does (default: `stop()`); its reply is sent once this resolves. */
  readonly down?: () => Promise<void>;
}

/** A running crew. */
export interface Crew {
  /** The supervisor: agents' status and operations (send, key, stop/start/restart) in-process. */
  readonly supervisor: Supervisor;
  /** Ephemeral agents from templates (spawn, their ends) in-process. */
  readonly work: Work;
  /** The task queue (add, list, cancel) in-process. */
  readonly tasks: Tasks;
  /** On-demand sessions (get) in-process. */
  readonly sessions: Sessions;
  /** This run's id, stamped on every bus message. */
  readonly runId: string;
  /** Where the bus (publish) and the control socket are bound (tcp ports resolved). */
  readonly endpoints: { readonly publish: string; readonly control: string };
  /** The session's files: state directory, supervisor.json, orchestra's log, agents' logs. */
  readonly paths: ReturnType<typeof sessionPaths>;
  /** orchestra's own logger (JSON lines in `paths.log`). */
  readonly logger: pino.Logger;
  /** Stops every agent gracefully (dependents first), then closes; says whether it had to force. */
  stop(): Promise<'graceful' | 'forced'>;
  /** Kills every agent at once (it can overtake a running `stop()`), then closes. */
  forceStop(): Promise<void>;
  /** Resolves once the crew has stopped and the sockets, reaper and session are released. */
  readonly closed: Promise<void>;
}

/** Binding a socket failed; nothing is left claimed or open. */
export class StartError extends Error {}

/**
 * Runs `config`'s crew: resolves once the agents are starting. Throws SessionBusyError when the
 * session already runs, StartError when a socket cannot be bound.
 */
export async function start(configured: OrchestraConfig, opts: StartOptions = {}): Promise<Crew> {
  const notice = opts.notice ?? (() => undefined);
  const { paths, unclean } = claimSession(configured);
  // Crew agents with `worktree:` run in theirs: the config the supervisor runs has their cwd there.
  const { config, worktrees } = await crewWorktrees(configured).catch((err: Error) => {
    releaseSession(configured.stateDir);
    throw new StartError(err.message);
  });
  // A full disk must not stop the supervisor: it says so once (notice, bus) and supervises on.
  let publishLogError: (err: Error) => void = () => undefined;
  const { logger } = createLogger(paths.log, {
    stderr: opts.logToStderr === true,
    ...config.log,
    events: {
      failed: (error) => {
        notice({ kind: 'log-failed', path: paths.log, error });
        publishLogError(error);
      },
      resumed: (lost) => notice({ kind: 'log-resumed', path: paths.log, lost }),
    },
  });
  if (unclean) {
    const what = `the previous supervisor of this session (pid ${unclean.pid}, run ${unclean.runId}, started ${unclean.startedAt}) did not shut down cleanly; the watchdog killed its agents. Its log: ${paths.log}`;
    logger.warn({ previous: unclean }, what);
    notice({ kind: 'unclean-previous', message: what });
  }
  const { publish: endpoint, control: controlEndpoint } = endpoints(config);
  const runId = randomBytes(8).toString('hex');

  const reaper = new Reaper();
  const publisher = new Publisher({ endpoint, runId, highWaterMark: config.bus.highWaterMark, queueLimit: config.bus.queueLimit });
  const supervisor = new Supervisor(config, { publisher, logger, reaper, runId, listener: opts.listener });
  const work = new Work(config, supervisor, { publisher, logger, clock: systemClock, reaper, runId });
  work.adopt(worktrees);
  let tasks: Tasks;
  try {
    tasks = new Tasks(config, supervisor, work, { publisher, logger, clock: systemClock });
  } catch (err) {
    releaseSession(config.stateDir);
    throw new StartError((err as Error).message);
  }
  const sessions = new Sessions(config, supervisor, work, { logger, clock: systemClock });
  publishLogError = (err) =>
    publisher.publish('supervisor', '', { kind: 'supervisor', event: 'log-error', pid: process.pid, session: config.session, agents: config.agents.map((a) => a.name), path: paths.log, error: err.message });
  // The handlers are built before the crew exists; `down` reaches it through this late binding.
  let down: () => Promise<void> = () => Promise.resolve();
  const control = new ControlServer(
    controlEndpoint,
    controlHandlers(supervisor, config, () => down(), work, tasks, sessions),
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
    throw new StartError(`cannot start the bus on ${endpoint}: ${(err as Error).message}`);
  }
  try {
    await control.bind();
  } catch (err) {
    await publisher.close();
    reaper.close();
    releaseSession(config.stateDir);
    throw new StartError(`cannot start the control socket on ${controlEndpoint}: ${(err as Error).message}`);
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

  // Whichever stop finishes first (a forced one can overtake a graceful one) closes the host, once.
  let beginClose: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (beginClose = resolve)).then(async () => {
    await control.close();
    await publisher.close();
    reaper.close();
    releaseSession(config.stateDir);
    logger.info('supervisor stopped');
    logger.flush();
  });
  let stopping: Promise<'graceful' | 'forced'> | undefined;
  // Dispatch ends before the agents stop: their ends are the session's, not their tasks'.
  // Headless runs are stopped beside the crew.
  const shutdown = () => {
    tasks.close();
    sessions.close();
    const runs = work.stopRuns();
    return supervisor.shutdown().then((how) => runs.then(() => how));
  };
  const crew: Crew = {
    supervisor,
    work,
    tasks,
    sessions,
    runId,
    endpoints: { publish: publisher.endpoint, control: control.boundEndpoint },
    paths,
    logger,
    stop: () =>
      (stopping ??= shutdown().then(async (how) => {
        await work.close();
        beginClose();
        return how;
      })),
    // Even a failed forced stop ends the run: nothing is left to try.
    forceStop: () => {
      tasks.close();
      sessions.close();
      void work.stopRuns(true);
      return supervisor
        .forceStop()
        .then(() => work.close())
        .finally(beginClose);
    },
    closed,
  };
  down = opts.down ?? (() => crew.stop().then(() => undefined));
  opts.bound?.(crew);
  if (opts.awaitSubscriberMs !== undefined && !(await publisher.firstSubscription(opts.awaitSubscriberMs))) {
    logger.warn(`no bus subscriber within ${opts.awaitSubscriberMs}ms; starting agents anyway`);
  }
  supervisor.start();
  tasks.start();
  return crew;
}
