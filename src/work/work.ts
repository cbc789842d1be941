/**
 * The work layer's first part: ephemeral agents spawned from templates (docs/work.md). It sits on
 * top of the supervisor and uses only its operations (add, stop, remove an agent; follow its
 * events), as the task queue will use this class's `spawn` and `ended`.
 *
 *   ephemeral:  running ──(exit, no restart | sidecar done → stop | stopped)──▶ ended ──(keep_finished)──▶ reaping ──▶ gone
 *
 * An ended agent stays in `ps` for its template's `keep_finished`; then it is removed from the
 * session (its log file stays) and its worktree is cleaned up by the rules of worktrees.ts.
 * A `mode: headless` template's spawn is no agent but a run of its command (headless-runs.ts),
 * prepared the same way (name, prompt, worktree); its worktree is cleaned up when it ends.
 */
import { randomBytes } from 'node:crypto';
import { ControlError } from '../bus/control-protocol.js';
import type { AgentBody, WorktreeInfo } from '../bus/protocol.js';
import { agentFiles } from '../config/load.js';
import { AGENT_NAME, VAR_NAME } from '../config/schema.js';
import type { AgentConfig, OrchestraConfig, TemplateConfig } from '../config/types.js';
import type { Clock } from '../host/clock.js';
import { RUNNING_STATES } from '../machines/agent.js';
import type { AgentEvent, Supervisor } from '../supervisor/supervisor.js';
import type { HeadlessResult } from './headless.js';
import { HeadlessRuns, type HeadlessRunsDeps } from './headless-runs.js';
import { mentions, MissingVars, render } from './render.js';
import { addWorktree, cleanUp, GitError, type Worktree, WorktreeRegistry } from './worktrees.js';

export interface SpawnOptions {
  /** The agent's name (default: the template's name and a short unique suffix). */
  readonly name?: string | undefined;
  /** Values of the template's `{{var}}` placeholders, over its `vars:` defaults. */
  readonly vars?: Readonly<Record<string, string>> | undefined;
  /** Text for the agent: `{{prompt}}` in the template's prompt, or the prompt itself when it has none. */
  readonly prompt?: string | undefined;
  /** `false`: no first input (a session resuming its conversation was given its prompt before). */
  readonly initialPrompt?: boolean;
  /** Takes up the worktree or branch an earlier agent of this name left (a session's next start continues its work). */
  readonly reuseWorktree?: boolean;
}

/** What a spawn started: an agent, or (a headless template) a run. */
export interface Spawned {
  name: string;
  worktree: WorktreeInfo | null;
}

/** How an ephemeral agent's work ended, as published on the bus (`agent` kind, event `ended`). */
export type Ended = Omit<Extract<AgentBody, { event: 'ended' }>, 'kind' | 'event'> & { readonly agent: string };

interface Ephemeral {
  readonly template: TemplateConfig;
  readonly worktree: Worktree | null;
  phase: 'running' | 'ended' | 'reaping';
  /** The sidecar's `done`: the stop that follows ends the agent as done, with this result. */
  done: { readonly result: Record<string, unknown> | null } | null;
  reapTimer: unknown;
}

/** The publisher and logger, and for headless runs the supervisor's watchdog and run id (headless-runs.ts). */
export interface WorkDeps extends Omit<HeadlessRunsDeps, 'session'> {
  readonly clock: Clock;
}

/**
 * Crew agents with `worktree:` run in their own: made (or, left by an earlier session, taken up
 * again) before the crew starts. Returns the config the supervisor runs (their `cwd` in their
 * worktree) and the worktrees, which `Work.adopt` cleans up when the session ends.
 */
export async function crewWorktrees(config: OrchestraConfig): Promise<{ config: OrchestraConfig; worktrees: Worktree[] }> {
  const worktrees: Worktree[] = [];
  const agents: AgentConfig[] = [];
  for (const a of config.agents) {
    if (!a.worktree) {
      agents.push(a);
      continue;
    }
    const made = await addWorktree(a.name, a.cwd, a.worktree, { name: a.name }, true).catch((err: Error) => {
      throw new GitError(`agent "${a.name}": ${err.message}`);
    });
    worktrees.push(made.worktree);
    agents.push({ ...a, cwd: made.cwd });
  }
  return { config: worktrees.length === 0 ? config : { ...config, agents }, worktrees };
}

export class Work {
  private readonly ephemerals = new Map<string, Ephemeral>();
  private readonly endedListeners = new Set<(e: Ended) => void>();
  private readonly registry: WorktreeRegistry;
  private readonly unwatch: () => void;
  /** Names taken by spawns still making their worktree (not yet agents of the supervisor). */
  private readonly reserved = new Set<string>();
  /** Agents being reaped, settled once each is gone and its worktree cleaned up. */
  private readonly reapings = new Map<string, { readonly gone: Promise<void>; readonly settle: () => void }>();
  /** The crew agents' worktrees, cleaned up when the session ends. */
  private crew: readonly Worktree[] = [];
  private readonly runs: HeadlessRuns;

  constructor(
    private config: OrchestraConfig,
    private readonly supervisor: Supervisor,
    private readonly deps: WorkDeps,
  ) {
    this.registry = WorktreeRegistry.of(config.stateDir);
    this.runs = new HeadlessRuns({ ...deps, session: config.session });
    this.unwatch = supervisor.watch((e) => this.onAgentEvent(e));
  }

  /** Takes the crew agents' worktrees (see crewWorktrees): recorded now, cleaned up at `close`. */
  adopt(worktrees: readonly Worktree[]): void {
    this.crew = worktrees;
    for (const w of worktrees) this.registry.put(w.path, w);
  }

  /** Called with every ephemeral agent's end (the task queue's completion signal); returns the unsubscribe. */
  onEnded(fn: (e: Ended) => void): () => void {
    this.endedListeners.add(fn);
    return () => this.endedListeners.delete(fn);
  }

  /**
   * Starts an ephemeral agent from `templateName` in the running session: renders its prompt (every
   * placeholder needs a value), makes its worktree if the template has one, adds it to the
   * supervisor. The prompt is its first input once it is ready. A headless template's prompt is
   * run instead, once (see `start`).
   */
  async spawn(templateName: string, opts: SpawnOptions = {}): Promise<Spawned> {
    const { name, worktree } = await this.start(templateName, opts);
    return { name, worktree };
  }

  /** As `spawn`; for a headless template, with the run's result, settled once it has ended and its worktree is cleaned up. */
  async start(templateName: string, opts: SpawnOptions & { readonly task?: string } = {}): Promise<Spawned & { readonly result?: Promise<HeadlessResult> }> {
    const template = this.template(templateName);
    const name = opts.name ?? this.freshName(template.name);
    if (!AGENT_NAME.test(name)) throw new ControlError('bad-request', `agent name "${name}": expected letters, digits, "-" and "_" (max 64), starting with a letter or digit`);
    if (this.taken(name)) throw new ControlError('bad-request', `an agent named "${name}" already exists in session "${this.config.session}": choose another name`);
    const vars = this.vars(template, name, opts);
    const prompt = opts.initialPrompt === false ? undefined : this.prompt(template, vars, opts.prompt);
    this.reserved.add(name);
    let worktree: Worktree | null = null;
    try {
      let cwd = template.agent.cwd;
      if (template.agent.worktree) {
        const made = await addWorktree(name, template.agent.cwd, template.agent.worktree, vars, opts.reuseWorktree).catch((err: unknown) => {
          if (err instanceof GitError || err instanceof MissingVars) throw new ControlError('bad-request', `template "${template.name}": ${err.message}`);
          throw err;
        });
        worktree = made.worktree;
        cwd = made.cwd;
        this.registry.put(worktree.path, worktree);
      }
      if (template.headless) {
        const made = worktree;
        const info = made && { path: made.path, branch: made.branch };
        // A run's worktree is cleaned up as soon as it ends: a run is not listed to be looked at.
        const finish = async (): Promise<WorktreeInfo | null> => {
          if (!made || !info) return null;
          const outcome = await this.cleanWorktree(made);
          return { ...info, ...(outcome ? { outcome } : {}) };
        };
        const log = agentFiles(this.config.stateDir, name).log;
        const result = this.runs.start({ name, template, cwd, prompt, task: opts.task ?? null, worktree: info, log, finish });
        return { name, worktree: info, result };
      }
      const config = this.agentConfig(template.agent, name, cwd, prompt);
      this.ephemerals.set(name, { template, worktree, phase: 'running', done: null, reapTimer: undefined });
      try {
        this.supervisor.addAgent(config, 'ephemeral');
      } catch (err) {
        this.ephemerals.delete(name);
        throw err;
      }
    } catch (err) {
      // Only what this spawn made is undone: its own worktree, found by its own path.
      if (worktree) await this.cleanWorktree(worktree);
      throw err;
    } finally {
      this.reserved.delete(name);
    }
    const info = worktree && { path: worktree.path, branch: worktree.branch };
    this.publish(name, { event: 'spawned', template: template.name, worktree: info });
    this.deps.logger.info({ agent: name, template: template.name, worktree: info }, 'spawned');
    return { name, worktree: info };
  }

  /**
   * What a spawn from the template would be refused for, said now: an unknown template, a bad
   * variable name, a placeholder of its prompt or worktree branch without a value (`task add`,
   * so that a task that can never start is not queued).
   */
  check(templateName: string, opts: Omit<SpawnOptions, 'name'>): void {
    const template = this.template(templateName);
    const vars = this.vars(template, template.name, opts);
    this.prompt(template, vars, opts.prompt);
    const branch = template.agent.worktree?.branch;
    if (branch === undefined) return;
    try {
      render(branch, vars, `template "${template.name}" worktree.branch`);
    } catch (err) {
      if (err instanceof MissingVars) throw new ControlError('bad-request', err.message);
      throw err;
    }
  }

  private template(templateName: string): TemplateConfig {
    const template = this.config.templates.find((t) => t.name === templateName);
    if (template) return template;
    const known = this.config.templates.map((t) => t.name).join(', ') || `none in ${this.config.file}`;
    throw new ControlError('bad-request', `no template named "${templateName}" (templates: ${known})`);
  }

  /** The values of a spawn's placeholders: the template's defaults, the spawn's own, and the built-in ones. */
  private vars(template: TemplateConfig, name: string, opts: Omit<SpawnOptions, 'name'>): Record<string, string> {
    for (const k of Object.keys(opts.vars ?? {})) if (!VAR_NAME.test(k)) throw new ControlError('bad-request', `variable name "${k}": expected letters, digits, "_" and "-", starting with a letter or "_"`);
    return { ...template.vars, ...opts.vars, name, template: template.name, ...(opts.prompt === undefined ? {} : { prompt: opts.prompt }) };
  }

  /** Stops a headless run that has not ended: its end; undefined when no run has that name. */
  stopRun(name: string, why: string): Promise<HeadlessResult> | undefined {
    return this.runs.stop(name, why);
  }

  /** Stops every headless run (forced: at once); resolves once they have ended. */
  stopRuns(force = false): Promise<void> {
    return this.runs.close(force);
  }

  private taken(name: string): boolean {
    return this.reserved.has(name) || this.runs.has(name) || this.supervisor.statusOf(name) !== undefined;
  }

  private freshName(template: string): string {
    for (;;) {
      const name = `${template.slice(0, 57)}-${randomBytes(3).toString('hex')}`;
      if (!this.taken(name)) return name;
    }
  }

  /** The rendered prompt (none when blank); the spawn's own text is `{{prompt}}`, or follows a prompt that does not place it. */
  private prompt(t: TemplateConfig, vars: Record<string, string>, given: string | undefined): string | undefined {
    const text = this.rendered(t, vars, given);
    return text?.trim() ? text : undefined;
  }

  private rendered(t: TemplateConfig, vars: Record<string, string>, given: string | undefined): string | undefined {
    if (t.prompt === undefined) return given;
    let text: string;
    try {
      text = render(t.prompt, vars, `template "${t.name}" prompt (${t.promptSource})`);
    } catch (err) {
      if (err instanceof MissingVars) throw new ControlError('bad-request', err.message);
      throw err;
    }
    return given === undefined || mentions(t.prompt, 'prompt') ? text : `${text.trimEnd()}\n\n${given}`;
  }

  /** The template's agent under its own name: its own log, sidecar socket and resume state. */
  private agentConfig(a: AgentConfig, name: string, cwd: string, prompt: string | undefined): AgentConfig {
    const files = agentFiles(this.config.stateDir, name);
    const { prompt: _, ...rest } = a;
    return {
      ...rest,
      name,
      cwd,
      ...(prompt === undefined ? {} : { prompt }),
      sidecar: { ...a.sidecar, path: files.sidecar },
      log: { ...a.log, file: files.log },
      resume: a.resume && { ...a.resume, state: files.resumeState },
    };
  }

  private onAgentEvent(e: AgentEvent): void {
    const eph = this.ephemerals.get(e.agent);
    if (!eph) return;
    switch (e.type) {
      case 'sidecar':
        if (e.event.type !== 'done' || eph.phase !== 'running' || eph.done) return;
        eph.done = { result: isObject(e.event.result) ? e.event.result : null };
        this.supervisor.stopAgent(e.agent).catch((err: Error) => this.deps.logger.warn({ agent: e.agent, err: err.message }, 'stop after done failed'));
        return;
      case 'state': {
        const phase = this.supervisor.state.slots[e.agent]?.phase;
        if (eph.phase === 'running' && (phase === 'dead' || phase === 'stopped')) return this.ended(e.agent, eph, phase);
        // Started again by hand before it was reaped: it is not finished any more.
        if (eph.phase === 'ended' && RUNNING_STATES.has(e.to)) {
          this.deps.clock.clearTimeout(eph.reapTimer);
          eph.phase = 'running';
          eph.done = null;
        }
        return;
      }
      case 'forgotten':
        void this.onForgotten(e.agent, eph);
        return;
    }
  }

  /** Done once its sidecar said so (whether the stop or its own exit ended it); else exited (dead: not restarted) or stopped. */
  private ended(name: string, eph: Ephemeral, phase: 'dead' | 'stopped'): void {
    eph.phase = 'ended';
    const last = this.supervisor.statusOf(name)?.lastExit;
    const how = eph.done ? 'done' : phase === 'dead' ? 'exited' : 'stopped';
    const exit = phase === 'dead' && last ? { code: last.code, signal: last.signal } : null;
    const e: Ended = { agent: name, template: eph.template.name, how, result: eph.done?.result ?? null, exit };
    const { agent: _, ...body } = e;
    this.publish(name, { event: 'ended', ...body });
    this.deps.logger.info(e, `ephemeral agent ended (${how})`);
    for (const fn of [...this.endedListeners]) fn(e);
    eph.reapTimer = this.deps.clock.setTimeout(() => this.reap(name, eph), eph.template.keepFinishedMs);
  }

  /** Resolves once the agent being reaped is gone and its worktree cleaned up; undefined when it is not being reaped. */
  reaping(name: string): Promise<void> | undefined {
    return this.reapings.get(name)?.gone;
  }

  private reap(name: string, eph: Ephemeral): void {
    if (eph.phase !== 'ended') return;
    // Started again (its worker has not reported the new run yet): not finished, not reaped.
    const phase = this.supervisor.state.slots[name]?.phase;
    if (phase !== 'stopped' && phase !== 'dead') {
      eph.phase = 'running';
      eph.done = null;
      return;
    }
    eph.phase = 'reaping';
    let settle: () => void = () => undefined;
    const gone = new Promise<void>((resolve) => (settle = resolve));
    this.reapings.set(name, { gone, settle });
    this.supervisor.removeAgent(name).catch((err: Error) => {
      this.deps.logger.error({ agent: name, err: err.message }, 'reaping failed; tried again after keep_finished');
      eph.phase = 'ended';
      eph.reapTimer = this.deps.clock.setTimeout(() => this.reap(name, eph), eph.template.keepFinishedMs);
      this.endReaping(name);
    });
  }

  private async onForgotten(name: string, eph: Ephemeral): Promise<void> {
    this.ephemerals.delete(name);
    this.deps.clock.clearTimeout(eph.reapTimer);
    try {
      const outcome = eph.worktree && (await this.cleanWorktree(eph.worktree));
      const worktree = eph.worktree && { path: eph.worktree.path, branch: eph.worktree.branch, ...(outcome ? { outcome } : {}) };
      this.publish(name, { event: 'reaped', template: eph.template.name, worktree });
      this.deps.logger.info({ agent: name, worktree }, 'ephemeral agent reaped');
    } catch (err) {
      this.deps.logger.error({ agent: name, err: (err as Error).message }, 'reaping: its worktree clean-up failed');
    } finally {
      this.endReaping(name);
    }
  }

  /** A reaping has ended (done, or failed): whoever waits on it goes on. */
  private endReaping(name: string): void {
    this.reapings.get(name)?.settle();
    this.reapings.delete(name);
  }

  /** Clean-up by the rules; a worktree left (dirty, or git failed) is recorded as kept. */
  private async cleanWorktree(wt: Worktree): Promise<Awaited<ReturnType<typeof cleanUp>> | undefined> {
    try {
      const outcome = await cleanUp(wt);
      this.registry.put(wt.path, outcome === 'kept-dirty' ? { ...wt, state: 'kept' } : null);
      return outcome;
    } catch (err) {
      this.deps.logger.error({ agent: wt.agent, path: wt.path, err: (err as Error).message }, 'worktree clean-up failed; it is kept');
      this.registry.put(wt.path, { ...wt, state: 'kept' });
      return undefined;
    }
  }

  /**
   * At the session's end, every agent has stopped: each ephemeral one is reaped now rather than
   * left for a timer that will never fire, and every worktree (the crew's too) is cleaned up by
   * the rules — a crew agent's uncommitted work is kept, and taken up again by the next session.
   */
  async close(): Promise<void> {
    this.unwatch();
    // No `forgotten` comes any more: whoever waits on a reap goes on.
    for (const name of [...this.reapings.keys()]) this.endReaping(name);
    await this.runs.close();
    const trees = [...this.crew];
    for (const eph of this.ephemerals.values()) {
      this.deps.clock.clearTimeout(eph.reapTimer);
      if (eph.worktree) trees.push(eph.worktree);
    }
    this.ephemerals.clear();
    await Promise.all(trees.map((w) => this.cleanWorktree(w)));
  }

  /** A reloaded config's templates, for the spawns from now on (agents already spawned keep theirs). */
  useTemplates(config: OrchestraConfig): void {
    this.config = { ...this.config, templates: config.templates };
  }

  private publish(agent: string, body: AgentEventBody): void {
    this.deps.publisher.publish('agent', agent, { kind: 'agent', ...body } as AgentBody);
  }
}

/** An `agent` body without its kind, one event at a time. */
type AgentEventBody = AgentBody extends infer B ? (B extends AgentBody ? Omit<B, 'kind'> : never) : never;

export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
