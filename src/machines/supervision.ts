/**
 * The supervisor's chart: every agent's slot and the crew's own phase, as one pure reducer over
 * discriminated unions — OTP's supervisor, in data. No I/O and no timers: time comes in as `now`
 * and a restart's delay as a `dueAt` in the slot; the interpreter (src/supervisor/supervisor.ts)
 * carries out the effects a step returns and keeps one timer per `restarting` slot.
 *
 *   slot:  waiting ──(dependencies up)──▶ running ──(exit: restart)──▶ restarting ──(due)──▶ waiting
 *                                          │  └──(exit: give up)──▶ dead
 *                                          └──(stop)──▶ stopping ──▶ stopped | restarting (group)
 *   crew:  running ──(shutdown)──▶ stopping ──(force)──▶ forcing ──▶ stopped   (stopping ──▶ stopped)
 *
 * Agents come and go while the crew runs: `agent.add` gives a new agent a slot (started as its
 * dependencies allow), `agent.remove` stops it and, once settled, forgets it (effect `forget`).
 * An `ephemeral` agent is never part of a group strategy: its crash restarts no one else, and no
 * one else's crash restarts it.
 *
 * The worker's chart (src/machines/agent.ts) ends each run at `exited`; what follows an exit —
 * restart, give up, restart others with it (group strategy) — is decided here, and only here.
 */
import type { AgentConfig } from '../config/types.js';
import type { BlockedInfo, PublicState } from './agent.js';
import { decideRestart, EMPTY_HISTORY, type ExitInfo, type RestartDecision, type RestartHistory, type Strategy } from './restart-policy.js';

export interface CrewSpec {
  /** In start order: every agent after the agents it depends on (the crew's agents at its start). */
  readonly agents: readonly AgentConfig[];
  readonly strategy: Strategy;
  /** The group's restart intensity/period (one_for_all, rest_for_one); one_for_one uses each agent's own. */
  readonly budget: { readonly maxRestarts: number; readonly windowMs: number };
  /**
   * At most this many runs launching at once (from `run` until their worker reports a state); the
   * rest wait their turn in start order. Unbounded if absent. 500 workers loading at once left
   * agents unstarted after 300 s and the supervisor unable to answer `ps`.
   */
  readonly maxLaunching?: number;
}

/** A restart that waits for its time and for the others restarted with it to have stopped. */
export interface Relaunch {
  readonly dueAt: number;
  /** The agent whose exit this restart follows. */
  readonly cause: string;
  /** The agents restarted together (just the agent itself under one_for_one). */
  readonly group: readonly string[];
}

export type SlotPhase =
  /**
   * Not running: waits for `deps` to be ready — all its dependencies at the crew's start; after a
   * restart's delay, those restarted with it (under one_for_one, none: as soon as it is due).
   */
  | { readonly phase: 'waiting'; readonly reason: string; readonly deps: readonly string[] }
  /**
   * A run in the agent's worker; what it is doing is `shown` (starting, ready, busy, …). `launching`
   * until the worker has reported the run's first state (its thread loaded, its process spawned).
   */
  | { readonly phase: 'running'; readonly launching?: true }
  /** The supervisor stops the run: `sent` once it was asked (dependents go first); then stopped or relaunched. */
  | { readonly phase: 'stopping'; readonly sent: boolean; readonly relaunch: Relaunch | undefined; readonly reason: string }
  | { readonly phase: 'restarting'; readonly relaunch: Relaunch }
  | { readonly phase: 'stopped' }
  | { readonly phase: 'dead' };

/** A crew agent lives as long as the crew; an ephemeral one does one piece of work (docs/work.md). */
export type Role = 'crew' | 'ephemeral';

export type Slot = SlotPhase & {
  readonly role: Role;
  /** The last state published for the agent (null: never started). */
  readonly shown: PublicState | null;
  /** The agent's own restart history (its backoff attempt; its budget under one_for_one). */
  readonly history: RestartHistory;
};

export interface Crew {
  readonly phase: 'idle' | 'running' | 'stopping' | 'forcing' | 'stopped';
  /** The stop was forced (asked for, or the shutdown deadline passed): it did not end gracefully. */
  readonly forced: boolean;
  readonly slots: Readonly<Record<string, Slot>>;
  /** In start order: the spec's agents and those added since, less those forgotten. */
  readonly agents: readonly AgentConfig[];
  /** Agents to forget once settled (`agent.remove`). */
  readonly removing: readonly string[];
  /** Restarts granted to the group inside its window (one_for_all, rest_for_one). */
  readonly group: RestartHistory;
}

export type CrewEvent =
  | { readonly type: 'start' }
  /** The worker's chart changed state. */
  | { readonly type: 'run.state'; readonly agent: string; readonly to: PublicState; readonly reason: string; readonly pid: number | null; readonly blocked?: BlockedInfo }
  /** A run ended by itself (the worker's chart is `exited`). */
  | { readonly type: 'run.exit'; readonly agent: string; readonly exit: ExitInfo; readonly pid: number | null }
  /** The worker thread died; its processes have been killed. */
  | { readonly type: 'worker.crashed'; readonly agent: string; readonly reason: string; readonly runMs: number; readonly pid: number | null }
  /** A forced stop's processes were killed from the main thread: the worker never reported the end. */
  | { readonly type: 'run.killed'; readonly agent: string; readonly reason: string }
  /** Time passed: a restarting slot's `dueAt` (the interpreter's timer). */
  | { readonly type: 'restart.due'; readonly agent: string }
  | { readonly type: 'agent.stop'; readonly agent: string }
  | { readonly type: 'agent.start'; readonly agent: string }
  /** A new agent (its name unused, its dependencies known: the interpreter checks). */
  | { readonly type: 'agent.add'; readonly config: AgentConfig; readonly role: Role }
  /** Stop the agent (if it runs), then forget it. */
  | { readonly type: 'agent.remove'; readonly agent: string }
  | { readonly type: 'shutdown' }
  /** Stop now: aborts a graceful shutdown in whatever step it is. */
  | { readonly type: 'force' };

export type Effect =
  | { readonly do: 'state'; readonly agent: string; readonly from: PublicState | null; readonly to: PublicState; readonly reason: string; readonly pid: number | null; readonly blocked?: BlockedInfo }
  | { readonly do: 'exit'; readonly agent: string; readonly pid: number | null; readonly exit: ExitInfo }
  | { readonly do: 'decision'; readonly agent: string; readonly decision: RestartDecision }
  /** Start a run (in the agent's worker; a new worker if it has none). */
  | { readonly do: 'run'; readonly agent: string; readonly reason: string }
  /** Graceful stop of the run (stop keys, signal, grace, kill, verify); `reason` is published with it. */
  | { readonly do: 'stop'; readonly agent: string; readonly reason: string }
  /** Forced stop: the run's graceful stop, if any, goes straight to kill. */
  | { readonly do: 'kill'; readonly agent: string }
  /** The agent is settled and gone from the chart: its worker and record can go. */
  | { readonly do: 'forget'; readonly agent: string }
  | { readonly do: 'lifecycle'; readonly event: 'started' | 'stopping' | 'stopped' };

export interface Step {
  readonly crew: Crew;
  readonly effects: readonly Effect[];
}

export interface Context {
  readonly spec: CrewSpec;
  readonly now: number;
  readonly random: () => number;
}

export function initialCrew(spec: CrewSpec): Crew {
  const slots: Record<string, Slot> = {};
  for (const a of spec.agents) slots[a.name] = { phase: 'waiting', reason: 'dependencies ready', deps: a.dependsOn, role: 'crew', shown: null, history: EMPTY_HISTORY };
  return { phase: 'idle', forced: false, slots, agents: spec.agents, removing: [], group: EMPTY_HISTORY };
}

/** A slot whose agent is up for its dependents. */
const isUp = (s: Slot) => s.phase === 'running' && (s.shown === 'ready' || s.shown === 'busy');
/** A slot with a run whose processes may be alive. */
const hasRun = (s: Slot) => s.phase === 'running' || s.phase === 'stopping';
const settled = (s: Slot) => s.phase === 'stopped' || s.phase === 'dead';

/** The agents that depend on `name`, directly or through others, in start order. */
export function dependentsOf(agents: readonly AgentConfig[], name: string): string[] {
  const out = new Set<string>([name]);
  for (const a of agents) if (a.dependsOn.some((d) => out.has(d))) out.add(a.name);
  out.delete(name);
  return [...out];
}

/** One step of the chart: the crew after `event`, and what the interpreter must do. */
export function step(crew: Crew, event: CrewEvent, ctx: Context): Step {
  const t = new Transition(crew, ctx);
  t.apply(event);
  t.settle();
  return { crew: t.crew(), effects: t.effects };
}

/** Mutable only inside one step: the slots as they become, and the effects in order. */
class Transition {
  private phase: Crew['phase'];
  private forced: boolean;
  private readonly slots: Record<string, Slot>;
  private agents: readonly AgentConfig[];
  private removing: readonly string[];
  private group: RestartHistory;
  readonly effects: Effect[] = [];

  constructor(
    before: Crew,
    private readonly ctx: Context,
  ) {
    this.phase = before.phase;
    this.forced = before.forced;
    this.slots = { ...before.slots };
    this.agents = before.agents;
    this.removing = before.removing;
    this.group = before.group;
  }

  crew(): Crew {
    return { phase: this.phase, forced: this.forced, slots: this.slots, agents: this.agents, removing: this.removing, group: this.group };
  }

  private slot(name: string): Slot {
    const s = this.slots[name];
    if (!s) throw new Error(`no agent named "${name}"`);
    return s;
  }

  private config(name: string): AgentConfig {
    const a = this.agents.find((x) => x.name === name);
    if (!a) throw new Error(`no agent named "${name}"`);
    return a;
  }

  private set(name: string, next: SlotPhase, extra: Partial<Pick<Slot, 'history'>> = {}): void {
    const s = this.slot(name);
    this.slots[name] = { ...next, role: s.role, shown: s.shown, history: extra.history ?? s.history };
  }

  /** Publishes a state change (only a change: the worker's reports and ours interleave; a new dialog is one). */
  private show(name: string, to: PublicState, reason: string, pid: number | null = null, blocked?: BlockedInfo): void {
    const s = this.slot(name);
    if (s.shown === to && !blocked) return;
    this.effects.push({ do: 'state', agent: name, from: s.shown, to, reason, pid, ...(blocked ? { blocked } : {}) });
    this.slots[name] = { ...s, shown: to };
  }

  apply(e: CrewEvent): void {
    switch (e.type) {
      case 'start':
        if (this.phase !== 'idle') return;
        this.phase = 'running';
        this.effects.push({ do: 'lifecycle', event: 'started' });
        return;
      case 'run.state':
        return this.reported(e.agent, e.to, e.reason, e.pid, e.blocked);
      case 'run.exit':
        this.effects.push({ do: 'exit', agent: e.agent, pid: e.pid, exit: e.exit });
        return this.ended(e.agent, e.exit);
      case 'worker.crashed':
        return this.workerCrashed(e);
      case 'run.killed':
        if (hasRun(this.slot(e.agent))) this.runEnded(e.agent, e.reason, null);
        return;
      case 'restart.due':
        // Nothing but time: settle() starts what is due.
        return;
      case 'agent.stop':
        return this.stopAgent(e.agent);
      case 'agent.start':
        return this.startAgent(e.agent);
      case 'agent.add':
        return this.add(e.config, e.role);
      case 'agent.remove':
        if (!this.removing.includes(e.agent)) this.removing = [...this.removing, e.agent];
        // Before the crew starts, nothing runs: it is settled at once.
        if (this.phase === 'idle') return this.set(e.agent, { phase: 'stopped' });
        return this.stopAgent(e.agent);
      case 'shutdown':
        return this.shutdown(false);
      case 'force':
        return this.shutdown(true);
    }
  }

  private reported(name: string, to: PublicState, reason: string, pid: number | null, blocked: BlockedInfo | undefined): void {
    const s = this.slot(name);
    // A run already ended in one of our states (dead, stopped while restarting): its worker's chart
    // catching up from `exited` to `stopped` (a stop, the worker closing) is not news.
    if (settled(s) && to === 'stopped') return;
    if (s.phase === 'running' && s.launching) this.set(name, { phase: 'running' });
    this.show(name, to, reason, pid, blocked);
    if (to !== 'stopped') return;
    if (s.phase === 'stopping' && s.relaunch) this.toRestarting(name, s.relaunch);
    else if (s.phase === 'running' || s.phase === 'stopping') this.set(name, { phase: 'stopped' });
  }

  /** A run ended by itself: while running, the policy (and strategy) decide what follows. */
  private ended(name: string, exit: ExitInfo): void {
    // Being stopped (deliberately, by the group, by the shutdown): the exit is that stop's end,
    // and the worker reports `stopped` once its chart has had the stop request.
    if (this.phase !== 'running' || this.slot(name).phase !== 'running') return;
    this.decide(name, exit);
  }

  private workerCrashed(e: Extract<CrewEvent, { type: 'worker.crashed' }>): void {
    const s = this.slot(e.agent);
    if (!hasRun(s)) return;
    // Nothing will report the stop's end: the crash (its processes killed) is that end.
    if (this.phase !== 'running' || s.phase === 'stopping') return this.runEnded(e.agent, `${e.reason}; its processes were killed`, e.pid);
    this.show(e.agent, 'exited', e.reason, e.pid);
    const exit: ExitInfo = { code: null, signal: null, cause: 'worker-crash', runMs: e.runMs };
    this.effects.push({ do: 'exit', agent: e.agent, pid: e.pid, exit });
    this.decide(e.agent, exit);
  }

  /** A run being stopped ended without its worker reporting it: stopped, or relaunched with its group. */
  private runEnded(name: string, reason: string, pid: number | null): void {
    const s = this.slot(name);
    this.show(name, 'stopped', reason, pid);
    if (this.phase === 'running' && s.phase === 'stopping' && s.relaunch) this.toRestarting(name, s.relaunch);
    else this.set(name, { phase: 'stopped' });
  }

  /** The crashed agent's policy decides; under a group strategy, the group's budget counts. */
  private decide(name: string, exit: ExitInfo): void {
    const { spec, now, random } = this.ctx;
    const s = this.slot(name);
    const policy = this.config(name).restart;
    let decision: RestartDecision;
    if (spec.strategy === 'one_for_one' || s.role === 'ephemeral') {
      const r = decideRestart(policy, s.history, exit, now, random);
      decision = r.decision;
      this.set(name, s, { history: r.history });
    } else {
      // The group's intensity/period over the agent's own backoff attempt.
      const r = decideRestart({ ...policy, budget: spec.budget }, { restarts: this.group.restarts, attempt: s.history.attempt }, exit, now, random);
      decision = { ...r.decision, strategy: spec.strategy };
      this.group = { restarts: r.history.restarts, attempt: 0 };
      this.set(name, s, { history: { restarts: s.history.restarts, attempt: r.history.attempt } });
    }
    this.effects.push({ do: 'decision', agent: name, decision });
    if (decision.action === 'give-up') {
      this.show(name, 'dead', decision.reason);
      this.set(name, { phase: 'dead' });
      return;
    }
    const others = s.role === 'ephemeral' ? [] : this.groupOf(name);
    const relaunch: Relaunch = { dueAt: now + decision.delayMs, cause: name, group: [name, ...others] };
    this.toRestarting(name, relaunch, decision.reason);
    for (const other of others) this.restartBecause(other, name, decision, relaunch);
  }

  /** Who else a crash of `name` restarts, in start order (and only agents that are up or on their way). */
  private groupOf(name: string): string[] {
    const { spec } = this.ctx;
    const names = spec.strategy === 'one_for_all' ? this.agents.map((a) => a.name).filter((n) => n !== name) : spec.strategy === 'rest_for_one' ? dependentsOf(this.agents, name) : [];
    return names.filter((n) => {
      const s = this.slot(n);
      if (this.config(n).restart.policy === 'no' || s.role === 'ephemeral') return false;
      return s.phase === 'running' || s.phase === 'restarting' || (s.phase === 'stopping' && s.relaunch !== undefined);
    });
  }

  private restartBecause(name: string, cause: string, d: Extract<RestartDecision, { action: 'restart' }>, relaunch: Relaunch): void {
    const s = this.slot(name);
    const strategy = this.ctx.spec.strategy;
    const reason = `${cause} exited; ${strategy} restarts ${name} with it`;
    this.effects.push({
      do: 'decision',
      agent: name,
      decision: { action: 'restart', policy: this.config(name).restart.policy, attempt: d.attempt, delayMs: d.delayMs, budgetLeft: d.budgetLeft, because: cause, strategy, reason },
    });
    const merged = (prev: Relaunch | undefined): Relaunch => ({
      ...relaunch,
      dueAt: Math.max(relaunch.dueAt, prev?.dueAt ?? 0),
      group: [...new Set([...(prev?.group ?? []), ...relaunch.group])],
    });
    if (s.phase === 'running') this.set(name, { phase: 'stopping', sent: false, relaunch: merged(undefined), reason });
    else if (s.phase === 'stopping') this.set(name, { ...s, relaunch: merged(s.relaunch) });
    else if (s.phase === 'restarting') this.toRestarting(name, merged(s.relaunch), reason);
  }

  private toRestarting(name: string, relaunch: Relaunch, reason = `${relaunch.cause} exited; ${this.ctx.spec.strategy} restarts ${name} with it`): void {
    this.show(name, 'restarting', reason);
    this.set(name, { phase: 'restarting', relaunch });
  }

  private stopAgent(name: string): void {
    const s = this.slot(name);
    if (this.phase !== 'running') return;
    switch (s.phase) {
      case 'running':
        this.set(name, { phase: 'stopping', sent: true, relaunch: undefined, reason: 'stop requested' });
        this.effects.push({ do: 'stop', agent: name, reason: 'stop requested' });
        return;
      case 'stopping':
        this.set(name, { ...s, relaunch: undefined });
        return;
      case 'restarting':
      case 'waiting':
        this.show(name, 'stopped', s.shown === null ? 'stop requested before start' : 'stop requested while waiting to restart');
        this.set(name, { phase: 'stopped' });
        // Its worker's chart (if it ran before) waits in `exited`: it ends the run there, and the
        // sends waiting for the agent to come back fail now instead of at their timeout.
        this.effects.push({ do: 'stop', agent: name, reason: 'stop requested' });
        return;
      default:
    }
  }

  /** A deliberate start: now (dependencies or not, as asked), with a fresh restart budget. */
  private startAgent(name: string): void {
    const s = this.slot(name);
    if (this.phase !== 'running') return;
    if (s.phase === 'stopped' || s.phase === 'dead' || s.phase === 'waiting') {
      this.set(name, { phase: 'running' }, { history: EMPTY_HISTORY });
      // A fresh budget: under a group strategy the budget is the group's.
      if (this.ctx.spec.strategy !== 'one_for_one') this.group = EMPTY_HISTORY;
      this.effects.push({ do: 'run', agent: name, reason: 'start requested' });
    }
  }

  /** A new slot, started by settle() once its dependencies are up (at once while the crew runs, if it has none). */
  private add(config: AgentConfig, role: Role): void {
    if (this.slots[config.name]) throw new Error(`an agent named "${config.name}" exists`);
    if (this.phase !== 'idle' && this.phase !== 'running') return;
    this.agents = [...this.agents, config];
    this.slots[config.name] = { phase: 'waiting', reason: 'added', deps: config.dependsOn, role, shown: null, history: EMPTY_HISTORY };
  }

  private shutdown(force: boolean): void {
    if (this.phase === 'stopped' || this.phase === 'forcing' || (this.phase === 'stopping' && !force)) return;
    if (this.phase === 'idle' || this.phase === 'running') this.effects.push({ do: 'lifecycle', event: 'stopping' });
    this.phase = force ? 'forcing' : 'stopping';
    this.forced = force;
    for (const a of this.agents) {
      const s = this.slot(a.name);
      if (s.phase === 'waiting' || s.phase === 'restarting') {
        if (s.shown !== null) this.show(a.name, 'stopped', s.phase === 'restarting' ? 'stop requested while waiting to restart' : 'stopped before its restart');
        this.set(a.name, { phase: 'stopped' });
        if (s.shown !== null) this.effects.push({ do: 'stop', agent: a.name, reason: 'stop requested' });
      } else if (s.phase === 'running') {
        this.set(a.name, { phase: 'stopping', sent: false, relaunch: undefined, reason: 'stop requested' });
      } else if (s.phase === 'stopping') {
        this.set(a.name, { ...s, relaunch: undefined });
      }
      if (force && hasRun(this.slot(a.name))) this.effects.push({ do: 'kill', agent: a.name });
    }
  }

  /**
   * A waiting agent whose dependency will not come up by itself (dead, stopped, or blocked on its
   * own dependency) is `blocked` on it, so that nobody waits for it in silence; a dependency
   * started again unblocks it (its next state is its run's).
   */
  private showBlocked(name: string, deps: readonly string[]): void {
    for (const d of deps) {
      const shown = this.slot(d).shown;
      if (shown === 'dead' || shown === 'stopped' || (shown === 'blocked' && this.slot(d).phase === 'waiting')) {
        return this.show(name, 'blocked', `waiting for dependency ${d}, which is ${shown}`);
      }
    }
  }

  /** What follows from the slots as they are now: stops to send, relaunches due, starts, the end. */
  settle(): void {
    const { now } = this.ctx;
    // Dependents first: a stop is sent once nothing that depends on the agent is still being
    // stopped with it (an agent started on purpose meanwhile does not hold the others up).
    for (const a of [...this.agents].reverse()) {
      const s = this.slot(a.name);
      if (s.phase !== 'stopping' || s.sent) continue;
      if (dependentsOf(this.agents, a.name).some((d) => this.slot(d).phase === 'stopping')) continue;
      this.set(a.name, { ...s, sent: true });
      if (this.phase !== 'forcing') this.effects.push({ do: 'stop', agent: a.name, reason: s.reason });
    }
    if (this.phase === 'running') {
      for (const a of this.agents) {
        const s = this.slot(a.name);
        if (s.phase !== 'restarting' || s.relaunch.dueAt > now) continue;
        if (s.relaunch.group.some((n) => this.slot(n).phase === 'stopping')) continue;
        const group = s.relaunch.group;
        this.set(a.name, { phase: 'waiting', reason: 'restart delay elapsed', deps: a.dependsOn.filter((d) => group.includes(d)) });
      }
      // In start order, so that an agent started in this step counts for the next ones once up.
      let launching = Object.values(this.slots).filter((s) => s.phase === 'running' && s.launching).length;
      for (const a of this.agents) {
        const s = this.slot(a.name);
        if (s.phase !== 'waiting') continue;
        if (!s.deps.every((d) => isUp(this.slot(d)))) {
          this.showBlocked(a.name, s.deps);
          continue;
        }
        // At most maxLaunching at once; the rest wait in start order (and still show what blocks them).
        if (launching >= (this.ctx.spec.maxLaunching ?? Infinity)) continue;
        launching++;
        this.set(a.name, { phase: 'running', launching: true });
        this.effects.push({ do: 'run', agent: a.name, reason: s.reason });
      }
    }
    for (const name of this.removing) {
      if (!settled(this.slot(name))) continue;
      this.removing = this.removing.filter((n) => n !== name);
      this.agents = this.agents.filter((a) => a.name !== name);
      delete this.slots[name];
      this.effects.push({ do: 'forget', agent: name });
    }
    if ((this.phase === 'stopping' || this.phase === 'forcing') && Object.values(this.slots).every(settled)) {
      this.phase = 'stopped';
      this.effects.push({ do: 'lifecycle', event: 'stopped' });
    }
  }
}
