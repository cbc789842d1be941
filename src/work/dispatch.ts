/**
 * The dispatcher's step: which queued tasks start now, and where. It does no I/O: it returns the
 * starts for the supervisor to carry out (spawn an ephemeral agent from a template, or send the
 * prompt to a ready agent of a pool), why each other task waits, and when to plan again.
 *
 * For each task, in dispatch order: its provider must not be paused (out of quota), a slot of its
 * template's or pool's concurrency must be free, a pool must have a ready agent with no task, and
 * only then is a token taken from the rate limit, so a saturated target wastes no tokens.
 */
import type { PublicState } from '../machines/agent.js';
import { ConcurrencyGate } from './concurrency.js';
import { activePauses, type QuotaPause } from './quota.js';
import { type RateLimit, TokenBucket } from './rate-limit.js';
import { type Task, type TaskQueue, targetKey } from './task-queue.js';

export interface TargetSettings {
  /** Tasks of this target running at once, at most. */
  readonly concurrency: number;
  /** Starts per second, and how many may go at once after a quiet spell. */
  readonly rate?: RateLimit;
  /** A template's provider (`provider:`): out of quota, it pauses the template's dispatch. */
  readonly provider?: string;
}

/** A crew agent in a pool, in config order (the first ready one gets the task). */
export interface PoolAgent {
  readonly name: string;
  readonly pool: string;
  readonly state: PublicState | 'pending';
  readonly provider?: string;
}

export interface DispatchInput {
  readonly now: number;
  readonly queue: Pick<TaskQueue, 'dispatchable' | 'running' | 'nextRetryAt'>;
  readonly templates: ReadonlyMap<string, TargetSettings>;
  /** Settings of the pools that have some; a pool its agents name and this does not has no limits. */
  readonly pools: ReadonlyMap<string, TargetSettings>;
  readonly agents: readonly PoolAgent[];
  /** By target key, for the targets with a rate limit (`makeBuckets`); taken from as tasks start. */
  readonly buckets: ReadonlyMap<string, TokenBucket>;
  readonly pauses: readonly QuotaPause[];
}

/** A task to start: the agent named here is spawned from the template, or is the pool agent to send to. */
export type Start =
  | { readonly task: string; readonly how: 'spawn'; readonly template: string; readonly agent: string }
  | { readonly task: string; readonly how: 'send'; readonly pool: string; readonly agent: string };

export interface Plan {
  readonly starts: readonly Start[];
  /** Why each queued task that does not start now waits (by task id). */
  readonly waiting: ReadonlyMap<string, string>;
  /** When waiting on time ends (a backoff, a token, a quota pause); undefined: plan again on the next event only. */
  readonly wakeAt?: number;
}

/** Every target's settings by target key (`template:x`, `pool:y`). */
function byKey(templates: ReadonlyMap<string, TargetSettings>, pools: ReadonlyMap<string, TargetSettings>): Map<string, TargetSettings> {
  return new Map([...[...templates].map(([name, s]) => [targetKey({ template: name }), s] as const), ...[...pools].map(([name, s]) => [targetKey({ pool: name }), s] as const)]);
}

/** The rate limits' buckets, one per target that has one, by target key. */
export function makeBuckets(templates: ReadonlyMap<string, TargetSettings>, pools: ReadonlyMap<string, TargetSettings>, clock: { now(): number }): Map<string, TokenBucket> {
  return new Map([...byKey(templates, pools)].flatMap(([key, s]) => (s.rate ? [[key, new TokenBucket(s.rate, clock)] as const] : [])));
}

/** The ephemeral agent a task's attempt runs as: named after the task, so it is unique in the session. */
export function spawnName(template: string, task: Task): string {
  const suffix = `-${task.id}${task.attempt > 0 ? `-${task.attempt + 1}` : ''}`;
  return `${template.slice(0, 64 - suffix.length)}${suffix}`;
}

/** Plans one dispatch step at `now`. */
export function planDispatch(input: DispatchInput): Plan {
  const { now, queue } = input;
  const running = queue.running();
  const unlimited: TargetSettings = { concurrency: Infinity };
  const settings = byKey(input.templates, new Map([...input.agents.map((a) => [a.pool, unlimited] as const), ...input.pools]));
  const gate = new ConcurrencyGate(
    (key) => settings.get(key)?.concurrency,
    running.map((t) => targetKey(t.target)),
  );
  const pauses = new Map(activePauses(input.pauses, now).map((p) => [p.provider, p]));
  const busyAgents = new Set(running.flatMap((t) => (t.agent === undefined ? [] : [t.agent])));
  const starts: Start[] = [];
  const waiting = new Map<string, string>();
  const wakes: number[] = [];
  // Once a target cannot start a task, its later tasks wait for the same reason: FIFO per target.
  const stuck = new Map<string, string>();
  const paused = (provider: string | undefined) => (provider === undefined ? undefined : pauses.get(provider));
  const pauseReason = (p: QuotaPause) => `provider ${p.provider} paused until ${new Date(p.until).toISOString()}: ${p.reason}`;

  for (const task of queue.dispatchable(now)) {
    const key = targetKey(task.target);
    const why = stuck.get(key) ?? startOrWhy(task, key);
    if (why !== undefined) {
      stuck.set(key, why);
      waiting.set(task.id, why);
    }
  }

  function startOrWhy(task: Task, key: string): string | undefined {
    const target = task.target;
    const s = settings.get(key);
    if (!s) return 'template' in target ? `no template "${target.template}"` : `no pool "${target.pool}"`;
    const p = 'template' in target ? paused(s.provider) : undefined;
    if (p) {
      wakes.push(p.until);
      return pauseReason(p);
    }
    const slot = gate.tryTake(key);
    if (slot !== true) return slot;
    const agent = 'template' in target ? spawnName(target.template, task) : poolAgent(target.pool);
    if (typeof agent !== 'string') {
      gate.release(key);
      return agent.why;
    }
    const bucket = input.buckets.get(key);
    if (bucket && !bucket.take()) {
      gate.release(key);
      const at = now + bucket.waitMs();
      wakes.push(at);
      return `rate limit: next start at ${new Date(at).toISOString()}`;
    }
    if ('template' in target) starts.push({ task: task.id, how: 'spawn', template: target.template, agent });
    else {
      busyAgents.add(agent);
      starts.push({ task: task.id, how: 'send', pool: target.pool, agent });
    }
    return undefined;
  }

  /** The first ready agent of the pool with no task and no paused provider, or why there is none. */
  function poolAgent(pool: string): string | { why: string } {
    const members = input.agents.filter((a) => a.pool === pool);
    if (members.length === 0) return { why: `pool "${pool}" has no agents` };
    const free = members.filter((a) => a.state === 'ready' && !busyAgents.has(a.name));
    const usable = free.find((a) => !paused(a.provider));
    if (usable) return usable.name;
    const p = free.map((a) => paused(a.provider)).find((x) => x !== undefined);
    if (p) {
      wakes.push(p.until);
      return { why: pauseReason(p) };
    }
    return { why: `no ready agent in pool "${pool}" (${members.map((a) => `${a.name}: ${busyAgents.has(a.name) ? 'on a task' : a.state}`).join(', ')})` };
  }

  const retry = queue.nextRetryAt(now);
  if (retry !== undefined) wakes.push(retry);
  return { starts, waiting, ...(wakes.length > 0 ? { wakeAt: Math.min(...wakes) } : {}) };
}
