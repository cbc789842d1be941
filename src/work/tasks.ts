/**
 * The task queue at work in a running session (docs/work.md#tasks): it holds the one queue (from
 * and to `STATE_DIR/tasks.json`), plans a dispatch step after every event that can change what
 * may start, and carries out each start through the supervisor's and Work's public operations:
 *
 *   template task:  queue.start → Work.spawn(TEMPLATE-ID) ─(Work ended: done, exit 0)──▶ finish
 *                                                          └(exit ≠ 0, stopped, spawn refused)──▶ fail (requeued while attempts are left)
 *   headless template:  queue.start → Work.start(TEMPLATE-ID) ─(its result: ok)──▶ finish with text, usage, exit code, duration
 *                                                             └(failed: error, exit, timeout)──▶ fail
 *   pool task:      queue.start → Supervisor.send(agent) ─(delivered, then the agent is ready again, or its sidecar says done)──▶ finish
 *                                                        └(not delivered; the agent exited, stopped, died)──▶ fail
 *
 * Every change is saved, then published on the bus (`task` kind) as the queue worded it.
 */
import type pino from 'pino';
import { ControlError, type Results } from '../bus/control-protocol.js';
import type { Publisher } from '../bus/publisher.js';
import type { OrchestraConfig, TemplateConfig } from '../config/types.js';
import type { Clock } from '../host/clock.js';
import type { BlockedInfo } from '../machines/agent.js';
import { compileSignatures, screenVerdict } from '../machines/screen-verdict.js';
import type { AgentEvent, Supervisor } from '../supervisor/supervisor.js';
import { makeBuckets, type Plan, planDispatch, type PoolAgent, type Start, type TargetSettings } from './dispatch.js';
import { DEFAULT_QUOTA_OPTIONS, type QuotaOptions, type QuotaPause, activePauses, quotaPause, sidecarQuota, withPause } from './quota.js';
import type { TokenBucket } from './rate-limit.js';
import { loadTasks, saveTasks, tasksFile } from './task-store.js';
import { type TaskNotice, TaskQueue, type TaskSpec } from './task-queue.js';
import { type Ended, isObject, type Work } from './work.js';
import type { HeadlessResult } from './headless.js';

export interface TasksDeps {
  readonly publisher: Pick<Publisher, 'publish'>;
  readonly logger: pino.Logger;
  readonly clock: Clock;
  readonly random?: () => number;
}

/** A pool task's run: its prompt is being sent, or was delivered and the agent works on it. */
interface PoolRun {
  readonly task: string;
  phase: 'sending' | 'working';
}

/** States in which an agent no longer runs the task it was given. */
const GONE = new Set(['exited', 'stopped', 'dead', 'restarting']);

export class Tasks {
  private readonly queue: TaskQueue;
  private readonly file: string;
  private templates: ReadonlyMap<string, TargetSettings> = new Map();
  private pools: ReadonlyMap<string, TargetSettings> = new Map();
  private buckets: ReadonlyMap<string, TokenBucket> = new Map();
  private readonly quota: QuotaOptions;
  private pauses: QuotaPause[] = [];
  private plan: Plan = { starts: [], waiting: new Map() };
  private wake: { readonly at: number; readonly id: unknown } | null = null;
  /** Running tasks by their agent: spawned agents (by name) and pool agents given a task. */
  private readonly spawned = new Map<string, string>();
  private readonly sends = new Map<string, PoolRun>();
  private phase: 'idle' | 'running' | 'closed' = 'idle';
  private planned = false;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private config: OrchestraConfig,
    private readonly supervisor: Supervisor,
    private readonly work: Work,
    private readonly deps: TasksDeps,
  ) {
    const t = config.tasks;
    this.file = tasksFile(config.stateDir);
    const options = { depth: t.depth, backoff: t.backoff, keepRecent: t.keepRecent, random: deps.random ?? Math.random };
    const loaded = loadTasks(this.file, deps.clock.now());
    if (loaded.warning) deps.logger.warn(loaded.warning);
    this.queue = TaskQueue.restore(loaded.queue, options);
    if (loaded.queue.tasks.length > 0) deps.logger.info({ tasks: loaded.queue.tasks.length }, `task queue taken up from ${this.file}`);
    this.targets(config);
    this.quota = { ...DEFAULT_QUOTA_OPTIONS, fallbackMs: t.quotaWaitMs };
  }

  /**
   * A reloaded config's templates, pools and pool members take effect for the tasks to come. A rate
   * limit left as it was keeps its bucket (a reload is no way round a limit); the `tasks:` block
   * itself (depth, backoff) is the session's and waits for the next one.
   */
  useConfig(next: OrchestraConfig): void {
    const before = this.buckets;
    this.config = { ...next, tasks: this.config.tasks, stateDir: this.config.stateDir };
    this.targets(next);
    this.buckets = new Map(
      [...this.buckets].map(([key, bucket]) => {
        const old = before.get(key);
        return [key, old && JSON.stringify(old.limit) === JSON.stringify(bucket.limit) ? old : bucket] as const;
      }),
    );
    this.schedule();
  }

  private targets(config: OrchestraConfig): void {
    const limits = (s: { concurrency: number | undefined; rate: TargetSettings['rate'] | undefined }, provider?: string): TargetSettings => ({
      concurrency: s.concurrency ?? Infinity,
      ...(s.rate ? { rate: s.rate } : {}),
      ...(provider === undefined ? {} : { provider }),
    });
    this.templates = new Map(config.templates.map((tp) => [tp.name, limits(tp, tp.agent.provider)]));
    this.pools = new Map(config.pools.map((p) => [p.name, limits(p)]));
    this.buckets = makeBuckets(this.templates, this.pools, this.deps.clock);
  }

  /** Follows the session's agents and starts dispatching (once the supervisor has started its crew). */
  start(): void {
    if (this.phase !== 'idle') return;
    this.phase = 'running';
    this.unsubscribe.push(
      this.supervisor.watch((e) => this.onAgentEvent(e)),
      this.work.onEnded((e) => this.onEnded(e)),
    );
    this.schedule();
  }

  /**
   * Stops dispatching before the crew stops: the agents' ends that follow are the session's, not
   * the tasks' (a running task is saved as running, and queued again by the next supervisor).
   */
  close(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    for (const u of this.unsubscribe.splice(0)) u();
    if (this.wake) this.deps.clock.clearTimeout(this.wake.id);
    this.wake = null;
  }

  /** `task.add`: queued (with its place) or refused; either way the task has an id. */
  add(a: Omit<TaskSpec, 'target' | 'attempts'> & { readonly template?: string | undefined; readonly pool?: string | undefined; readonly attempts?: number | undefined }): Results['task.add'] {
    this.requireRunning();
    const target = a.template !== undefined ? { template: a.template } : { pool: a.pool ?? '' };
    const attempts = a.attempts ?? this.defaultAttempts(target);
    if (a.template !== undefined) this.work.check(a.template, { vars: a.vars, prompt: a.prompt });
    const notice = this.change(this.queue.add({ target, prompt: a.prompt, priority: a.priority, ...(a.key === undefined ? {} : { key: a.key }), vars: a.vars, attempts }, this.now()));
    this.schedule();
    const b = notice.body;
    if (b.event === 'refused') return { id: b.id, outcome: 'refused', why: b.why, reason: b.reason };
    return { id: b.id, outcome: 'queued', position: b.event === 'queued' ? b.position : 0 };
  }

  /** `task.list`: the status snapshot, with the `recent` newest finished tasks. */
  list(recent: number): Results['task.list'] {
    const now = this.now();
    const s = this.queue.snapshot(now, { waiting: this.plan.waiting, paused: activePauses(this.pauses, now) });
    return { ...s, recent: s.recent.slice(0, recent) };
  }

  /** `task.cancel`: out of the queue; a running one's spawned agent is stopped, a pool agent interrupted. */
  cancel(id: string): Results['task.cancel'] {
    const task = this.queue.get(id);
    const notice = task && this.queue.cancel(id, this.now());
    if (!task || !notice) return { id, cancelled: false, reason: `no task "${id}" is queued or running (it ended, or never was; see orchestra tasks)` };
    this.change(notice);
    const agent = task.agent;
    if (task.state === 'started' && agent !== undefined) {
      if (this.spawned.delete(agent)) this.stopCancelled(agent, id);
      else if (this.sends.delete(agent)) this.supervisor.key(agent, 'interrupt').catch((err: Error) => this.deps.logger.warn({ agent, task: id, err: err.message }, 'interrupting a cancelled task\'s agent failed'));
    }
    this.schedule();
    return { id, cancelled: true, was: task.state };
  }

  private stopCancelled(agent: string, task: string): void {
    if (this.work.stopRun(agent, `task ${task} was cancelled`) !== undefined) return;
    // Not an agent yet (its spawn is still making its worktree): the spawn stops it once it is one.
    if (!this.supervisor.statusOf(agent)) return;
    this.supervisor.stopAgent(agent).catch((err: Error) => this.deps.logger.warn({ agent, task, err: err.message }, "stopping a cancelled task's agent failed"));
  }

  private requireRunning(): void {
    if (this.phase !== 'running') throw new ControlError('shutting-down', 'the supervisor is shutting down: no new tasks');
  }

  private defaultAttempts(target: TaskSpec['target']): number {
    if ('template' in target) {
      const t = this.config.templates.find((x) => x.name === target.template);
      if (!t) throw new ControlError('bad-request', `no template named "${target.template}" (templates: ${this.config.templates.map((x) => x.name).join(', ') || `none in ${this.config.file}`})`);
      return t.attempts;
    }
    const known = [...new Set(this.config.agents.flatMap((x) => (x.pool === undefined ? [] : [x.pool])))];
    if (!known.includes(target.pool)) throw new ControlError('bad-request', `no pool named "${target.pool}" (pools: ${known.join(', ') || `no agent in ${this.config.file} has pool:`})`);
    return this.config.pools.find((p) => p.name === target.pool)?.attempts ?? 1;
  }

  private now(): number {
    return this.deps.clock.now();
  }

  /** Saves the queue, then publishes the change: a subscriber never hears of a task a crash would lose. */
  private change<N extends TaskNotice | undefined>(notice: N): N {
    if (!notice) return notice;
    try {
      saveTasks(this.file, this.queue.persisted());
    } catch (err) {
      this.deps.logger.error({ file: this.file, err: (err as Error).message }, 'cannot save the task queue; it is kept in memory');
    }
    this.deps.publisher.publish('task', notice.agent, { kind: 'task', ...notice.body });
    this.deps.logger.info({ agent: notice.agent || undefined, ...notice.body }, `task ${notice.body.id} ${notice.body.event}`);
    return notice;
  }

  /**
   * Plans once the current event is over. Agent events arrive in the middle of the supervisor's
   * step, where an agent being added has no state yet and a start would add another: planning
   * waits for the step to finish, and many events in one step make one plan.
   */
  private schedule(): void {
    if (this.phase !== 'running' || this.planned) return;
    this.planned = true;
    queueMicrotask(() => {
      this.planned = false;
      if (this.phase === 'running') this.step();
    });
  }

  private step(): void {
    const now = this.now();
    this.plan = planDispatch({ now, queue: this.queue, templates: this.templates, pools: this.pools, agents: this.poolAgents(), buckets: this.buckets, pauses: this.pauses });
    for (const s of this.plan.starts) this.begin(s);
    this.arm(this.plan.wakeAt);
  }

  /** The crew's pool members in config order, as they are now. */
  private poolAgents(): PoolAgent[] {
    return this.config.agents.flatMap((a) => {
      if (a.pool === undefined) return [];
      const state = this.supervisor.statusOf(a.name)?.state;
      if (state === undefined) return [];
      return [{ name: a.name, pool: a.pool, state, ...(a.provider === undefined ? {} : { provider: a.provider }) }];
    });
  }

  /** One timer, for the earliest time a waiting task may start by itself. */
  private arm(at: number | undefined): void {
    if (this.wake?.at === at) return;
    if (this.wake) this.deps.clock.clearTimeout(this.wake.id);
    this.wake = null;
    if (at === undefined) return;
    const id = this.deps.clock.setTimeout(() => {
      this.wake = null;
      this.schedule();
    }, Math.max(0, at - this.now()));
    this.wake = { at, id };
  }

  /** Carries out a start: the queue first (so the slot is taken), then the spawn or the send. */
  private begin(s: Start): void {
    const task = this.queue.get(s.task);
    if (!task) return;
    this.change(this.queue.start(s.task, s.agent, this.now()));
    if (s.how === 'spawn') {
      this.spawned.set(s.agent, s.task);
      this.work.start(s.template, { name: s.agent, vars: task.vars, prompt: task.prompt, task: s.task }).then(
        ({ result }) => {
          // A headless template's run: its result ends the task.
          void result?.then((r) => this.runEnded(s.agent, r));
          // Cancelled while its worktree was being made: the agent it no longer needs is stopped now.
          if (!this.spawned.has(s.agent)) this.stopCancelled(s.agent, s.task);
        },
        (err: Error) => {
          this.spawned.delete(s.agent);
          this.ended(s.task, { ok: false, reason: `the agent could not be spawned: ${err.message}` });
        },
      );
      return;
    }
    const run: PoolRun = { task: s.task, phase: 'sending' };
    this.sends.set(s.agent, run);
    const agent = this.config.agents.find((a) => a.name === s.agent);
    this.supervisor.send(s.agent, { text: task.prompt, mode: 'wait-idle', timeoutMs: agent?.readyTimeoutMs ?? 30_000 }).then(
      (r) => {
        if (this.sends.get(s.agent) !== run) return;
        if (r.outcome === 'delivered' || r.outcome === 'confirmed' || r.outcome === 'unconfirmed') run.phase = 'working';
        else this.poolEnded(s.agent, { ok: false, reason: `the prompt was not delivered to ${s.agent}: ${r.outcome} (${r.reason})` });
      },
      (err: Error) => this.poolEnded(s.agent, { ok: false, reason: `the prompt could not be sent to ${s.agent}: ${err.message}` }),
    );
  }

  private poolEnded(agent: string, how: Outcome): void {
    const run = this.sends.get(agent);
    if (!run) return;
    this.sends.delete(agent);
    this.ended(run.task, how);
  }

  /** Reports an attempt's end to the queue (ignored when the task was cancelled meanwhile) and plans again. */
  private ended(task: string, how: Outcome): void {
    const now = this.now();
    this.change(how.ok ? this.queue.finish(task, now, how.result) : this.queue.fail(task, now, how.reason));
    this.schedule();
  }

  /** A headless run's end (unless its task was cancelled, or dispatch has closed): done with its result, else failed with its reason. */
  private runEnded(run: string, r: HeadlessResult): void {
    const task = this.spawned.get(run);
    if (task === undefined || this.phase === 'closed') return;
    const blocked = r.ok ? undefined : this.runQuota(task, r);
    if (blocked) this.pause(run, blocked);
    this.spawned.delete(run);
    const { ok, reason, ...result } = r;
    this.ended(task, ok ? { ok, result } : { ok, reason: reason ?? 'the run failed' });
  }

  /** A spawned agent's end: done (its sidecar said so, or it exited 0), else failed. */
  private onEnded(e: Ended): void {
    const task = this.spawned.get(e.agent);
    if (task === undefined) return;
    this.spawned.delete(e.agent);
    if (e.how === 'done') return this.ended(task, { ok: true, ...(e.result ? { result: e.result } : {}) });
    if (e.how === 'exited' && e.exit?.code === 0) return this.ended(task, { ok: true });
    const reason = e.how === 'stopped' ? `${e.agent} was stopped` : `${e.agent} exited (${e.exit?.signal ? `signal ${e.exit.signal}` : `exit code ${e.exit?.code ?? 'unknown'}`})`;
    this.ended(task, { ok: false, reason });
  }

  private onAgentEvent(e: AgentEvent): void {
    switch (e.type) {
      case 'state': {
        const run = this.sends.get(e.agent);
        if (run && GONE.has(e.to)) this.poolEnded(e.agent, { ok: false, reason: `${e.agent} ${e.to === 'restarting' ? 'exited' : e.to} while on the task: ${e.reason}` });
        else if (run?.phase === 'working' && e.to === 'ready') this.poolEnded(e.agent, { ok: true });
        if (e.to === 'blocked') this.onBlocked(e.agent);
        break;
      }
      case 'sidecar': {
        const run = this.sends.get(e.agent);
        if (run && e.event.type === 'done') this.poolEnded(e.agent, { ok: true, ...(isObject(e.event.result) ? { result: e.event.result } : {}) });
        const blocked = sidecarQuota(e.event);
        if (blocked) this.pause(e.agent, blocked);
        break;
      }
      case 'forgotten':
        break;
    }
    this.schedule();
  }

  /** An agent blocked on quota pauses dispatch to its provider until its reset time. */
  private onBlocked(agent: string): void {
    const blocked = this.supervisor.statusOf(agent)?.blocked;
    if (blocked) this.pause(agent, blocked);
  }

  private pause(agent: string, blocked: Parameters<typeof quotaPause>[2]): void {
    const provider = this.providerOf(agent);
    if (provider === undefined) return;
    const p = quotaPause(provider, agent, blocked, this.now(), this.quota);
    if (!p) return;
    this.pauses = withPause(activePauses(this.pauses, this.now()), p);
    this.deps.logger.warn({ provider, until: new Date(p.until).toISOString(), agent }, `task dispatch to ${provider} paused: ${p.reason}`);
  }

  /**
   * A failed headless run that printed its provider's usage-limit message (the template's `quota`
   * signatures, the ones its screen would be matched with) is out of quota, as a blocked agent is.
   */
  private runQuota(task: string, r: HeadlessResult): Pick<BlockedInfo, 'on' | 'resets'> | undefined {
    const quota = this.templateOf(task)?.agent.blocked.signatures.filter((sig) => sig.kind === 'quota') ?? [];
    if (quota.length === 0) return undefined;
    const verdict = screenVerdict(`${r.reason ?? ''}\n${r.text}`, compileSignatures(quota, undefined));
    return verdict.kind === 'blocked' ? { on: verdict.on, ...(verdict.resets ? { resets: verdict.resets } : {}) } : undefined;
  }

  /** A crew agent's provider, or the template's of an agent spawned for a task. */
  private providerOf(agent: string): string | undefined {
    const crew = this.config.agents.find((a) => a.name === agent);
    if (crew) return crew.provider;
    const task = this.spawned.get(agent);
    return task === undefined ? undefined : this.templateOf(task)?.agent.provider;
  }

  /** The template a task runs from (none for a pool task). */
  private templateOf(task: string): TemplateConfig | undefined {
    const target = this.queue.get(task)?.target;
    return target && 'template' in target ? this.config.templates.find((t) => t.name === target.template) : undefined;
  }
}

type Outcome = { readonly ok: true; readonly result?: Readonly<Record<string, unknown>> } | { readonly ok: false; readonly reason: string };
