/**
 * The session's headless runs (docs/work.md#headless-runs): templates with `mode: headless`, each
 * spawn or task one run of the template's command for one prompt (headless-run.ts), published on
 * the bus as it goes (`headless` kind: started, each stream event, ended with the result) and
 * stopped like an agent, its whole process session, on a timeout, a cancel or the session's end.
 *
 *   running ──(exit | timeout | stop)──▶ finishing (its worktree cleaned up) ──▶ ended (published, result settles)
 *
 * A run is no agent of the supervisor: it has no terminal, no state machine and no place in `ps`.
 * Its name stays taken (for agents too) until it has ended.
 */
import type pino from 'pino';
import { ControlError } from '../bus/control-protocol.js';
import type { HeadlessBody, WorktreeInfo } from '../bus/protocol.js';
import type { Publisher } from '../bus/publisher.js';
import type { TemplateConfig } from '../config/types.js';
import { resolveCommand } from '../host/command.js';
import type { Reaper } from '../host/reaper.js';
import { type HeadlessResult, outputFormat } from './headless.js';
import { type HeadlessRun, runHeadless } from './headless-run.js';

export interface RunRequest {
  readonly name: string;
  /** A template with `headless` settings. */
  readonly template: TemplateConfig;
  readonly cwd: string;
  /** The rendered prompt: the command's last argument (none when undefined). */
  readonly prompt: string | undefined;
  /** The task it runs, null for a one-off spawn. */
  readonly task: string | null;
  readonly worktree: WorktreeInfo | null;
  /** Where its output goes, as an agent's log (`orchestra logs NAME`). */
  readonly log: string;
  /** Once the run has ended, before its end is published: cleans its worktree up, saying what became of it. */
  readonly finish: () => Promise<WorktreeInfo | null>;
}

export interface HeadlessRunsDeps {
  readonly publisher: Pick<Publisher, 'publish'>;
  readonly logger: pino.Logger;
  readonly session: string;
  /** The supervisor's watchdog and run id: a run's processes are killed with the agents' if the supervisor dies. */
  readonly reaper?: Pick<Reaper, 'track' | 'untrack'> | undefined;
  readonly runId?: string | undefined;
}

interface Running {
  readonly run: HeadlessRun;
  /** Settles once the run has ended and its end is published. */
  readonly ended: Promise<HeadlessResult>;
}

export class HeadlessRuns {
  private readonly runs = new Map<string, Running>();
  private phase: 'open' | 'closing' = 'open';

  constructor(private readonly deps: HeadlessRunsDeps) {}

  /** Whether a run of this name has not ended yet. */
  has(name: string): boolean {
    return this.runs.has(name);
  }

  /** Starts the run; the promise settles with its result once it has ended (it never rejects). */
  start(r: RunRequest): Promise<HeadlessResult> {
    const settings = r.template.headless;
    if (!settings) throw new Error(`template "${r.template.name}" is not headless`);
    // Once the session's runs are being stopped, a new one would outlive the stop.
    if (this.phase === 'closing') throw new ControlError('shutting-down', 'the supervisor is shutting down: no new headless runs');
    const a = r.template.agent;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    Object.assign(env, a.env, { ORCHESTRA_SESSION: this.deps.session });
    const { publisher, logger, reaper, runId } = this.deps;
    const publish = (body: DistributiveOmit<HeadlessBody, 'kind' | 'task'>) => publisher.publish('headless', r.name, { kind: 'headless', task: r.task, ...body } as HeadlessBody);
    const run = runHeadless(
      {
        name: r.name,
        // As a shell would find it; one that cannot be found fails the run with spawn's own reason.
        file: resolveCommand(a.command, r.cwd, env.PATH) ?? a.command,
        args: r.prompt === undefined ? a.args : [...a.args, r.prompt],
        cwd: r.cwd,
        env,
        format: outputFormat(settings.output),
        timeoutMs: settings.timeoutMs,
        stop: { signal: a.stop.signal, graceMs: a.stop.graceMs },
        log: r.log,
        ...(runId === undefined ? {} : { run: runId }),
      },
      {
        event: (data) => publish({ event: 'stream', data: data as Record<string, unknown> }),
        skipped: (why, excerpt) => {
          publish({ event: 'skipped', why, excerpt });
          logger.warn({ run: r.name, why, excerpt }, 'headless run: a line of its output skipped');
        },
        logFailed: (message) => logger.warn({ run: r.name }, `headless run: its log is not written (${message}); its events are on the bus`),
      },
    );
    const pid = run.pid ?? null;
    if (pid !== null && runId !== undefined) reaper?.track(pid, runId);
    publish({ event: 'started', template: r.template.name, pid, worktree: r.worktree });
    logger.info({ run: r.name, template: r.template.name, task: r.task, pid, cwd: r.cwd }, 'headless run started');
    const ended = run.result.then(async (result) => {
      if (pid !== null && runId !== undefined) reaper?.untrack(pid);
      const worktree = await r.finish().catch((err: Error) => {
        logger.error({ run: r.name, err: err.message }, 'headless run: worktree clean-up failed');
        return r.worktree;
      });
      this.runs.delete(r.name);
      publish({ event: 'ended', template: r.template.name, result, worktree });
      logger.info({ run: r.name, task: r.task, ok: result.ok, reason: result.reason, exitCode: result.exitCode, durationMs: result.durationMs }, 'headless run ended');
      return result;
    });
    this.runs.set(r.name, { run, ended });
    return ended;
  }

  /** Stops a run that has not ended (its result then fails with `why`): its end; undefined when there is no such run. */
  stop(name: string, why: string): Promise<HeadlessResult> | undefined {
    const running = this.runs.get(name);
    running?.run.stop(why);
    return running?.ended;
  }

  /** Stops every run (forced: at once) and resolves once each has ended. */
  async close(force = false): Promise<void> {
    this.phase = 'closing';
    const all = [...this.runs.values()];
    for (const { run } of all) run.stop('the session is going down', force);
    await Promise.all(all.map((r) => r.ended));
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
