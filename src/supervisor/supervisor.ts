/**
 * The supervisor: the interpreter of the supervision chart (src/machines/supervision.ts). The chart
 * decides — start order, restarts, group strategies, stop order, the crew's own lifecycle — and this
 * class does what it says: runs and stops agents in their workers, publishes on the bus, keeps one
 * timer per restarting agent on the injected clock. It runs on the main thread; each agent lives in
 * its own worker (src/agent/agent-worker.ts).
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type pino from 'pino';
import { type AgentStatus, ControlError, type InputResult, type Results } from '../bus/control-protocol.js';
import type { InputOutcome, Message } from '../bus/protocol.js';
import type { Publisher } from '../bus/publisher.js';
import type { AgentConfig, OrchestraConfig } from '../config/types.js';
import { type BlockedInfo, type PublicState, RUNNING_STATES as RUNNING } from '../machines/agent.js';
import type { RestartDecision } from '../machines/restart-policy.js';
import { FORCED_CLOSE_MS, shutdownDeadlineMs } from '../machines/shutdown-deadline.js';
import { type Crew, type CrewEvent, type CrewSpec, type Effect, initialCrew, type Role, type Slot, step } from '../machines/supervision.js';
import { type Clock, systemClock } from '../host/clock.js';
import { type AgentIdentity, describeProcesses } from '../host/process-group.js';
import { Termination } from '../host/termination.js';
import type { Reaper } from '../host/reaper.js';
import { type HandleListener, WorkerHandle, type WorkerPort } from './worker-handle.js';
import { type AgentNow, type InputRequest, WorkerRequests } from './worker-requests.js';
import { nextRun, sessionId } from '../host/resume.js';
import { LEASE_MS, type Size } from './attachers.js';
import { Attachments } from './attachments.js';
import { planReload } from '../machines/reconfigure.js';
import type { FromWorker, SendRequest, WorkerInit } from '../agent/worker-protocol.js';

/** What the CLI (or an embedding program) can observe in-process. */
export interface SupervisorListener {
  output?(agent: string, data: Uint8Array): void;
  state?(agent: string, from: PublicState | null, to: PublicState, reason: string): void;
  decision?(agent: string, decision: RestartDecision): void;
}

/** What the work layer (src/work/) follows of the agents besides the bus: state changes, sidecar events, agents forgotten. */
export type AgentEvent =
  | { readonly type: 'state'; readonly agent: string; readonly to: PublicState; readonly reason: string }
  | { readonly type: 'sidecar'; readonly agent: string; readonly event: Record<string, unknown> }
  | { readonly type: 'forgotten'; readonly agent: string };

/** What the supervisor holds for an agent besides its place in the chart: its worker and its run's facts. */
interface AgentRecord {
  readonly config: AgentConfig;
  worker: WorkerPort | null;
  /** Worker threads of this agent that died (a replacement is told it is one). */
  workersLost: number;
  /** The current run's process, from `spawned` to the run's end. */
  pid: number | null;
  /** Its initial prompt (`prompt:`) was handed to the send path (on its first run only). */
  prompted: boolean;
  spawnedAt: number | null;
  /** The last output seq published for this agent (a replacement worker continues from it). */
  outputSeq: number;
  /** Output bytes published for this agent so far (a replacement worker's first `offset`). */
  outputOffset: number;
  restarts: number;
  lastOutputAt: number | null;
  lastExit: Omit<NonNullable<AgentStatus['lastExit']>, 'reason'> | null;
  /** The reason of the last state change, and of the last that ended a run (`exited`, or a deliberate `stopped`). */
  reason: string | null;
  runEnd: string | null;
  /** Requests to the worker awaiting its answer (input outcomes, ring reads). */
  readonly requests: WorkerRequests;
  /** The last `sidecar.keep` sidecar messages as published, for catch-up. */
  recentSidecar: Message[];
  /** While the agent is blocked: on what, since when. */
  blocked: (BlockedInfo & { since: number }) | null;
  /** Terminals attached to it, which decide its size. */
  readonly attachments: Attachments;
}

function unknownAttachment(agent: string, attach: string): ControlError {
  return new ControlError('bad-request', `no attachment "${attach}" to agent "${agent}" (detached, or its lease ran out: attach again)`);
}

/**
 * Runs launching at once (a worker thread loading, its process spawning): that work is CPU-bound, so
 * beyond about two per core launches only compete, and hundreds at once wedged the main thread.
 */
const MAX_LAUNCHING = availableParallelism() * 2;

/** How long stop/start requests wait for the agent to reach the state they ask for. */
const STATE_WAIT_MS = 120_000;
/** How long an initial prompt waits for its agent past the agent's ready timeout. */
const PROMPT_WAIT_MS = 30_000;
/** Removed agents whose output seq a new agent of the same name continues (the newest this many). */
export const OUTPUT_ENDS_KEPT = 10_000;

export type WorkerFactory = (init: WorkerInit, listener: HandleListener) => WorkerPort;

export interface SupervisorDeps {
  readonly publisher: Publisher;
  readonly logger: pino.Logger;
  readonly reaper: Reaper;
  readonly listener?: SupervisorListener;
  readonly runId?: string;
  readonly random?: () => number;
  /** Every deadline and delay runs on it (a simulated one in tests). */
  readonly clock?: Clock;
  /** Starts an agent's worker thread (a fake one in tests). */
  readonly workers?: WorkerFactory;
  /** Ends the processes of a run whose worker died: SIGKILL and verify (a fake in tests). */
  readonly killOrphans?: (id: AgentIdentity) => Promise<void>;
}

export class Supervisor {
  readonly runId: string;
  private readonly agents = new Map<string, AgentRecord>();
  private readonly spec: CrewSpec;
  private crew: Crew;
  private readonly clock: Clock;
  /** One timer per restarting slot, for its `dueAt`. */
  private readonly timers = new Map<string, { dueAt: number; id: unknown }>();
  /** Called after every step of the chart: the waits of control requests and of the shutdown. */
  private readonly observers = new Set<() => void>();
  /** The work layer's followers of agent events (see `watch`). */
  private readonly watchers = new Set<(e: AgentEvent) => void>();
  /** Events that arrive while a step's effects run are taken in order after it. */
  private readonly pending: CrewEvent[] = [];
  private stepping = false;
  /**
   * Where each removed agent's output ended: an agent added again under its name (a session cold
   * start, a reload's recreation) continues the seq — subscribers drop a seq they have seen — and
   * the offset in its log, which it appends to.
   */
  private readonly outputEnds = new Map<string, { seq: number; offset: number }>();
  private ending: Promise<'graceful' | 'forced'> | undefined;

  constructor(
    private readonly config: OrchestraConfig,
    private readonly deps: SupervisorDeps,
  ) {
    this.runId = deps.runId ?? randomBytes(8).toString('hex');
    this.clock = deps.clock ?? systemClock;
    this.spec = { agents: config.agents, strategy: config.supervision.strategy, budget: config.supervision.budget, maxLaunching: MAX_LAUNCHING };
    this.crew = initialCrew(this.spec);
    for (const a of config.agents) this.agents.set(a.name, this.newRecord(a));
  }

  private newRecord(a: AgentConfig): AgentRecord {
    const r: AgentRecord = {
      config: a,
      worker: null,
      workersLost: 0,
      pid: null,
      prompted: false,
      spawnedAt: null,
      outputSeq: 0,
      outputOffset: 0,
      restarts: 0,
      lastOutputAt: null,
      lastExit: null,
      reason: null,
      runEnd: null,
      requests: new WorkerRequests((id, request, outcome, reason, bytes) => this.publishInput(a.name, request, id, outcome, reason, bytes)),
      recentSidecar: [],
      blocked: null,
      attachments: new Attachments(
        { cols: a.cols, rows: a.rows },
        {
          clock: this.clock,
          resize: (size) => r.worker?.send({ type: 'resize', ...size }),
          expired: (ids) => this.deps.logger.info({ agent: a.name, attachments: ids }, 'attachment lease ran out (client gone without detaching)'),
        },
      ),
    };
    return r;
  }

  /** Starts every agent whose dependencies are met; the rest follow as their dependencies get ready. */
  start(): void {
    this.dispatch({ type: 'start' });
  }

  /** The chart's state (tests and diagnostics). */
  get state(): Crew {
    return this.crew;
  }

  private slot(name: string): Slot {
    const s = this.crew.slots[name];
    if (!s) throw new Error(`no agent named "${name}"`);
    return s;
  }

  private dispatch(event: CrewEvent): void {
    this.pending.push(event);
    if (this.stepping) return;
    this.stepping = true;
    try {
      for (let e = this.pending.shift(); e; e = this.pending.shift()) {
        // One reading of the clock for the step and its timers: a restart the step found not yet
        // due must get a timer even if the clock has passed its due time meanwhile.
        const now = this.clock.now();
        const { crew, effects } = step(this.crew, e, { spec: this.spec, now, random: this.deps.random ?? Math.random });
        this.crew = crew;
        for (const effect of effects) this.perform(effect);
        this.syncTimers(now);
      }
    } finally {
      this.stepping = false;
    }
    for (const o of [...this.observers]) o();
  }

  private perform(e: Effect): void {
    switch (e.do) {
      case 'state':
        return this.publishState(e.agent, e.from, e.to, e.reason, e.pid, e.blocked);
      case 'exit':
        this.deps.publisher.publish('exit', e.agent, { kind: 'exit', pid: e.pid, ...e.exit });
        return;
      case 'decision':
        return this.publishDecision(e.agent, e.decision);
      case 'run': {
        const r = this.record(e.agent);
        if (r.worker) r.worker.send({ type: 'agent.start', reason: e.reason });
        else this.spawnWorker(r);
        this.deliverPrompt(r);
        return;
      }
      case 'forget':
        return this.forget(e.agent);
      case 'stop':
        this.record(e.agent).worker?.send({ type: 'agent.stop', reason: e.reason });
        return;
      case 'kill': {
        const r = this.record(e.agent);
        if (r.worker) r.worker.send({ type: 'agent.kill', why: 'forced stop' });
        return;
      }
      case 'lifecycle':
        this.deps.publisher.publish('supervisor', '', {
          kind: 'supervisor',
          event: e.event,
          pid: process.pid,
          session: this.config.session,
          agents: this.crew.agents.map((a) => a.name),
        });
        return;
    }
  }

  /**
   * The agent's `prompt:` as its first input, through the send path (its outcome on the bus like any
   * send): queued in its worker until the agent is ready. Only its first run's: a restarted agent
   * resumes its work (or its conversation), it is not given the work again.
   */
  private deliverPrompt(r: AgentRecord): void {
    const text = r.config.prompt;
    if (text === undefined || r.prompted) return;
    r.prompted = true;
    void this.send(r.config.name, { text, mode: 'wait-idle', timeoutMs: r.config.readyTimeoutMs + PROMPT_WAIT_MS });
  }

  /** The chart forgot the agent: its worker closes and its record goes (its log file stays). */
  private forget(name: string): void {
    const r = this.record(name);
    this.agents.delete(name);
    this.outputEnds.set(name, { seq: r.outputSeq, offset: r.outputOffset });
    // Task agents get fresh names: only the newest removed names are kept (a Map is in insertion order).
    for (const old of this.outputEnds.keys()) {
      if (this.outputEnds.size <= OUTPUT_ENDS_KEPT) break;
      this.outputEnds.delete(old);
    }
    r.attachments.close();
    r.requests.failAll(`agent "${name}" was removed`);
    const worker = r.worker;
    r.worker = null;
    void worker?.shutdown();
    this.deps.logger.info({ agent: name }, 'agent removed');
    this.notify({ type: 'forgotten', agent: name });
  }

  private notify(e: AgentEvent): void {
    for (const w of [...this.watchers]) w(e);
  }

  /** Follows agent events (the work layer); returns the unwatch. */
  watch(fn: (e: AgentEvent) => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  /**
   * A timer for each restarting slot's due time still to come, as of the step just taken (`now`).
   * One that was due in that step but held back (its group is still stopping) needs none: the
   * step in which the group has stopped relaunches it.
   */
  private syncTimers(now: number): void {
    for (const [name, s] of Object.entries(this.crew.slots)) {
      const t = this.timers.get(name);
      const dueAt = s.phase === 'restarting' && s.relaunch.dueAt > now ? s.relaunch.dueAt : undefined;
      if (t && t.dueAt === dueAt) continue;
      if (t) this.clock.clearTimeout(t.id);
      this.timers.delete(name);
      if (dueAt === undefined) continue;
      const id = this.clock.setTimeout(() => {
        this.timers.delete(name);
        this.dispatch({ type: 'restart.due', agent: name });
      }, dueAt - now);
      this.timers.set(name, { dueAt, id });
    }
  }

  private spawnWorker(r: AgentRecord): void {
    const name = r.config.name;
    const listener: HandleListener = {
      message: (msg) => this.onWorkerMessage(r, msg),
      crashed: (reason) => this.onWorkerCrash(r, worker, reason),
    };
    const init: WorkerInit = {
      agent: r.config,
      session: this.config.session,
      replacement: r.workersLost > 0,
      runId: this.runId,
      outputSeq: r.outputSeq,
      outputOffset: r.outputOffset,
      ...(r.attachments.size.cols !== r.config.cols || r.attachments.size.rows !== r.config.rows ? { size: r.attachments.size } : {}),
    };
    const worker = (this.deps.workers ?? ((i, l) => new WorkerHandle(i, l)))(init, listener);
    r.worker = worker;
    this.deps.logger.debug({ agent: name }, 'worker started');
  }

  private onWorkerMessage(r: AgentRecord, msg: FromWorker): void {
    const name = r.config.name;
    // A removed agent's worker closing (its chart catching up to `stopped`) is no news for the chart.
    if (this.agents.get(name) !== r && msg.type !== 'log') return;
    const { publisher, listener, logger, reaper } = this.deps;
    switch (msg.type) {
      case 'output':
        r.lastOutputAt = this.clock.now();
        for (const p of msg.parts) {
          const payload = msg.buffer.subarray(p.offset, p.offset + p.length);
          r.outputSeq = p.seq;
          r.outputOffset = p.at + p.size;
          publisher.publishEncodedOutput(name, payload, p.seq, p.size);
          listener?.output?.(name, payload.subarray(payload.length - p.size));
        }
        return;
      case 'spawned':
        r.pid = msg.pid;
        r.spawnedAt = this.clock.now();
        reaper.track(msg.pid, this.runId);
        return;
      case 'state':
        this.dispatch({ type: 'run.state', agent: name, to: msg.to, reason: msg.reason, pid: msg.pid ?? r.pid, ...(msg.blocked ? { blocked: msg.blocked } : {}) });
        return;
      case 'escalation': {
        const { type: _, ...alert } = msg;
        publisher.publish('alert', name, { kind: 'alert', alert: 'blocked', ...alert });
        logger.warn({ agent: name, ...alert }, `blocked on ${alert.on} for ${alert.forMs}ms${alert.then === 'none' ? '' : `: ${alert.then}`}`);
        return;
      }
      case 'exit': {
        r.lastExit = { code: msg.code, signal: msg.signal, at: this.clock.now(), cause: msg.cause };
        const { pid, runMs } = this.endRun(r);
        this.dispatch({ type: 'run.exit', agent: name, pid: msg.pid ?? pid, exit: { code: msg.code, signal: msg.signal, cause: msg.cause, runMs, ...(msg.screen ? { screen: msg.screen } : {}) } });
        return;
      }
      case 'sidecar': {
        for (const item of msg.items) {
          const m = publisher.publish('sidecar', name, { kind: 'sidecar', ...item });
          if (m) r.recentSidecar.push(m);
          if (item.ok) this.notify({ type: 'sidecar', agent: name, event: item.event });
        }
        const keep = r.config.sidecar.keep;
        if (r.recentSidecar.length > keep) r.recentSidecar.splice(0, r.recentSidecar.length - keep);
        return;
      }
      case 'input.outcome':
      case 'ring':
      case 'screen':
        r.requests.answer(msg);
        return;
      case 'input.progress':
        r.requests.progress(msg);
        return;
      case 'log':
        logger[msg.level]({ agent: name, ...msg.fields }, msg.msg);
        return;
      case 'worker.closed':
        return;
    }
  }

  private publishState(name: string, from: PublicState | null, to: PublicState, reason: string, pid: number | null, blocked?: BlockedInfo): void {
    this.deps.publisher.publish('state', name, { kind: 'state', from, to, reason, pid, ...(blocked ? { blocked } : {}) });
    this.deps.listener?.state?.(name, from, to, reason);
    this.deps.logger.info({ agent: name, from, to, reason }, `${from ?? 'new'} -> ${to}: ${reason}`);
    const r = this.record(name);
    r.blocked = blocked ? { ...blocked, since: from === 'blocked' && r.blocked ? r.blocked.since : this.clock.now() } : null;
    if (to === 'restarting' || to === 'dead') r.worker?.send({ type: 'supervisor.state', to });
    r.reason = reason;
    if (to === 'exited') r.runEnd = reason;
    // A deliberate stop ends the run without an exit.
    if (to === 'stopped' && r.pid !== null) {
      r.lastExit = { code: null, signal: null, at: this.clock.now(), cause: 'stopped' };
      r.runEnd = reason;
      this.endRun(r);
    }
    this.notify({ type: 'state', agent: name, to, reason });
  }

  /** The current run is over: forget its process (the reaper too) and say how long it lasted. */
  private endRun(r: AgentRecord): { pid: number | null; runMs: number } {
    const pid = r.pid;
    const runMs = r.spawnedAt === null ? 0 : this.clock.now() - r.spawnedAt;
    if (pid !== null) this.deps.reaper.untrack(pid);
    r.pid = null;
    r.spawnedAt = null;
    return { pid, runMs };
  }

  private publishDecision(name: string, decision: RestartDecision): void {
    const d = decision.action === 'restart' ? { ...decision, ...this.resumeOf(name) } : decision;
    this.deps.publisher.publish('restart', name, { kind: 'restart', ...d });
    if (d.action === 'restart') this.record(name).restarts++;
    this.deps.listener?.decision?.(name, d);
    if (d.action === 'give-up' && d.why === 'budget-exhausted') this.deps.logger.error({ agent: name, ...d }, `giving up: ${d.reason}`);
    else this.deps.logger.info({ agent: name, ...d }, `${d.action}: ${d.reason}`);
  }

  /** Whether the agent's next run resumes its conversation (as its worker will decide at the spawn). */
  private resumeOf(name: string): Pick<RestartDecision, 'resume'> {
    const { config } = this.record(name);
    if (!config.resume) return {};
    const run = nextRun(config.resume, sessionId(this.config.session, name, config.cwd), config.cwd, { ...process.env, ...config.env }, true);
    return { resume: { ...(run.id === undefined ? {} : { id: run.id }), resumed: run.resumed } };
  }

  /** The thread died: its PTY's processes are orphaned. Kill them, then the chart decides as for an exit. */
  private onWorkerCrash(r: AgentRecord, worker: WorkerPort, reason: string): void {
    if (r.worker !== worker || this.agents.get(r.config.name) !== r) return;
    r.worker = null;
    r.workersLost++;
    const name = r.config.name;
    this.deps.logger.error({ agent: name }, reason);
    r.requests.failAll(`the agent's worker thread died (${reason})`);
    const orphan = r.pid;
    void (async () => {
      if (orphan !== null) await this.killOrphans(r, orphan, 'worker crash');
      const { pid, runMs } = this.endRun(r);
      this.dispatch({ type: 'worker.crashed', agent: name, reason, runMs, pid });
    })();
  }

  /** The termination sequence from its kill step: nobody is left to type keys or wait for a grace. */
  private async killOrphans(r: AgentRecord, sid: number, why: string): Promise<void> {
    const id = this.identity(r, sid);
    if (this.deps.killOrphans) return this.deps.killOrphans(id);
    const { outcome, escapees } = await new Termination(id, r.config.stop).force(why);
    if (escapees.length > 0) this.deps.logger.warn({ agent: id.agent, sid: id.sid }, `killed processes that had left the session but carry the agent's identity: ${describeProcesses(escapees)}`);
    if (outcome === 'survivors') this.deps.logger.error({ agent: id.agent, sid: id.sid }, `processes survived SIGKILL (${why})`);
  }

  /** The agent's processes, as every kill path sees them (src/host/process-group.ts). */
  private identity(r: AgentRecord, sid: number): AgentIdentity {
    return { sid, run: this.runId, agent: r.config.name };
  }

  /** Resolves once `ok()` holds after a step of the chart (at once if it holds now); false after `ms`. */
  private until(ok: () => boolean, ms: number): Promise<boolean> {
    if (ok()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (result: boolean) => {
        this.clock.clearTimeout(timer);
        this.observers.delete(check);
        resolve(result);
      };
      const check = () => {
        if (ok()) done(true);
      };
      const timer = this.clock.setTimeout(() => done(false), ms);
      this.observers.add(check);
    });
  }

  /**
   * Graceful: stops agents in reverse dependency order (dependents first), concurrently where
   * allowed. Resolves `forced` when the shutdown deadline passed and the rest was killed.
   */
  shutdown(): Promise<'graceful' | 'forced'> {
    this.ending ??= (async () => {
      this.dispatch({ type: 'shutdown' });
      this.deps.logger.info('stopping all agents');
      // Bounded whatever the agents and workers do: past the longest stop an agent can honestly
      // take, the graceful stop turns into the forced one by itself.
      const deadline = shutdownDeadlineMs(this.crew.agents);
      if (await this.until(() => this.crew.phase === 'stopped', deadline)) {
        await this.closeWorkers();
        return this.crew.forced ? 'forced' : 'graceful';
      }
      const late = this.crew.agents.filter((a) => this.slot(a.name).phase === 'stopping').map((a) => `${a.name} (${this.slot(a.name).shown ?? 'pending'})`);
      this.deps.logger.error({ agents: late }, `not stopped ${deadline}ms after the stop began: ${late.join(', ')}; forcing`);
      await this.forceStop();
      return 'forced';
    })();
    return this.ending;
  }

  /**
   * Immediate: every run's stop goes straight to SIGKILL (a graceful stop in progress is aborted,
   * not raced), then each worker reports its agent stopped and closes. Workers are not terminated
   * while they own a PTY: node-pty's exit callback running into a terminating thread aborts the
   * whole process.
   */
  async forceStop(): Promise<void> {
    this.dispatch({ type: 'force' });
    if (!(await this.until(() => this.crew.phase === 'stopped', FORCED_CLOSE_MS))) {
      // A worker that cannot act on the kill: its processes are killed from here.
      const stuck = [...this.agents.values()].filter((r) => ['running', 'stopping'].includes(this.slot(r.config.name).phase));
      this.deps.logger.error({ agents: stuck.map((r) => r.config.name) }, `agents not stopped ${FORCED_CLOSE_MS}ms after the forced stop: killing their processes from the supervisor`);
      await Promise.all(
        stuck.map(async (r) => {
          if (r.pid !== null) await this.killOrphans(r, r.pid, 'forced stop, worker not answering');
          this.endRun(r);
          this.dispatch({ type: 'run.killed', agent: r.config.name, reason: 'killed by the supervisor: its worker did not answer the forced stop' });
        }),
      );
    }
    await this.closeWorkers();
  }

  /**
   * Every worker closes (its agent settled, its log flushed), at most FORCED_CLOSE_MS. A worker
   * that does not is named and left: the caller's process exit ends it (see up.ts).
   */
  private async closeWorkers(): Promise<void> {
    // Attachments end with the agents: their leases must not hold the process up.
    for (const r of this.agents.values()) r.attachments.close();
    const open = new Set<string>();
    const closing = [...this.agents.values()].flatMap((r) => {
      if (!r.worker) return [];
      open.add(r.config.name);
      const worker = r.worker;
      return [worker.shutdown().then(() => {
        open.delete(r.config.name);
        if (r.worker === worker) r.worker = null;
      })];
    });
    let timer: unknown;
    const late = new Promise<void>((resolve) => (timer = this.clock.setTimeout(resolve, FORCED_CLOSE_MS)));
    await Promise.race([Promise.all(closing), late]);
    this.clock.clearTimeout(timer);
    if (open.size > 0) this.deps.logger.error({ agents: [...open] }, `workers of ${[...open].join(', ')} did not close ${FORCED_CLOSE_MS}ms after their agents stopped`);
  }

  // --- operations (the control socket's requests) -----------------------------------------------

  private record(name: string): AgentRecord {
    const r = this.agents.get(name);
    if (!r) throw new ControlError('unknown-agent', `no agent named "${name}" in session "${this.config.session}" (agents: ${[...this.agents.keys()].join(', ')})`);
    return r;
  }

  /** The settings the agent runs with (a spawned agent's: its template's, under its own name, cwd and paths). */
  configOf(name: string): AgentConfig {
    return this.record(name).config;
  }

  status(): AgentStatus[] {
    return [...this.agents.values()].map((r) => this.statusOfRecord(r));
  }

  /** One agent's status; undefined when the session has no agent of that name. */
  statusOf(name: string): AgentStatus | undefined {
    const r = this.agents.get(name);
    return r && this.statusOfRecord(r);
  }

  private statusOfRecord(r: AgentRecord): AgentStatus {
    const slot = this.slot(r.config.name);
    return {
      name: r.config.name,
      state: slot.shown ?? 'pending',
      pid: r.pid,
      startedAt: r.spawnedAt,
      restarts: r.restarts,
      lastOutputAt: r.lastOutputAt,
      reason: r.reason,
      lastExit: r.lastExit ? { ...r.lastExit, reason: r.runEnd } : null,
      queued: r.requests.queuedSends,
      role: slot.role,
      ...(r.blocked ? { blocked: r.blocked } : {}),
    };
  }

  private publishInput(agent: string, request: InputRequest, id: string, outcome: InputOutcome, reason: string, bytes: number): void {
    this.deps.publisher.publish('input', agent, { kind: 'input', id, request, outcome, reason, bytes });
    this.deps.logger.info({ agent, id, request, outcome, bytes }, `input ${id}: ${outcome} (${reason})`);
  }

  /** What the agent's input requests need to know of it now. */
  private now(r: AgentRecord): AgentNow {
    return { name: r.config.name, handle: r.worker, state: this.slot(r.config.name).shown ?? 'not started yet', escapeEnabled: r.config.input.escape };
  }

  /** Queues text for the agent; resolves with the final outcome (`queued` is only published). */
  send(name: string, req: Omit<SendRequest, 'id'> & { id?: string | undefined }): Promise<InputResult> {
    const r = this.record(name);
    return r.requests.send(this.now(r), req);
  }

  /** The newest sidecar messages kept (at most `n` per agent), oldest first, across agents by time. */
  recentEvents(agent: string | undefined, n: number): Message[] {
    const records = agent === undefined ? [...this.agents.values()] : [this.record(agent)];
    return records.flatMap((r) => r.recentSidecar.slice(Math.max(0, r.recentSidecar.length - n))).sort((a, b) => a.ts - b.ts);
  }

  /** Ctrl-C or Escape into the PTY: not queued behind waiting sends. */
  key(name: string, which: 'interrupt' | 'escape', id?: string): Promise<InputResult> {
    const r = this.record(name);
    return r.requests.key(this.now(r), which, id);
  }

  /** Attach keystrokes; typing makes the attachment the latest active one (its size wins). */
  rawInput(name: string, data: Uint8Array, attach?: string): boolean {
    const r = this.record(name);
    if (attach !== undefined) r.attachments.typed(attach);
    const shown = this.slot(name).shown;
    if (!r.worker || !shown || !RUNNING.has(shown)) return false;
    r.worker.send({ type: 'input.raw', data });
    return true;
  }

  /** An attachment's new size, or (without one) the agent's own size. Returns the agent's size after it. */
  resize(name: string, size: Size, attach?: string): Size {
    const r = this.record(name);
    if (!r.attachments.resize(size, attach) && attach !== undefined) throw unknownAttachment(name, attach);
    return r.attachments.size;
  }

  /**
   * Attaches a terminal: the agent takes its size if it is a driver (see attachers.ts), then its
   * screen is read at that size, with the output seq it shows.
   */
  async attach(name: string, size: Size, readOnly: boolean): Promise<Results['attach']> {
    const r = this.record(name);
    const id = randomBytes(6).toString('hex');
    r.attachments.attach(id, size, readOnly);
    const state: PublicState | 'pending' = this.slot(name).shown ?? 'pending';
    const base = { attach: id, state, lease_ms: LEASE_MS };
    if (!r.worker) return { ...base, screen: '', seq: r.outputSeq, tail: new Uint8Array(0), ...r.attachments.size };
    try {
      const read = await r.requests.screen(r.worker, 'attach', 0);
      return { ...base, screen: read.data, seq: read.seq, tail: read.tail ?? new Uint8Array(0), cols: read.cols, rows: read.rows };
    } catch (err) {
      // No attachment without its screen: its size must not hold for a lease.
      this.detach(name, id);
      throw err;
    }
  }

  detach(name: string, attach: string): boolean {
    return this.record(name).attachments.detach(attach);
  }

  /** Renews an attachment's lease; false when it has already ended. */
  keepalive(name: string, attach: string): boolean {
    return this.record(name).attachments.keepalive(attach);
  }

  /** The rendered screen as text (with colours for `ansi`), with up to `scrollback` lines above it. */
  async screen(name: string, format: 'text' | 'ansi', scrollback: number): Promise<Results['screen']> {
    const r = this.record(name);
    if (!r.worker) throw new ControlError('not-running', `agent "${name}" has no worker (state ${this.slot(name).shown ?? 'not started yet'}): no screen to show; its log file is ${r.config.log.file}`);
    const read = await r.requests.screen(r.worker, format, scrollback);
    return { text: read.data, seq: read.seq, cols: read.cols, rows: read.rows };
  }

  /** The newest `bytes` of the agent's output and the output seq they end at. */
  readRing(name: string, bytes: number): Promise<Results['logs']> {
    const r = this.record(name);
    if (!r.worker) throw new ControlError('not-running', `agent "${name}" has no worker (state ${this.slot(name).shown ?? 'not started yet'}); its log file is ${r.config.log.file}`);
    return r.requests.ring(r.worker, bytes);
  }

  private requireRunning(): void {
    if (this.crew.phase !== 'running') throw new ControlError('shutting-down', 'the supervisor is shutting down');
  }

  private async waitFor(name: string, ok: (s: Slot) => boolean, what: string): Promise<void> {
    if (!(await this.until(() => ok(this.slot(name)), STATE_WAIT_MS))) {
      throw new ControlError('internal', `agent "${name}" did not become ${what} within ${STATE_WAIT_MS}ms (state ${this.slot(name).shown ?? 'pending'})`);
    }
  }

  /** A deliberate stop: the agent ends `stopped` and no policy restarts it. */
  async stopAgent(name: string): Promise<Results['stop']> {
    this.record(name);
    this.requireRunning();
    this.dispatch({ type: 'agent.stop', agent: name });
    await this.waitFor(name, (s) => s.phase === 'stopped' || s.phase === 'dead', 'stopped');
    return { state: this.slot(name).shown ?? 'pending' };
  }

  /** Brings a stopped or dead agent back (a fresh restart budget); a running agent is left alone. */
  async startAgent(name: string): Promise<Results['start']> {
    this.record(name);
    this.requireRunning();
    await this.waitFor(name, (s) => s.phase !== 'stopping', 'stopped');
    const before = this.slot(name).phase;
    this.dispatch({ type: 'agent.start', agent: name });
    if (before === 'stopped' || before === 'dead' || before === 'waiting') {
      // Until its worker reports the new run (a waiting agent shows `restarting` until then).
      await this.waitFor(name, (s) => s.phase !== 'running' || (s.shown !== null && s.shown !== 'stopped' && s.shown !== 'dead' && s.shown !== 'restarting'), 'started');
    }
    return { state: this.slot(name).shown ?? 'pending' };
  }

  async restartAgent(name: string): Promise<Results['restart']> {
    await this.stopAgent(name);
    return this.startAgent(name);
  }

  /**
   * A new agent in the running session, started as its dependencies allow. Its name must be unused
   * and its dependencies known; nothing of another agent (process, files, worker) is touched.
   */
  addAgent(config: AgentConfig, role: Role): void {
    this.requireRunning();
    if (this.agents.has(config.name)) throw new ControlError('bad-request', `an agent named "${config.name}" already exists in session "${this.config.session}": choose another name`);
    const unknown = config.dependsOn.filter((d) => !this.agents.has(d));
    if (unknown.length > 0) throw new ControlError('bad-request', `agent "${config.name}" depends on ${unknown.map((d) => `"${d}"`).join(', ')}, not in session "${this.config.session}"`);
    const r = this.newRecord(config);
    const end = this.outputEnds.get(config.name);
    if (end) {
      r.outputSeq = end.seq;
      r.outputOffset = end.offset;
      this.outputEnds.delete(config.name);
    }
    this.agents.set(config.name, r);
    this.dispatch({ type: 'agent.add', config, role });
  }

  /**
   * Applies a changed config to the running crew (planReload): the removed and recreated agents
   * go, dependents first, then the created and recreated ones are added, dependencies first, each
   * starting as its dependencies allow. Ephemeral agents are left alone. What only a new session
   * can change (its name, state directory, bus, log, supervision) is reported, not applied.
   */
  async reconfigure(next: OrchestraConfig): Promise<Results['reload']> {
    this.requireRunning();
    if (next.stateDir !== this.config.stateDir) {
      throw new ControlError('bad-request', `that config is of another session (state directory ${next.stateDir}; this one's is ${this.config.stateDir})`);
    }
    const current = this.crew.agents.filter((a) => this.crew.slots[a.name]?.role === 'crew');
    // A crew agent's worktree is made when the session starts, and its cwd is in it: the same
    // worktree settings keep that cwd; a worktree that is new or changed waits for a new session.
    const failed: { agent: string; error: string }[] = [];
    const byName = new Map(current.map((a) => [a.name, a]));
    const agents = next.agents.flatMap((a) => {
      if (!a.worktree) return [a];
      const now = byName.get(a.name);
      if (now?.worktree && JSON.stringify(now.worktree) === JSON.stringify(a.worktree)) return [{ ...a, cwd: now.cwd }];
      failed.push({ agent: a.name, error: 'its worktree is made when the session starts: a new or changed `worktree:` applies with the next `orchestra up`' });
      return now ? [now] : [];
    });
    const plan = planReload(current, agents);
    for (const name of plan.remove) await this.removeAgent(name).catch((err: Error) => failed.push({ agent: name, error: err.message }));
    for (const config of plan.add) {
      try {
        this.addAgent(config, 'crew');
      } catch (err) {
        failed.push({ agent: config.name, error: (err as Error).message });
      }
    }
    const top = ['session', 'bus', 'log', 'supervision', 'tasks'] as const;
    const notApplied = top.filter((k) => JSON.stringify(next[k]) !== JSON.stringify(this.config[k]));
    for (const a of plan.actions) if (a.action !== 'unchanged') this.deps.logger.info({ agent: a.agent, action: a.action, why: a.why }, `reload: ${a.agent} ${a.action}${a.why ? ` (${a.why})` : ''}`);
    return { actions: plan.actions, failed, not_applied: notApplied };
  }

  /** Stops the agent (if it runs), then forgets it: it leaves `ps`; its log file stays. */
  async removeAgent(name: string): Promise<void> {
    this.record(name);
    const dependents = this.crew.agents.filter((a) => a.dependsOn.includes(name)).map((a) => a.name);
    if (dependents.length > 0) throw new ControlError('bad-request', `agent "${name}" cannot be removed: ${dependents.join(', ')} depend${dependents.length === 1 ? 's' : ''} on it`);
    this.dispatch({ type: 'agent.remove', agent: name });
    if (!(await this.until(() => !this.agents.has(name), STATE_WAIT_MS))) {
      throw new ControlError('internal', `agent "${name}" was not removed within ${STATE_WAIT_MS}ms (state ${this.slot(name).shown ?? 'pending'})`);
    }
  }
}
