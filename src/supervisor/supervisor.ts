/**
 * The supervisor: starts agents in dependency order, decides restarts (pure policy + backoff +
 * sliding-window budget), publishes everything on the bus, and stops agents in reverse order.
 * It runs on the main thread; each agent lives in its own worker (see src/agent/agent-worker.ts).
 */
import { randomBytes } from 'node:crypto';
import type pino from 'pino';
import { type AgentStatus, ControlError, type InputResult, type Results } from '../bus/control-protocol.js';
import type { InputOutcome, Message } from '../bus/protocol.js';
import type { Publisher } from '../bus/publisher.js';
import type { AgentConfig, OrchestraConfig } from '../config/types.js';
import { type PublicState, RUNNING_STATES as RUNNING } from '../machines/agent.js';
import { FORCED_CLOSE_MS, shutdownDeadlineMs } from '../machines/shutdown-deadline.js';
import { decideRestart, EMPTY_HISTORY, type ExitInfo, type RestartDecision, type RestartHistory } from '../machines/restart-policy.js';
import { WorkerHandle } from './worker-handle.js';
import { type AgentIdentity, describeProcesses, killAgent } from '../host/process-group.js';
import type { Reaper } from '../host/reaper.js';
import { type AgentNow, type InputRequest, WorkerRequests } from './worker-requests.js';
import type { FromWorker, SendRequest } from '../agent/worker-protocol.js';

/** What the CLI (or an embedding program) can observe in-process. */
export interface SupervisorListener {
  output?(agent: string, data: Uint8Array): void;
  state?(agent: string, from: PublicState | null, to: PublicState, reason: string): void;
  decision?(agent: string, decision: RestartDecision): void;
}

interface AgentRecord {
  readonly config: AgentConfig;
  handle: WorkerHandle | null;
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
  /** Output bytes published for this agent so far (a replacement worker's first `offset`). */
  outputOffset: number;
  restarts: number;
  lastOutputAt: number | null;
  lastExit: AgentStatus['lastExit'];
  /** Requests to the worker awaiting its answer (input outcomes, ring reads). */
  readonly requests: WorkerRequests;
  /** Called on every state change (stop/start wait on them). */
  readonly watchers: Set<(to: PublicState) => void>;
  /** The last `sidecar.keep` sidecar messages as published, for catch-up. */
  recentSidecar: Message[];
}


/** How long stop/start requests wait for the agent to reach the state they ask for. */
const STATE_WAIT_MS = 120_000;

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
      this.agents.set(a.name, {
        config: a,
        handle: null,
        state: null,
        pid: null,
        history: EMPTY_HISTORY,
        readyOnce: false,
        restartTimer: undefined,
        generation: 0,
        spawnedAt: null,
        outputSeq: 0,
        outputOffset: 0,
        restarts: 0,
        lastOutputAt: null,
        lastExit: null,
        requests: new WorkerRequests((id, request, outcome, reason, bytes) => this.publishInput(a.name, request, id, outcome, reason, bytes)),
        watchers: new Set(),
        recentSidecar: [],
      });
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
    const handle = new WorkerHandle(
      {
        agent: r.config,
        session: this.config.session,
        generation: r.generation,
        runId: this.runId,
        outputSeq: r.outputSeq,
        outputOffset: r.outputOffset,
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
        r.lastOutputAt = Date.now();
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
        r.spawnedAt = Date.now();
        reaper.track(msg.pid, this.runId);
        return;
      case 'state':
        this.setState(r, msg.to, msg.reason, msg.pid ?? r.pid);
        return;
      case 'exit': {
        r.lastExit = { code: msg.code, signal: msg.signal, at: Date.now() };
        const { pid, runMs } = this.endRun(r);
        const decision = this.publishExit(r, { code: msg.code, signal: msg.signal, cause: msg.cause, runMs }, msg.pid ?? pid);
        if (decision?.action === 'restart') r.handle?.send({ type: 'supervisor.restart', delayMs: decision.delayMs, reason: decision.reason });
        else if (decision) r.handle?.send({ type: 'supervisor.giveUp', reason: decision.reason });
        return;
      }
      case 'sidecar': {
        for (const item of msg.items) {
          const m = publisher.publish('sidecar', name, { kind: 'sidecar', ...item });
          if (m) r.recentSidecar.push(m);
        }
        const keep = r.config.sidecar.keep;
        if (r.recentSidecar.length > keep) r.recentSidecar.splice(0, r.recentSidecar.length - keep);
        return;
      }
      case 'input.outcome':
      case 'ring':
        r.requests.answer(msg);
        return;
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
    // A deliberate stop ends the run without an exit to decide on.
    if (to === 'stopped' && r.pid !== null) this.endRun(r);
    for (const w of [...r.watchers]) w(to);
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
    if (d.action === 'restart') {
      const r = this.agents.get(name);
      if (r) r.restarts++;
    }
    this.deps.listener?.decision?.(name, d);
    if (d.action === 'give-up' && d.why === 'budget-exhausted') this.deps.logger.error({ agent: name, ...d }, `giving up: ${d.reason}`);
    else this.deps.logger.info({ agent: name, ...d }, `${d.action}: ${d.reason}`);
  }

  /** The thread died: its PTY's processes are orphaned. Kill them, then treat it as an exit. */
  private onWorkerCrash(r: AgentRecord, handle: WorkerHandle, reason: string): void {
    if (r.handle !== handle) return;
    r.handle = null;
    const name = r.config.name;
    this.deps.logger.error({ agent: name }, reason);
    r.requests.failAll(`the agent's worker thread died (${reason})`);
    const orphan = r.pid;
    void (async () => {
      if (orphan !== null) {
        const { gone, escapees } = await killAgent(this.identity(r, orphan));
        if (escapees.length > 0) this.deps.logger.warn({ agent: name, sid: orphan }, `killed processes that had left the session but carry the agent's identity: ${describeProcesses(escapees)}`);
        if (!gone) this.deps.logger.error({ agent: name, sid: orphan }, 'processes survived SIGKILL after a worker crash');
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

  /** The agent's processes, as every kill path sees them (src/host/process-group.ts). */
  private identity(r: AgentRecord, sid: number): AgentIdentity {
    return { sid, run: this.runId, agent: r.config.name };
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

  /**
   * Graceful: stops agents in reverse dependency order (dependents first), concurrently where
   * allowed. Resolves `forced` when the shutdown deadline passed and the rest was killed.
   */
  async shutdown(): Promise<'graceful' | 'forced'> {
    if (this.phase === 'stopping' || this.phase === 'stopped') return 'graceful';
    this.phase = 'stopping';
    this.lifecycle('stopping');
    this.deps.logger.info('stopping all agents');
    for (const r of this.agents.values()) if (r.restartTimer) clearTimeout(r.restartTimer);
    // Bounded whatever the agents and workers do: past the longest stop an agent can honestly
    // take, the graceful stop turns into the forced one by itself.
    const deadline = shutdownDeadlineMs(this.config.agents);
    let timer: NodeJS.Timeout | undefined;
    const how = await new Promise<'graceful' | 'forced'>((resolve) => {
      void Promise.all([...this.agents.keys()].map((n) => this.stopInOrder(n))).then(() => resolve('graceful'));
      timer = setTimeout(() => {
        const late = [...this.agents.values()].filter((r) => r.handle).map((r) => `${r.config.name} (${r.state ?? 'pending'})`);
        this.deps.logger.error({ agents: late }, `not stopped ${deadline}ms after the stop began: ${late.join(', ')}; forcing`);
        void this.forceStop().then(() => resolve('forced'));
      }, deadline).unref();
    });
    clearTimeout(timer);
    this.stopped();
    return how;
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
   * Immediate: SIGKILL every agent's processes, then let each worker report its agent stopped
   * and close. Workers are not terminated while they own a PTY: node-pty's exit callback running
   * into a terminating thread aborts the whole process.
   */
  async forceStop(): Promise<void> {
    if (this.phase === 'stopped') return;
    if (this.phase !== 'stopping') this.lifecycle('stopping');
    this.phase = 'stopping';
    for (const r of this.agents.values()) {
      if (r.restartTimer) clearTimeout(r.restartTimer);
      // The first SIGKILL round is synchronous; the workers' stop sequences verify the rest.
      if (r.pid !== null) void killAgent(this.identity(r, r.pid));
    }
    await this.closeWorkers(FORCED_CLOSE_MS);
    this.stopped();
  }

  /**
   * Waits for every worker to close, at most `ms`. A worker that does not (it never got its exit)
   * is named and left: the caller's process exit ends it (see up.ts).
   */
  private async closeWorkers(ms: number): Promise<void> {
    const open = new Set<string>();
    const closing = [...this.agents.values()].flatMap((r) => {
      if (!r.handle) return [];
      open.add(r.config.name);
      return [r.handle.shutdown().then(() => open.delete(r.config.name))];
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    await Promise.race([Promise.all(closing), late]);
    clearTimeout(timer);
    if (open.size > 0) this.deps.logger.error({ agents: [...open] }, `workers of ${[...open].join(', ')} did not close ${ms}ms after SIGKILL`);
  }

  // --- operations (the control socket's requests) -----------------------------------------------

  private record(name: string): AgentRecord {
    const r = this.agents.get(name);
    if (!r) throw new ControlError('unknown-agent', `no agent named "${name}" in session "${this.config.session}" (agents: ${[...this.agents.keys()].join(', ')})`);
    return r;
  }

  status(): AgentStatus[] {
    return [...this.agents.values()].map((r) => ({
      name: r.config.name,
      state: r.state ?? 'pending',
      pid: r.pid,
      startedAt: r.spawnedAt,
      restarts: r.restarts,
      lastOutputAt: r.lastOutputAt,
      lastExit: r.lastExit,
      queued: r.requests.queuedSends,
    }));
  }

  private publishInput(agent: string, request: InputRequest, id: string, outcome: InputOutcome, reason: string, bytes: number): void {
    this.deps.publisher.publish('input', agent, { kind: 'input', id, request, outcome, reason, bytes });
    this.deps.logger.info({ agent, id, request, outcome, bytes }, `input ${id}: ${outcome} (${reason})`);
  }

  /** What the agent's input requests need to know of it now. */
  private now(r: AgentRecord): AgentNow {
    return { name: r.config.name, handle: r.handle, state: r.state ?? 'not started yet', escapeEnabled: r.config.input.escape };
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

  /** Attach keystrokes. */
  rawInput(name: string, data: Uint8Array): boolean {
    const r = this.record(name);
    if (!r.handle || !r.state || !RUNNING.has(r.state)) return false;
    r.handle.send({ type: 'input.raw', data });
    return true;
  }

  resize(name: string, cols: number, rows: number): void {
    const r = this.record(name);
    r.handle?.send({ type: 'resize', cols, rows });
  }

  /** The newest `bytes` of the agent's output and the output seq they end at. */
  readRing(name: string, bytes: number): Promise<Results['logs']> {
    const r = this.record(name);
    if (!r.handle) throw new ControlError('not-running', `agent "${name}" has no worker (state ${r.state ?? 'not started yet'}); its log file is ${r.config.log.file}`);
    return r.requests.ring(r.handle, bytes);
  }

  /** Resolves once the agent's state satisfies `ok` (at once if it already does). */
  private waitFor(r: AgentRecord, ok: (s: PublicState | null) => boolean, what: string): Promise<void> {
    if (ok(r.state)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        r.watchers.delete(watch);
        reject(new ControlError('internal', `agent "${r.config.name}" did not become ${what} within ${STATE_WAIT_MS}ms (state ${r.state})`));
      }, STATE_WAIT_MS);
      const watch = (to: PublicState) => {
        if (!ok(to)) return;
        clearTimeout(timer);
        r.watchers.delete(watch);
        resolve();
      };
      r.watchers.add(watch);
    });
  }

  private requireRunning(): void {
    if (this.phase !== 'running') throw new ControlError('shutting-down', 'the supervisor is shutting down');
  }

  /** A deliberate stop: the agent ends `stopped` and no policy restarts it. */
  async stopAgent(name: string): Promise<Results['stop']> {
    const r = this.record(name);
    this.requireRunning();
    if (r.restartTimer) {
      // Waiting to respawn after a worker crash: there is no process, just cancel the restart.
      clearTimeout(r.restartTimer);
      r.restartTimer = undefined;
      this.setState(r, 'stopped', 'stop requested while waiting to restart', null);
    } else if (r.handle && r.state !== 'dead' && r.state !== 'stopped') {
      r.handle.send({ type: 'agent.stop' });
      await this.waitFor(r, (s) => s === 'stopped' || s === 'dead', 'stopped');
    } else if (!r.handle && r.state === null) {
      // Never started (waiting on its dependencies): it stays down until started.
      this.setState(r, 'stopped', 'stop requested before start', null);
    }
    return { state: r.state ?? 'pending' };
  }

  /** Brings a stopped or dead agent back (a fresh restart budget); a running agent is left alone. */
  async startAgent(name: string): Promise<Results['start']> {
    const r = this.record(name);
    this.requireRunning();
    if (r.state === 'stopping') await this.waitFor(r, (s) => s !== 'stopping', 'stopped');
    if (r.state === 'stopped' || r.state === 'dead' || r.state === null) {
      r.history = EMPTY_HISTORY;
      if (r.handle) r.handle.send({ type: 'agent.start' });
      else this.spawnWorker(r);
      await this.waitFor(r, (s) => s !== null && s !== 'stopped' && s !== 'dead', 'started');
    }
    return { state: r.state ?? 'pending' };
  }

  async restartAgent(name: string): Promise<Results['restart']> {
    await this.stopAgent(name);
    return this.startAgent(name);
  }
}
