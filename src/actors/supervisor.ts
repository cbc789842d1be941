/**
 * The supervisor: starts agents in dependency order, decides restarts (pure policy + backoff +
 * sliding-window budget), publishes everything on the bus, and stops agents in reverse order.
 * It runs on the main thread; each agent lives in its own worker (see agent-worker.ts).
 */
import { randomBytes } from 'node:crypto';
import type pino from 'pino';
import type { Publisher } from '../bus/publisher.js';
import type { AgentConfig, OrchestraConfig } from '../config/types.js';
import type { PublicState } from '../machines/agent.js';
import { decideRestart, EMPTY_HISTORY, type ExitInfo, type RestartDecision, type RestartHistory } from '../machines/restart-policy.js';
import { AgentHandle } from './agent-handle.js';
import { signalGroup, waitGroupEmpty } from './process-group.js';
import type { Reaper } from './reaper.js';
import type { FromWorker } from './worker-protocol.js';

/** What the CLI (or an embedding program) can observe in-process. */
export interface SupervisorListener {
  output?(agent: string, data: Uint8Array): void;
  state?(agent: string, from: PublicState | null, to: PublicState, reason: string): void;
  decision?(agent: string, decision: RestartDecision): void;
}

interface AgentRecord {
  readonly config: AgentConfig;
  handle: AgentHandle | null;
  state: PublicState | null;
  pid: number | null;
  history: RestartHistory;
  /** Set once the agent has been ready: dependents may start. */
  readyOnce: boolean;
  restartTimer: NodeJS.Timeout | undefined;
  /** Workers started for this agent so far. */
  generation: number;
  /** When the current run's process was spawned: the run length of every exit comes from it. */
  spawnedAt: number | null;
  /** The last output seq published for this agent (a replacement worker continues from it). */
  outputSeq: number;
}

export interface SupervisorDeps {
  readonly publisher: Publisher;
  readonly logger: pino.Logger;
  readonly reaper: Reaper;
  readonly listener?: SupervisorListener;
  readonly runId?: string;
  readonly random?: () => number;
}

export class Supervisor {
  readonly runId: string;
  private readonly agents = new Map<string, AgentRecord>();
  private phase: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';
  private readonly stops = new Map<string, Promise<void>>();

  constructor(
    private readonly config: OrchestraConfig,
    private readonly deps: SupervisorDeps,
  ) {
    this.runId = deps.runId ?? randomBytes(8).toString('hex');
    for (const a of config.agents) {
      this.agents.set(a.name, { config: a, handle: null, state: null, pid: null, history: EMPTY_HISTORY, readyOnce: false, restartTimer: undefined, generation: 0, spawnedAt: null, outputSeq: 0 });
    }
  }

  /** Starts every agent whose dependencies are met; the rest follow as their dependencies get ready. */
  start(): void {
    this.phase = 'running';
    this.lifecycle('started');
    this.startEligible();
  }

  private startEligible(): void {
    if (this.phase !== 'running') return;
    for (const r of this.agents.values()) {
      if (r.handle || r.state !== null) continue;
      const waiting = r.config.dependsOn.filter((d) => !this.agents.get(d)?.readyOnce);
      if (waiting.length === 0) this.spawnWorker(r);
    }
  }

  private spawnWorker(r: AgentRecord): void {
    const name = r.config.name;
    r.generation++;
    const handle = new AgentHandle(
      {
        agent: r.config,
        session: this.config.session,
        generation: r.generation,
        runId: this.runId,
        outputSeq: r.outputSeq,
      },
      {
        message: (msg) => this.onWorkerMessage(r, msg),
        crashed: (reason) => this.onWorkerCrash(r, handle, reason),
      },
    );
    r.handle = handle;
    this.deps.logger.debug({ agent: name }, 'worker started');
  }

  private onWorkerMessage(r: AgentRecord, msg: FromWorker): void {
    const name = r.config.name;
    const { publisher, listener, logger, reaper } = this.deps;
    switch (msg.type) {
      case 'output':
        r.outputSeq = msg.seq;
        publisher.publishEncodedOutput(name, msg.payload, msg.seq);
        listener?.output?.(name, msg.payload.subarray(msg.payload.length - msg.size));
        return;
      case 'spawned':
        r.pid = msg.pid;
        r.spawnedAt = Date.now();
        reaper.track(msg.pid);
        return;
      case 'state':
        this.setState(r, msg.to, msg.reason, msg.pid ?? r.pid);
        return;
      case 'exit': {
        const { pid, runMs } = this.endRun(r);
        const decision = this.publishExit(r, { code: msg.code, signal: msg.signal, cause: msg.cause, runMs }, msg.pid ?? pid);
        if (decision?.action === 'restart') r.handle?.send({ type: 'supervisor.restart', delayMs: decision.delayMs, reason: decision.reason });
        else if (decision) r.handle?.send({ type: 'supervisor.giveUp', reason: decision.reason });
        return;
      }
      case 'log':
        logger[msg.level]({ agent: name, ...msg.fields }, msg.msg);
        return;
      case 'worker.closed':
        return;
    }
  }

  private setState(r: AgentRecord, to: PublicState, reason: string, pid: number | null): void {
    const from = r.state;
    r.state = to;
    const name = r.config.name;
    this.deps.publisher.publish('state', name, { kind: 'state', from, to, reason, pid });
    this.deps.listener?.state?.(name, from, to, reason);
    this.deps.logger.info({ agent: name, from, to, reason }, `${from ?? 'new'} -> ${to}: ${reason}`);
    if ((to === 'ready' || to === 'busy') && !r.readyOnce) {
      r.readyOnce = true;
      this.startEligible();
    }
  }

  /** The current run is over: forget its process (the watchdog too) and say how long it lasted. */
  private endRun(r: AgentRecord): { pid: number | null; runMs: number } {
    const pid = r.pid;
    const runMs = r.spawnedAt === null ? 0 : Date.now() - r.spawnedAt;
    if (pid !== null) this.deps.reaper.untrack(pid);
    r.pid = null;
    r.spawnedAt = null;
    return { pid, runMs };
  }

  /**
   * Publishes an exit and, while running, decides what follows it. While stopping, an exit is the
   * end of the stop sequence, not something to decide on (undefined).
   */
  private publishExit(r: AgentRecord, exit: ExitInfo, pid: number | null): RestartDecision | undefined {
    this.deps.publisher.publish('exit', r.config.name, { kind: 'exit', pid, ...exit });
    return this.phase === 'running' ? this.decide(r, exit) : undefined;
  }

  /** Applies the restart policy to an exit, records the history, publishes the decision. */
  private decide(r: AgentRecord, exit: ExitInfo): RestartDecision {
    const { decision, history } = decideRestart(r.config.restart, r.history, exit, Date.now(), this.deps.random ?? Math.random);
    r.history = history;
    this.publishDecision(r.config.name, decision);
    return decision;
  }

  private publishDecision(name: string, d: RestartDecision): void {
    this.deps.publisher.publish('restart', name, { kind: 'restart', ...d });
    this.deps.listener?.decision?.(name, d);
    if (d.action === 'give-up' && d.why === 'budget-exhausted') this.deps.logger.error({ agent: name, ...d }, `giving up: ${d.reason}`);
    else this.deps.logger.info({ agent: name, ...d }, `${d.action}: ${d.reason}`);
  }

  /** The thread died: its PTY's group is orphaned. Kill it, then treat it as an exit. */
  private onWorkerCrash(r: AgentRecord, handle: AgentHandle, reason: string): void {
    if (r.handle !== handle) return;
    r.handle = null;
    const name = r.config.name;
    this.deps.logger.error({ agent: name }, reason);
    const orphan = r.pid;
    void (async () => {
      if (orphan !== null) {
        signalGroup(orphan, 'SIGKILL');
        if (!(await waitGroupEmpty(orphan, 2000))) this.deps.logger.error({ agent: name, pgid: orphan }, 'processes survived SIGKILL after a worker crash');
      }
      const { pid, runMs } = this.endRun(r);
      if (this.phase !== 'running') {
        if (pid !== null) this.setState(r, 'stopped', `${reason}; process group killed during shutdown`, pid);
        return;
      }
      // A stopped or dead agent had no process: there is nothing to decide until it is started again.
      if (pid === null && (r.state === 'stopped' || r.state === 'dead')) return;
      this.setState(r, 'exited', reason, pid);
      const decision = this.publishExit(r, { code: null, signal: null, cause: 'worker-crash', runMs }, pid);
      if (!decision) return;
      if (decision.action === 'give-up') {
        this.setState(r, 'dead', decision.reason, null);
        return;
      }
      this.setState(r, 'restarting', decision.reason, null);
      r.restartTimer = setTimeout(() => {
        r.restartTimer = undefined;
        if (this.phase === 'running') this.spawnWorker(r);
      }, decision.delayMs);
    })();
  }

  private lifecycle(event: 'started' | 'stopping' | 'stopped'): void {
    this.deps.publisher.publish('supervisor', '', {
      kind: 'supervisor',
      event,
      pid: process.pid,
      session: this.config.session,
      agents: this.config.agents.map((a) => a.name),
    });
  }

  /** Graceful: stops agents in reverse dependency order (dependents first), concurrently where allowed. */
  async shutdown(): Promise<void> {
    if (this.phase === 'stopping' || this.phase === 'stopped') return;
    this.phase = 'stopping';
    this.lifecycle('stopping');
    this.deps.logger.info('stopping all agents');
    for (const r of this.agents.values()) if (r.restartTimer) clearTimeout(r.restartTimer);
    await Promise.all([...this.agents.keys()].map((n) => this.stopInOrder(n)));
    this.stopped();
  }

  /** Both ways of stopping end here; a forced stop can overtake a graceful one: announce once. */
  private stopped(): void {
    if (this.phase === 'stopped') return;
    this.phase = 'stopped';
    this.lifecycle('stopped');
  }

  private stopInOrder(name: string): Promise<void> {
    const existing = this.stops.get(name);
    if (existing) return existing;
    const dependents = [...this.agents.values()].filter((r) => r.config.dependsOn.includes(name)).map((r) => r.config.name);
    const p = Promise.all(dependents.map((d) => this.stopInOrder(d))).then(async () => {
      const r = this.agents.get(name);
      if (!r?.handle) return;
      await r.handle.shutdown();
      r.handle = null;
    });
    this.stops.set(name, p);
    return p;
  }

  /**
   * Immediate: SIGKILL every agent's process group, then let each worker report its agent stopped
   * and close. Workers are not terminated while they own a PTY: node-pty's exit callback running
   * into a terminating thread aborts the whole process.
   */
  async forceStop(): Promise<void> {
    if (this.phase === 'stopped') return;
    if (this.phase !== 'stopping') this.lifecycle('stopping');
    this.phase = 'stopping';
    for (const r of this.agents.values()) {
      if (r.restartTimer) clearTimeout(r.restartTimer);
      if (r.pid !== null) signalGroup(r.pid, 'SIGKILL');
    }
    await Promise.all([...this.agents.values()].map((r) => r.handle?.shutdown()));
    this.stopped();
  }
}
