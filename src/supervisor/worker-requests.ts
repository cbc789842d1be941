/**
 * Requests to one agent's worker that wait for its answer: input (send, interrupt, escape), whose
 * every outcome is also published on the bus, and ring reads. Outcomes decided without the worker
 * (no worker, escape disabled) are published the same way. If the worker dies, every request still
 * waiting is answered with agent-not-running / not-running: nothing a client waits on hangs.
 */
import { ControlError, type InputResult, type Results } from '../bus/control-protocol.js';
import type { InputOutcome } from '../bus/protocol.js';
import { randomBytes } from 'node:crypto';
import type { WorkerPort } from './worker-handle.js';
import type { FromWorker, ScreenFormat, SendRequest, ToWorker } from '../agent/worker-protocol.js';

export type InputRequest = 'send' | 'interrupt' | 'escape';

/** Publishes one input outcome (the supervisor puts it on the bus and in its log). */
export type PublishInput = (id: string, request: InputRequest, outcome: InputOutcome, reason: string, bytes: number) => void;

interface PendingInput {
  readonly request: InputRequest;
  readonly bytes: number;
  readonly done: (r: InputResult) => void;
}
type PendingRing = (r: Results['logs'] | ControlError) => void;
type PendingScreen = (r: ScreenRead | ControlError) => void;

/** The worker's `screen` answer. */
export type ScreenRead = Omit<Extract<FromWorker, { type: 'screen' }>, 'type' | 'id'>;

const KEYS = { interrupt: '\x03', escape: '\x1b' } as const;

/** What the supervisor knows of the agent when a request comes in. */
export interface AgentNow {
  readonly name: string;
  readonly handle: WorkerPort | null;
  /** Its state, for the reason when it has no worker. */
  readonly state: string;
  readonly escapeEnabled: boolean;
}

export class WorkerRequests {
  /** By the input's id, which a client may choose: kept apart from ring reads so ids never collide. */
  private readonly inputs = new Map<string, PendingInput>();
  private readonly rings = new Map<string, PendingRing>();
  private readonly screens = new Map<string, PendingScreen>();
  private nextRead = 0;

  constructor(private readonly publish: PublishInput) {}

  /** Sends accepted and not yet final (the `queued` column of ps). */
  get queuedSends(): number {
    let n = 0;
    for (const p of this.inputs.values()) if (p.request === 'send') n++;
    return n;
  }

  /** Queues text for the agent; resolves with the final outcome (`queued` is only published). */
  send(now: AgentNow, req: Omit<SendRequest, 'id'> & { id?: string | undefined }): Promise<InputResult> {
    const id = req.id ?? randomBytes(6).toString('hex');
    const bytes = Buffer.byteLength(req.text);
    if (!now.handle) return this.settle(id, 'send', 'agent-not-running', `the agent is ${now.state}`, bytes);
    this.claim(id);
    this.publish(id, 'send', 'queued', `mode ${req.mode}, timeout ${req.timeoutMs}ms`, bytes);
    return this.input(now.handle, 'send', id, bytes, { type: 'input.send', id, text: req.text, mode: req.mode, timeoutMs: req.timeoutMs });
  }

  /** Ctrl-C or Escape into the PTY: not queued behind waiting sends. */
  key(now: AgentNow, which: 'interrupt' | 'escape', givenId?: string): Promise<InputResult> {
    const id = givenId ?? randomBytes(6).toString('hex');
    if (which === 'escape' && !now.escapeEnabled) return this.settle(id, which, 'refused', `escape is disabled for agent "${now.name}" (input.escape: false)`, 0);
    if (!now.handle) return this.settle(id, which, 'agent-not-running', `the agent is ${now.state}`, 0);
    this.claim(id);
    return this.input(now.handle, which, id, 0, { type: 'input.key', id, data: KEYS[which] });
  }

  /** An id still waiting for its outcome cannot be reused: its client would never hear of it. */
  private claim(id: string): void {
    if (this.inputs.has(id)) throw new ControlError('bad-request', `input id "${id}" is already in use`);
  }

  /** An outcome decided without the worker: published like any other. */
  private settle(id: string, request: InputRequest, outcome: InputResult['outcome'], reason: string, bytes: number): Promise<InputResult> {
    this.publish(id, request, outcome, reason, bytes);
    return Promise.resolve({ id, outcome, reason });
  }

  /** Hands an input request to the worker; resolves with its final outcome. Not private: its unit tests drive it directly. */
  input(handle: WorkerPort, request: InputRequest, id: string, bytes: number, msg: ToWorker): Promise<InputResult> {
    return new Promise((done) => {
      this.inputs.set(id, { request, bytes, done });
      handle.send(msg);
    });
  }

  /** The newest `bytes` of output and the output seq they end at. */
  ring(handle: WorkerPort, bytes: number): Promise<Results['logs']> {
    const id = `ring-${++this.nextRead}`;
    return new Promise((resolve, reject) => {
      this.rings.set(id, (v) => (v instanceof ControlError ? reject(v) : resolve(v)));
      handle.send({ type: 'ring.read', id, bytes });
    });
  }

  /** The rendered screen, and the output seq it is the screen of. */
  screen(handle: WorkerPort, format: ScreenFormat, scrollback: number): Promise<ScreenRead> {
    const id = `screen-${++this.nextRead}`;
    return new Promise((resolve, reject) => {
      this.screens.set(id, (v) => (v instanceof ControlError ? reject(v) : resolve(v)));
      handle.send({ type: 'screen.read', id, format, scrollback });
    });
  }

  /** The worker's answer to one of them. */
  answer(msg: Extract<FromWorker, { type: 'input.outcome' | 'ring' | 'screen' }>): void {
    if (msg.type === 'screen') {
      const { type: _, id, ...read } = msg;
      const done = this.screens.get(id);
      this.screens.delete(id);
      done?.(read);
      return;
    }
    if (msg.type === 'input.outcome') {
      const p = this.inputs.get(msg.id);
      if (!p) return;
      this.inputs.delete(msg.id);
      this.publish(msg.id, p.request, msg.outcome, msg.reason, p.bytes);
      p.done({ id: msg.id, outcome: msg.outcome, reason: msg.reason });
      return;
    }
    const done = this.rings.get(msg.id);
    if (!done) return;
    this.rings.delete(msg.id);
    done({ data: msg.data, seq: msg.seq, total: msg.total, cols: msg.cols, rows: msg.rows });
  }

  /** A step on the way (delivered, awaiting the agent's confirmation): published, the request still waits. */
  progress(msg: Extract<FromWorker, { type: 'input.progress' }>): void {
    const p = this.inputs.get(msg.id);
    if (p) this.publish(msg.id, p.request, msg.outcome, msg.reason, p.bytes);
  }

  /** The worker is gone: answer everything still waiting. */
  failAll(reason: string): void {
    for (const [id, p] of this.inputs) {
      this.publish(id, p.request, 'agent-not-running', reason, p.bytes);
      p.done({ id, outcome: 'agent-not-running', reason });
    }
    for (const done of [...this.rings.values(), ...this.screens.values()]) done(new ControlError('not-running', reason));
    this.inputs.clear();
    this.rings.clear();
    this.screens.clear();
  }
}
