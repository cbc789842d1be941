/**
 * On-demand sessions (docs/work.md#sessions): `get(ID)` answers with the agent named ID, cold-starting
 * it from its template when it does not run — once, however many callers ask at the same time (they
 * all wait on the one start in flight). A session's agent is an ephemeral one (work.ts): not restarted
 * unless its template says so, reaped `keep_finished` after it ended. Its provider conversation is the
 * UUIDv5 that resume.ts derives from (session, agent, cwd), the agent being named ID: a cold start
 * after reaping resumes the conversation. A session `ready` for `sessions.idle_timeout` is stopped,
 * its screen saved first.
 *
 *   absent ──get──▶ starting ──▶ up ──(ready for idle_timeout: screen saved)──▶ stopped ──(keep_finished)──▶ reaped (absent)
 *                                 ▲                                              │
 *                                 └──────────── get (started again in place) ◀───┘
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type pino from 'pino';
import { ControlError, type InputResult, type Results } from '../bus/control-protocol.js';
import { AGENT_NAME } from '../config/schema.js';
import type { OrchestraConfig } from '../config/types.js';
import type { Clock } from '../host/clock.js';
import { sessionId } from '../host/resume.js';
import type { PublicState } from '../machines/agent.js';
import type { AgentEvent, Supervisor } from '../supervisor/supervisor.js';
import { isObject, type Work } from './work.js';

export interface SessionRequest {
  readonly id: string;
  /** For a cold start: the template (default: the one the session last started from, else `sessions.template`). */
  readonly template?: string | undefined;
  /** For a cold start: values of the template's placeholders (over those of the session's last start). */
  readonly vars?: Readonly<Record<string, string>> | undefined;
  /** Sent to the agent once it is up, as `send` does. */
  readonly prompt?: string | undefined;
  /** How long the prompt may wait to be delivered. */
  readonly timeoutMs?: number | undefined;
}

export type SessionResult = Results['session.get'];

export interface SessionsDeps {
  readonly logger: pino.Logger;
  readonly clock: Clock;
}

/** A session's agent in the supervisor (from its cold start until it is reaped). */
interface Session {
  readonly template: string;
  /** Armed while the agent is `ready`: its idle stop. */
  idleTimer: unknown;
  /** The idle stop under way (screen saved, then stopped). */
  stopping: Promise<void> | null;
}

/** What the state directory keeps of a session for its next cold start (`sessions/ID.json`). */
interface Remembered {
  readonly template: string;
  readonly vars: Record<string, string>;
}

/** The states a get answers in: the agent's process runs and has started. */
const UP: ReadonlySet<PublicState> = new Set<PublicState>(['ready', 'busy', 'blocked']);
/** The states in which a get starts the session again. */
const ENDING: ReadonlySet<PublicState | 'pending'> = new Set<PublicState | 'pending'>(['stopping', 'stopped', 'dead']);
/** How long a get waits for a starting agent past its ready timeout (which ends the run itself). */
const UP_WAIT_MS = 30_000;

export class Sessions {
  private readonly sessions = new Map<string, Session>();
  /** Cold starts in flight, by id: a second caller waits on the first one's. */
  private readonly starting = new Map<string, Promise<boolean>>();
  /** Gets being answered, by id: a session is not stopped for idleness under them. */
  private readonly callers = new Map<string, number>();
  private readonly unwatch: () => void;

  constructor(
    private config: OrchestraConfig,
    private readonly supervisor: Supervisor,
    private readonly work: Work,
    private readonly deps: SessionsDeps,
  ) {
    this.unwatch = supervisor.watch((e) => this.onAgentEvent(e));
  }

  /** Whether the agent is a session's (`ps` shows its role as `session`). */
  has(agent: string): boolean {
    return this.sessions.has(agent);
  }

  /**
   * The session's agent once it is up (ready, busy or blocked), cold-started if it does not run;
   * then the prompt, if any, is sent to it and its outcome is in the answer.
   */
  async get(req: SessionRequest): Promise<SessionResult> {
    const { id } = req;
    if (!AGENT_NAME.test(id)) throw new ControlError('bad-request', `session id "${id}": expected letters, digits, "-" and "_" (max 64), starting with a letter or digit (it names the session's agent)`);
    this.callers.set(id, (this.callers.get(id) ?? 0) + 1);
    try {
      const started = await this.ensure(req);
      const state = await this.up(id);
      const s = this.sessions.get(id);
      if (!s) throw new ControlError('not-running', `session "${id}" was removed as it started`);
      const conversation = this.conversation(id);
      const prompt = req.prompt === undefined ? null : await this.send(id, req.prompt, req.timeoutMs ?? 30_000);
      return { agent: id, template: s.template, started, state: prompt ? this.stateOf(id) : state, conversation, prompt };
    } finally {
      this.release(id);
    }
  }

  /** Starts the session unless it runs or another caller's start is in flight (then waits on that); true if this call started it. */
  private async ensure(req: SessionRequest): Promise<boolean> {
    const { id } = req;
    const inFlight = this.starting.get(id);
    if (inFlight) {
      await inFlight;
      this.sameTemplate(id, req.template);
      return false;
    }
    const s = this.sessions.get(id);
    const state = this.supervisor.statusOf(id)?.state;
    if (state !== undefined && !s) {
      throw new ControlError('bad-request', `"${id}" is an agent of session "${this.config.session}" that is not an on-demand session (a crew agent, or spawned with orchestra spawn): choose another session id`);
    }
    this.sameTemplate(id, req.template);
    // Stopping (`orchestra stop`, or its idle stop) counts as stopped: it is started again once it has.
    if (s && !s.stopping && state !== undefined && !ENDING.has(state)) return false;
    const start = this.start(req, s).finally(() => this.starting.delete(id));
    this.starting.set(id, start);
    return start;
  }

  private sameTemplate(id: string, wanted: string | undefined): void {
    const s = this.sessions.get(id);
    if (s && wanted !== undefined && wanted !== s.template) {
      throw new ControlError('bad-request', `session "${id}" runs from template "${s.template}", not "${wanted}" (a template applies to a cold start, once the session is reaped: leave --template out)`);
    }
  }

  /** Whether it started the agent: an idle stop that this get came in time to call off leaves it running. */
  private async start(req: SessionRequest, s: Session | undefined): Promise<boolean> {
    const { id } = req;
    if (s?.stopping) await s.stopping;
    // Being reaped: it is gone (its worktree cleaned up) before it is cold-started again.
    await this.work.reaping(id);
    const agent = this.supervisor.statusOf(id);
    if (agent && !ENDING.has(agent.state)) return false;
    // Ended and not reaped yet: started again as it is (its settings, its log, its conversation).
    if (agent) {
      await this.supervisor.startAgent(id);
      return true;
    }
    const known = this.remembered(id);
    const name = req.template ?? known?.template ?? this.config.sessions.template;
    if (name === undefined) {
      const templates = this.config.templates.map((t) => t.name).join(', ') || `none in ${this.config.file}`;
      throw new ControlError('bad-request', `session "${id}" does not run and no template says how to start it: give --template (templates: ${templates}), or set sessions.template in ${this.config.file}`);
    }
    if (this.config.templates.find((t) => t.name === name)?.headless) {
      throw new ControlError('bad-request', `template "${name}" is mode: headless (one run per prompt, no agent to keep): a session needs an interactive template`);
    }
    const vars = { ...(known?.template === name ? known.vars : {}), ...req.vars };
    // A session that ran before resumes its conversation: its template's prompt was its first input then.
    const resumes = known !== undefined && this.config.templates.find((t) => t.name === name)?.agent.resume !== undefined;
    this.sessions.set(id, { template: name, idleTimer: undefined, stopping: null });
    try {
      await this.work.spawn(name, { name: id, vars, initialPrompt: !resumes, reuseWorktree: known !== undefined });
    } catch (err) {
      this.sessions.delete(id);
      throw err;
    }
    this.remember(id, { template: name, vars });
    this.deps.logger.info({ agent: id, template: name, conversation: this.conversation(id) }, `session ${id}: cold start`);
    return true;
  }

  /** Resolves once the agent is up; fails if its start ends it (or it is not up in its ready timeout and a margin). */
  private up(id: string): Promise<PublicState> {
    const now = this.stateOf(id);
    if (now !== 'pending' && UP.has(now)) return Promise.resolve(now);
    const ended = (to: string, reason: string) => new ControlError('not-running', `session "${id}" ended as it started (${to}: ${reason}); its log: ${this.supervisor.configOf(id).log.file}`);
    // Ended already (a start that failed at once): no state change is coming to wait for.
    if (now === 'stopped' || now === 'dead') return Promise.reject(ended(now, this.supervisor.statusOf(id)?.reason ?? now));
    const ms = this.supervisor.configOf(id).readyTimeoutMs + UP_WAIT_MS;
    return new Promise((resolve, reject) => {
      const finish = (r: PublicState | ControlError) => {
        this.deps.clock.clearTimeout(timer);
        unwatch();
        if (r instanceof ControlError) reject(r);
        else resolve(r);
      };
      const timer = this.deps.clock.setTimeout(() => finish(new ControlError('internal', `session "${id}" is not up ${ms}ms after its start (state ${this.stateOf(id)})`)), ms);
      const unwatch = this.supervisor.watch((e) => {
        if (e.agent !== id) return;
        if (e.type === 'forgotten') return finish(new ControlError('not-running', `session "${id}" was removed while it started`));
        if (e.type !== 'state') return;
        if (UP.has(e.to)) return finish(e.to);
        if (e.to === 'stopped' || e.to === 'dead') finish(ended(e.to, e.reason));
      });
    });
  }

  private send(id: string, text: string, timeoutMs: number): Promise<InputResult> {
    return this.supervisor.send(id, { text, mode: 'wait-idle', timeoutMs });
  }

  private stateOf(id: string): PublicState | 'pending' {
    return this.supervisor.statusOf(id)?.state ?? 'pending';
  }

  /** The conversation resume.ts gives the agent: derived from its name (the id) and cwd, unless its CLI chooses it. */
  private conversation(id: string): string | null {
    const c = this.supervisor.configOf(id);
    return c.resume && !c.resume.capture ? sessionId(this.config.session, id, c.cwd) : null;
  }

  private release(id: string): void {
    const n = (this.callers.get(id) ?? 1) - 1;
    if (n > 0) return void this.callers.set(id, n);
    this.callers.delete(id);
    // An idle stop skipped while the get was answered is due from now.
    const s = this.sessions.get(id);
    if (s && s.idleTimer === undefined && this.stateOf(id) === 'ready') this.arm(id, s);
  }

  /** Idleness is a `ready` spell: its timer is armed on entering `ready` and cleared on leaving it — no polling. */
  private onAgentEvent(e: AgentEvent): void {
    const s = this.sessions.get(e.agent);
    if (!s) return;
    if (e.type === 'forgotten') {
      this.deps.clock.clearTimeout(s.idleTimer);
      this.sessions.delete(e.agent);
      return;
    }
    if (e.type !== 'state') return;
    if (e.to === 'ready') this.arm(e.agent, s);
    else this.disarm(s);
  }

  private arm(id: string, s: Session): void {
    this.disarm(s);
    const ms = this.config.sessions.idleTimeoutMs;
    if (ms > 0) s.idleTimer = this.deps.clock.setTimeout(() => this.idle(id, s), ms);
  }

  private disarm(s: Session): void {
    this.deps.clock.clearTimeout(s.idleTimer);
    s.idleTimer = undefined;
  }

  private idle(id: string, s: Session): void {
    s.idleTimer = undefined;
    if (s.stopping || (this.callers.get(id) ?? 0) > 0) return;
    s.stopping = this.stopIdle(id).finally(() => (s.stopping = null));
  }

  /**
   * The screen (with its scrollback) is saved before the stop begins: the raw output is in the
   * agent's log already, written as it came; the rendered text is what a reader of the session wants.
   */
  private async stopIdle(id: string): Promise<void> {
    const ms = this.config.sessions.idleTimeoutMs;
    await this.saveScreen(id);
    // Typing into it (an attached terminal) while the screen was read makes it busy, and a get
    // that came meanwhile uses it: not idle any more (the get's end arms the idle stop again).
    if (this.stateOf(id) !== 'ready' || (this.callers.get(id) ?? 0) > 0) return;
    this.deps.logger.info({ agent: id, idleMs: ms }, `session ${id}: idle for ${ms}ms, stopping it`);
    await this.supervisor.stopAgent(id).catch((err: Error) => this.deps.logger.error({ agent: id, err: err.message }, 'idle stop failed'));
  }

  private async saveScreen(id: string): Promise<void> {
    const file = this.file(id, 'screen.txt');
    try {
      const { text } = await this.supervisor.screen(id, 'text', this.supervisor.configOf(id).log.scrollback);
      writeWhole(file, text.endsWith('\n') ? text : `${text}\n`);
    } catch (err) {
      this.deps.logger.warn({ agent: id, file, err: (err as Error).message }, 'the screen of an idle session could not be saved (its log has its output)');
    }
  }

  private file(id: string, ext: string): string {
    return join(this.config.stateDir, 'sessions', `${id}.${ext}`);
  }

  private remembered(id: string): Remembered | undefined {
    try {
      const v: unknown = JSON.parse(readFileSync(this.file(id, 'json'), 'utf8'));
      if (!isObject(v) || typeof v.template !== 'string' || !isObject(v.vars)) return undefined;
      const vars = Object.fromEntries(Object.entries(v.vars).filter((e): e is [string, string] => typeof e[1] === 'string'));
      return { template: v.template, vars };
    } catch {
      return undefined;
    }
  }

  private remember(id: string, r: Remembered): void {
    try {
      writeWhole(this.file(id, 'json'), `${JSON.stringify(r)}\n`);
    } catch (err) {
      this.deps.logger.warn({ agent: id, err: (err as Error).message }, 'cannot keep the session\'s template: its next cold start needs --template');
    }
  }

  /** The `sessions:` settings and templates of a reloaded config, for the cold starts from now on. */
  useConfig(config: OrchestraConfig): void {
    this.config = { ...this.config, templates: config.templates, sessions: config.sessions };
  }

  /** The session ends: no idle stop is due any more. */
  close(): void {
    this.unwatch();
    for (const s of this.sessions.values()) this.disarm(s);
  }
}

/** Written whole, then renamed: a reader never sees half a file. */
function writeWhole(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}
