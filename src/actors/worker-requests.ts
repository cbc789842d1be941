/**
 * Requests to one agent's worker that wait for its answer: input (send, interrupt, escape), whose
 * outcome is also published on the bus, and ring reads. If the worker dies, every one of them is
 * answered with agent-not-running / not-running: nothing a client waits on is left hanging.
 */
import { ControlError, type InputResult, type Results } from '../bus/control-protocol.js';
import type { InputOutcome } from '../bus/protocol.js';
import type { AgentHandle } from './agent-handle.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';

export type InputRequest = 'send' | 'interrupt' | 'escape';

/** Publishes one input outcome (the supervisor puts it on the bus and in its log). */
export type PublishInput = (id: string, request: InputRequest, outcome: InputOutcome, reason: string, bytes: number) => void;

type Pending =
  | { readonly kind: 'input'; readonly request: InputRequest; readonly bytes: number; readonly done: (r: InputResult) => void }
  | { readonly kind: 'ring'; readonly done: (r: Results['logs'] | ControlError) => void };

export class WorkerRequests {
  private readonly pending = new Map<string, Pending>();
  private nextRing = 0;

  constructor(private readonly publish: PublishInput) {}

  /** Sends accepted and not yet final (the `queued` column of ps). */
  get queuedSends(): number {
    let n = 0;
    for (const p of this.pending.values()) if (p.kind === 'input' && p.request === 'send') n++;
    return n;
  }

  has(id: string): boolean {
    return this.pending.has(id);
  }

  /** Hands an input request to the worker; resolves with its final outcome. */
  input(handle: AgentHandle, request: InputRequest, id: string, bytes: number, msg: ToWorker): Promise<InputResult> {
    return new Promise((done) => {
      this.pending.set(id, { kind: 'input', request, bytes, done });
      handle.send(msg);
    });
  }

  /** The newest `bytes` of output and the output seq they end at. */
  ring(handle: AgentHandle, bytes: number): Promise<Results['logs']> {
    const id = `ring-${++this.nextRing}`;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { kind: 'ring', done: (v) => (v instanceof ControlError ? reject(v) : resolve(v)) });
      handle.send({ type: 'ring.read', id, bytes });
    });
  }

  /** The worker's answer to one of them. */
  answer(msg: Extract<FromWorker, { type: 'input.outcome' | 'ring' }>): void {
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.type === 'input.outcome' && p.kind === 'input') {
      this.publish(msg.id, p.request, msg.outcome, msg.reason, p.bytes);
      p.done({ id: msg.id, outcome: msg.outcome, reason: msg.reason });
    } else if (msg.type === 'ring' && p.kind === 'ring') {
      p.done({ data: msg.data, seq: msg.seq, total: msg.total, cols: msg.cols, rows: msg.rows });
    }
  }

  /** The worker is gone: answer everything still waiting. */
  failAll(reason: string): void {
    for (const [id, p] of this.pending) {
      if (p.kind === 'input') {
        this.publish(id, p.request, 'agent-not-running', reason, p.bytes);
        p.done({ id, outcome: 'agent-not-running', reason });
      } else {
        p.done(new ControlError('not-running', reason));
      }
    }
    this.pending.clear();
  }
}
