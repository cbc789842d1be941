/**
 * The task queue: work waiting for an agent, and work an agent is doing. Pure: no clock (every
 * method takes `now`), no I/O, no timers. Each change returns the notice to publish on the bus
 * (`task` kind), so the supervisor publishes exactly what the queue decided.
 *
 * Order: lower `priority` first, then the order tasks were added (FIFO on ties; a requeued task
 * keeps its place). A `key` de-duplicates over queued and started tasks: while one task with the
 * key is waiting or running, another is refused; once it ends, the key is free again.
 */
import { type Backoff, backoffDelay } from '../machines/restart-policy.js';

/** Where a task runs: an ephemeral agent spawned from a template, or a send to a ready agent of a crew pool. */
export type Target = { readonly template: string } | { readonly pool: string };

/** What `add` takes; left-out fields get their defaults (priority 0, one attempt, no key, no vars). */
export interface TaskSpec {
  readonly target: Target;
  readonly prompt: string;
  readonly priority?: number;
  readonly key?: string;
  readonly vars?: Readonly<Record<string, string>>;
  readonly attempts?: number;
}

export type TaskState = 'queued' | 'started';

/** A task waiting (`queued`) or running (`started`). Finished tasks leave the queue for `recent`. */
export interface Task {
  readonly id: string;
  readonly target: Target;
  readonly prompt: string;
  readonly priority: number;
  readonly key?: string;
  readonly vars: Readonly<Record<string, string>>;
  /** Attempts allowed in all. */
  readonly attempts: number;
  /** Attempts started so far (the running one included). */
  readonly attempt: number;
  /** Its place among tasks of equal priority: the order tasks were added. */
  readonly order: number;
  readonly addedAt: number;
  readonly state: TaskState;
  /** Queued again after a failure: not dispatched before this time. */
  readonly notBefore?: number;
  /** Why the last attempt failed (a requeued task). */
  readonly lastError?: string;
  /** Started: the agent doing it, and since when. */
  readonly agent?: string;
  readonly startedAt?: number;
}

export type RefusedWhy = 'duplicate' | 'full';

/** Fields every task notice carries. */
interface About {
  readonly id: string;
  readonly target: Target;
  readonly key?: string;
}

/**
 * One change of a task, as published on the bus (the `task` kind's body without `kind`).
 * `attempt` is the attempt's number, from 1.
 */
export type TaskEvent = About &
  (
    | { readonly event: 'queued'; readonly priority: number; readonly attempts: number; readonly position: number }
    | { readonly event: 'refused'; readonly why: RefusedWhy; readonly reason: string }
    | { readonly event: 'started'; readonly attempt: number }
    | { readonly event: 'done'; readonly attempt: number; readonly durationMs: number; readonly result?: Readonly<Record<string, unknown>> }
    | { readonly event: 'requeued'; readonly attempt: number; readonly durationMs: number; readonly reason: string; readonly delayMs: number }
    | { readonly event: 'failed'; readonly attempt: number; readonly durationMs: number; readonly reason: string }
    | { readonly event: 'cancelled'; readonly was: TaskState; readonly reason: string }
  );

/** A notice and the agent it is about (the bus envelope's `agent`: "" when none runs the task). */
export interface TaskNotice {
  readonly agent: string;
  readonly body: TaskEvent;
}

/** A task that ended, kept for the status snapshot. */
export interface TaskOutcome {
  readonly id: string;
  readonly target: Target;
  readonly key?: string;
  readonly outcome: 'done' | 'failed' | 'cancelled';
  readonly at: number;
  readonly attempt: number;
  readonly agent?: string;
  readonly durationMs?: number;
  readonly result?: Readonly<Record<string, unknown>>;
  readonly reason?: string;
}

export interface TaskCounts {
  /** Attempts started. */
  readonly invocations: number;
  /** Attempts that ended done. */
  readonly successes: number;
  /** Attempts that ended failed, requeued or not. */
  readonly failures: number;
  /** Mean duration of the attempts that ended done or failed; null before the first. */
  readonly meanDurationMs: number | null;
}

/** What `orchestra tasks` shows. */
export interface TaskStatus {
  readonly active: readonly Task[];
  /** In dispatch order; `waiting` says why one is not started yet, when known. */
  readonly queued: readonly (Task & { readonly waiting?: string })[];
  /** Newest first. */
  readonly recent: readonly TaskOutcome[];
  readonly counts: TaskCounts;
  /** Providers dispatch is paused for (an agent ran out of quota), and until when. */
  readonly paused: readonly { readonly provider: string; readonly until: number; readonly reason: string }[];
}

/** What survives a supervisor restart: the tasks (queued and started) and the next id. */
export interface PersistedQueue {
  readonly nextOrder: number;
  readonly tasks: readonly Task[];
}

export interface QueueOptions {
  /** Queued tasks at most; an `add` beyond it is refused. */
  readonly depth: number;
  /** Delay before a failed task is tried again (attempt n waits backoff(n)). */
  readonly backoff: Backoff;
  /** Finished tasks kept for the snapshot. */
  readonly keepRecent: number;
  readonly random: () => number;
}

export const DEFAULT_QUEUE_OPTIONS: QueueOptions = {
  depth: 1000,
  backoff: { initialMs: 10_000, factor: 2, maxMs: 600_000, jitter: 0.2 },
  keepRecent: 50,
  random: Math.random,
};

/** `template:NAME` or `pool:NAME`: the key concurrency limits and rate limits are counted under. */
export function targetKey(t: Target): string {
  return 'template' in t ? `template:${t.template}` : `pool:${t.pool}`;
}

/** Dispatch order: priority, then the order added. */
export function byDispatchOrder(a: Task, b: Task): number {
  return a.priority - b.priority || a.order - b.order;
}

export class TaskQueue {
  private readonly tasks = new Map<string, Task>();
  private readonly recent: TaskOutcome[] = [];
  private nextOrder = 1;
  private invocations = 0;
  private successes = 0;
  private failures = 0;
  private totalMs = 0;

  constructor(private readonly options: QueueOptions = DEFAULT_QUEUE_OPTIONS) {}

  /**
   * A queue holding what a previous supervisor left: started tasks are queued again (their agent
   * went with that supervisor), their attempt counted, so a task that keeps taking the
   * supervisor down still runs out of attempts.
   */
  static restore(saved: PersistedQueue, options: QueueOptions = DEFAULT_QUEUE_OPTIONS): TaskQueue {
    const q = new TaskQueue(options);
    for (const t of saved.tasks) {
      const { agent: _agent, startedAt: _startedAt, ...rest } = t;
      q.tasks.set(t.id, t.state === 'started' ? { ...rest, state: 'queued', lastError: 'the supervisor stopped while it ran' } : t);
    }
    q.nextOrder = Math.max(saved.nextOrder, ...saved.tasks.map((t) => t.order + 1));
    return q;
  }

  /** What to save: every queued and started task. */
  persisted(): PersistedQueue {
    return { nextOrder: this.nextOrder, tasks: [...this.tasks.values()] };
  }

  get(id: string): Task | undefined {
    return this.tasks.get(id);
  }

  /** Queues a task, or refuses it (a duplicate key, a full queue); either way it gets an id. */
  add(spec: TaskSpec, now: number): TaskNotice {
    const order = this.nextOrder++;
    const task: Task = {
      id: `t${order}`,
      target: spec.target,
      ...(spec.key !== undefined ? { key: spec.key } : {}),
      prompt: spec.prompt,
      priority: spec.priority ?? 0,
      vars: spec.vars ?? {},
      attempts: spec.attempts ?? 1,
      attempt: 0,
      order,
      addedAt: now,
      state: 'queued',
    };
    const refuse = (why: RefusedWhy, reason: string): TaskNotice => ({ agent: '', body: { ...about(task), event: 'refused', why, reason } });
    const twin = spec.key === undefined ? undefined : [...this.tasks.values()].find((t) => t.key === spec.key);
    if (twin) return refuse('duplicate', `key "${spec.key}" is task ${twin.id} (${twin.state})`);
    const depth = this.waiting().length;
    if (depth >= this.options.depth) return refuse('full', `the queue is full: ${depth} tasks queued (at most ${this.options.depth})`);
    this.tasks.set(task.id, task);
    const position = this.waiting().indexOf(task) + 1;
    return { agent: '', body: { ...about(task), event: 'queued', priority: task.priority, attempts: task.attempts, position } };
  }

  /** Queued tasks in dispatch order, those still backing off after a failure included. */
  waiting(): Task[] {
    return [...this.tasks.values()].filter((t) => t.state === 'queued').sort(byDispatchOrder);
  }

  /** Queued tasks that may start at `now`, in dispatch order. */
  dispatchable(now: number): Task[] {
    return this.waiting().filter((t) => (t.notBefore ?? 0) <= now);
  }

  /** When the first task backing off after a failure may start; undefined when none is. */
  nextRetryAt(now: number): number | undefined {
    const later = this.waiting().flatMap((t) => (t.notBefore !== undefined && t.notBefore > now ? [t.notBefore] : []));
    return later.length > 0 ? Math.min(...later) : undefined;
  }

  running(): Task[] {
    return [...this.tasks.values()].filter((t) => t.state === 'started');
  }

  /** Marks a queued task started on `agent` (the dispatcher chose it). */
  start(id: string, agent: string, now: number): TaskNotice {
    const t = this.tasks.get(id);
    if (t?.state !== 'queued') throw new Error(`task ${id} is not queued (${t ? t.state : 'unknown'})`);
    const { notBefore: _notBefore, ...rest } = t;
    const started: Task = { ...rest, state: 'started', attempt: t.attempt + 1, agent, startedAt: now };
    this.tasks.set(id, started);
    this.invocations++;
    return { agent, body: { ...about(started), event: 'started', attempt: started.attempt } };
  }

  /** The running task ended well. Undefined when it is no longer running (cancelled meanwhile). */
  finish(id: string, now: number, result?: Readonly<Record<string, unknown>>): TaskNotice | undefined {
    const t = this.runningTask(id);
    if (!t) return undefined;
    const durationMs = this.ended(t, now);
    this.successes++;
    this.remember({ ...about(t), outcome: 'done', at: now, attempt: t.attempt, agent: t.agent, durationMs, ...(result ? { result } : {}) });
    return { agent: t.agent, body: { ...about(t), event: 'done', attempt: t.attempt, durationMs, ...(result ? { result } : {}) } };
  }

  /**
   * The running task's attempt failed: queued again after a backoff while attempts are left, else
   * failed for good. Undefined when it is no longer running.
   */
  fail(id: string, now: number, reason: string): TaskNotice | undefined {
    const t = this.runningTask(id);
    if (!t) return undefined;
    const durationMs = this.ended(t, now);
    this.failures++;
    if (t.attempt < t.attempts) {
      const delayMs = backoffDelay(this.options, t.attempt, this.options.random);
      const { agent: _agent, startedAt: _startedAt, ...rest } = t;
      this.tasks.set(id, { ...rest, state: 'queued', notBefore: now + delayMs, lastError: reason });
      return { agent: t.agent, body: { ...about(t), event: 'requeued', attempt: t.attempt, durationMs, reason, delayMs } };
    }
    const why = t.attempts > 1 ? `${reason} (attempt ${t.attempt} of ${t.attempts})` : reason;
    this.remember({ ...about(t), outcome: 'failed', at: now, attempt: t.attempt, agent: t.agent, durationMs, reason: why });
    return { agent: t.agent, body: { ...about(t), event: 'failed', attempt: t.attempt, durationMs, reason: why } };
  }

  /**
   * Takes a task out of the queue, waiting or running (its agent is then the caller's to stop;
   * a late report of its end is ignored). Undefined when no such task is queued or running.
   */
  cancel(id: string, now: number, reason = 'cancelled on request'): TaskNotice | undefined {
    const t = this.tasks.get(id);
    if (!t) return undefined;
    this.tasks.delete(id);
    this.remember({ ...about(t), outcome: 'cancelled', at: now, attempt: t.attempt, ...(t.agent !== undefined ? { agent: t.agent } : {}), reason });
    return { agent: t.agent ?? '', body: { ...about(t), event: 'cancelled', was: t.state, reason } };
  }

  /** The status snapshot at `now`; `waiting` and `paused` come from the dispatcher's last plan. */
  snapshot(now: number, extra: { readonly waiting?: ReadonlyMap<string, string>; readonly paused?: TaskStatus['paused'] } = {}): TaskStatus {
    const finished = this.successes + this.failures;
    return {
      active: this.running().sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0)),
      queued: this.waiting().map((t) => {
        const why = t.notBefore !== undefined && t.notBefore > now ? `attempt ${t.attempt + 1} of ${t.attempts} at ${new Date(t.notBefore).toISOString()}; the last failed: ${t.lastError ?? ''}` : extra.waiting?.get(t.id);
        return why === undefined ? t : { ...t, waiting: why };
      }),
      recent: [...this.recent].reverse(),
      counts: { invocations: this.invocations, successes: this.successes, failures: this.failures, meanDurationMs: finished > 0 ? Math.round(this.totalMs / finished) : null },
      paused: extra.paused ?? [],
    };
  }

  private runningTask(id: string): (Task & { readonly agent: string; readonly startedAt: number }) | undefined {
    const t = this.tasks.get(id);
    return t?.state === 'started' && t.agent !== undefined && t.startedAt !== undefined ? { ...t, agent: t.agent, startedAt: t.startedAt } : undefined;
  }

  /** Takes a finished attempt out of the running set; its duration. */
  private ended(t: Task & { readonly startedAt: number }, now: number): number {
    this.tasks.delete(t.id);
    const ms = Math.max(0, now - t.startedAt);
    this.totalMs += ms;
    return ms;
  }

  private remember(o: TaskOutcome): void {
    this.recent.push(o);
    if (this.recent.length > this.options.keepRecent) this.recent.shift();
  }
}

function about(t: Task): About {
  return { id: t.id, target: t.target, ...(t.key !== undefined ? { key: t.key } : {}) };
}
