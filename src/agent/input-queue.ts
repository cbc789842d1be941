/**
 * One agent's input: a queue of `send` requests and a single writer. It lives in the agent's
 * worker, next to the PTY and the machine, so "is the agent ready?" and "type now" cannot race.
 *
 * A delivery writes the body (in chunks, in bracketed paste when multi-line), waits, then writes
 * the submit key on its own. Attach keystrokes and keys (interrupt, escape) never cut into a
 * delivery: they wait for it to finish.
 *
 * For an agent whose hooks report the prompts it receives, a delivered send is final only once the
 * agent says it got the text (`confirmed`), or when it has not said so in time (`unconfirmed`).
 */
import type { InputOutcome } from '../bus/protocol.js';
import type { InputSettings } from '../config/types.js';
import { type PublicState, RUNNING_STATES as LIVE } from '../machines/agent.js';
import type { FinalOutcome, SendRequest } from './worker-protocol.js';

export interface InputIo {
  write(data: string | Buffer): void;
  /** Whether the agent has turned bracketed paste on (DECSET 2004). */
  pasteMode(): boolean;
  /** Whether the terminal is in line mode (ICANON), where the kernel cuts lines; undefined if unknown. */
  canonical(): boolean | undefined;
  /** The text was submitted: the machine treats the agent as busy. */
  submitted(): void;
  outcome(id: string, outcome: FinalOutcome, reason: string): void;
  /** A step on the way that is not the end: `delivered` while the agent's own report is awaited. */
  progress(id: string, outcome: 'delivered', reason: string): void;
  readonly timers?: { setTimeout(fn: () => void, ms: number): unknown; clearTimeout(t: unknown): void };
}

/** States from which the agent comes back on its own (a restart): waiting senders keep waiting. */
const RETURNING = new Set<PublicState>(['exited', 'restarting']);
export const MAX_QUEUED = 100;
/** In line mode, Linux keeps at most this many bytes of one line and drops the rest. */
export const CANONICAL_LINE_MAX = 4095;
const PASTE_START = '\x1b[200~';
const PASTE_END = '\x1b[201~';

interface Pending {
  readonly req: SendRequest;
  readonly timer: unknown;
}

/** A send typed and submitted, waiting for the agent to report it; `how` it was typed. */
interface Awaiting extends Pending {
  readonly how: string;
}

/** Agents that report the prompts they receive (hooks): how a send is confirmed. */
export interface Confirmation {
  /** How long after the submit key the agent has to report the prompt. */
  readonly timeoutMs: number;
  /** The rendered screen (one line per row), quoted when a send stays unconfirmed. */
  screen(): string;
}

/** Screen rows quoted in an `unconfirmed` reason. */
const SCREEN_LINES = 5;

/** Text as compared with what the agent reports: line ends as LF, no surrounding blanks. */
const normalised = (s: string) => s.replace(/\r\n?/g, '\n').trim();

export class InputQueue {
  private readonly queue: Pending[] = [];
  private writing = false;
  private readonly held: (string | Buffer)[] = [];
  private state: PublicState = 'starting';
  /** While blocked: on what (a dialog is on screen; text typed now would answer it). */
  private blockedOn: string | undefined;
  private readonly timers: NonNullable<InputIo['timers']>;
  /** Sends submitted and waiting for the agent to report them, oldest first. */
  private readonly unconfirmed: Awaiting[] = [];

  constructor(
    private readonly settings: InputSettings,
    private readonly io: InputIo,
    private readonly confirmation?: Confirmation,
  ) {
    this.timers = io.timers ?? { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout) };
  }

  get length(): number {
    return this.queue.length;
  }

  /** Queues a send; refuses at once what can never be delivered. */
  send(req: SendRequest): void {
    const bytes = Buffer.byteLength(req.text);
    if (bytes > this.settings.maxSize) {
      return this.io.outcome(req.id, 'refused', `the text is ${bytes} bytes; this agent accepts at most ${this.settings.maxSize} (input.max_size); nothing was typed`);
    }
    if (this.queue.length >= MAX_QUEUED) return this.io.outcome(req.id, 'refused', `${MAX_QUEUED} inputs are already queued for this agent`);
    if (!this.reachable(req.mode)) return this.io.outcome(req.id, 'agent-not-running', `the agent is ${this.state}`);
    if (req.mode === 'now' && this.state === 'blocked') return this.refuseBlocked(req.id);
    const timer = this.timers.setTimeout(() => this.expire(req.id), req.timeoutMs);
    this.queue.push({ req, timer });
    this.pump();
  }

  /** Attach keystrokes: written as they come, but never inside a delivery. */
  raw(data: string | Buffer): boolean {
    if (!LIVE.has(this.state)) return false;
    if (this.writing) this.held.push(data);
    else this.io.write(data);
    return true;
  }

  /** A single key (interrupt, escape): not queued behind waiting sends, only behind a delivery. */
  key(id: string, data: string): void {
    if (!this.raw(data)) this.io.outcome(id, 'agent-not-running', `the agent is ${this.state}`);
    else this.io.outcome(id, 'delivered', 'written to the terminal');
  }

  /**
   * The agent reported a prompt it received (`truncated`: only its start). It confirms the oldest
   * send waiting for it with the same text; a prompt nobody sent (a human at the terminal) is ignored.
   */
  prompted(text: string, truncated = false): void {
    const got = normalised(text);
    const p = this.takeAwaiting((req) => {
      const sent = normalised(req.text);
      return sent === got || (truncated && got.length > 0 && sent.startsWith(got));
    });
    if (!p) return;
    this.timers.clearTimeout(p.timer);
    this.io.outcome(p.req.id, 'confirmed', `${p.how}; the agent reported it received the prompt`);
  }

  stateChanged(to: PublicState, blockedOn?: string): void {
    this.state = to;
    this.blockedOn = blockedOn;
    // The run that was typed to has ended: it will not report those prompts any more.
    if (!LIVE.has(to)) this.unconfirmAll(`the agent became ${to} before it reported the prompt`);
    if (LIVE.has(to) || RETURNING.has(to)) return this.pump();
    // Stopping, stopped, dead: nobody will be there to read it.
    this.failAll('agent-not-running', `the agent is ${to}`);
    this.held.length = 0;
  }

  /** The worker is going away: nothing queued will be delivered. */
  close(): void {
    this.failAll('agent-not-running', 'the agent was shut down');
    this.unconfirmAll('the agent was shut down before it reported the prompt');
  }

  private reachable(mode: SendRequest['mode']): boolean {
    return LIVE.has(this.state) || (mode === 'wait-idle' && RETURNING.has(this.state));
  }

  /** Never typed into a dialog: a send that would not wait for the agent is refused while it is blocked. */
  private refuseBlocked(id: string): void {
    this.io.outcome(id, 'refused', `agent-blocked: ${this.blockedOn ?? 'unknown'}: the agent waits on a dialog; nothing was typed (a send that waits for the agent to be ready is delivered once it is)`);
  }

  private failAll(outcome: FinalOutcome, reason: string): void {
    for (const p of this.queue.splice(0)) {
      this.timers.clearTimeout(p.timer);
      this.io.outcome(p.req.id, outcome, reason);
    }
  }

  /** Typed and submitted, and now awaiting the agent's report (when it reports prompts at all). */
  private submittedAwaiting(req: SendRequest, how: string): void {
    if (!this.confirmation) return this.io.outcome(req.id, 'delivered', how);
    this.io.progress(req.id, 'delivered', how);
    const { timeoutMs } = this.confirmation;
    const timer = this.timers.setTimeout(() => {
      const p = this.takeAwaiting((r) => r === req);
      if (p) this.unconfirm(p, `the agent did not report the prompt within ${timeoutMs}ms`);
    }, timeoutMs);
    this.unconfirmed.push({ req, timer, how });
  }

  /** Removes and returns the oldest send awaiting its report that `match`es. */
  private takeAwaiting(match: (req: SendRequest) => boolean): Awaiting | undefined {
    const i = this.unconfirmed.findIndex((p) => match(p.req));
    return i < 0 ? undefined : this.unconfirmed.splice(i, 1)[0];
  }

  private unconfirmAll(why: string): void {
    for (const p of this.unconfirmed.splice(0)) this.unconfirm(p, why);
  }

  private unconfirm(p: Awaiting, why: string): void {
    this.timers.clearTimeout(p.timer);
    const rows = (this.confirmation?.screen() ?? '').split('\n').filter((l) => l.trim() !== '');
    const screen = rows.length > 0 ? `the screen ends with:\n${rows.slice(-SCREEN_LINES).join('\n')}` : 'the screen is blank';
    this.io.outcome(p.req.id, 'unconfirmed', `${p.how}, but ${why}; ${screen}`);
  }

  private expire(id: string): void {
    const i = this.queue.findIndex((p) => p.req.id === id);
    if (i < 0) return;
    const [p] = this.queue.splice(i, 1);
    this.io.outcome(id, 'timed-out', `not delivered within ${p!.req.timeoutMs}ms (the agent stayed ${this.state}); nothing was typed`);
  }

  private pump(): void {
    if (this.writing) return;
    const next = this.queue[0];
    if (!next) return;
    if (next.req.mode === 'now' && this.state === 'blocked') {
      this.queue.shift();
      this.timers.clearTimeout(next.timer);
      this.refuseBlocked(next.req.id);
      return this.pump();
    }
    const go = next.req.mode === 'now' ? LIVE.has(this.state) : this.state === 'ready';
    if (!go) return;
    this.queue.shift();
    this.timers.clearTimeout(next.timer);
    void this.deliver(next.req);
  }

  /** The longest line of the text as typed (the submit key ends the last one), in bytes. */
  private static longestLine(body: Buffer): number {
    let longest = 0;
    let start = 0;
    for (let i = 0; i <= body.length; i++) {
      if (i === body.length || body[i] === 0x0a || body[i] === 0x0d) {
        longest = Math.max(longest, i - start);
        start = i + 1;
      }
    }
    return longest;
  }

  private async deliver(req: SendRequest): Promise<void> {
    const multiLine = req.text.includes('\n');
    const paste = multiLine && (this.settings.bracketedPaste === 'always' || (this.settings.bracketedPaste === 'auto' && this.io.pasteMode()));
    const body = Buffer.from(paste ? PASTE_START + req.text + PASTE_END : req.text);
    // A line-mode reader would get a long line cut by the kernel, silently: refuse instead. (The
    // mode is read from the PTY only when a line is long enough to matter.)
    const longest = InputQueue.longestLine(body);
    if (longest > CANONICAL_LINE_MAX && this.io.canonical() === true) {
      this.io.outcome(req.id, 'refused', `the agent's terminal is in line mode (canonical), where the kernel keeps at most ${CANONICAL_LINE_MAX} bytes of a line; this text has a line of ${longest} bytes; nothing was typed`);
      return this.pump();
    }
    this.writing = true;
    for (let off = 0; off < body.length; off += this.settings.chunk) this.io.write(body.subarray(off, off + this.settings.chunk));
    // The submit key goes in a write of its own, after a pause: typed together with the body, many
    // TUIs take it as part of a paste instead of a submit.
    await new Promise<void>((res) => this.timers.setTimeout(res, this.settings.submitDelayMs));
    if (this.state === 'blocked') {
      // A dialog came up while the text was being typed: Enter would answer it.
      this.io.outcome(req.id, 'refused', `agent-blocked: ${this.blockedOn ?? 'unknown'}: a dialog came up while the text was typed; it was not submitted (the body was written)`);
    } else if (LIVE.has(this.state)) {
      this.io.write(this.settings.submit);
      this.io.submitted();
      this.submittedAwaiting(req, paste ? 'typed as a bracketed paste and submitted' : 'typed and submitted');
    } else {
      this.io.outcome(req.id, 'agent-not-running', `the agent became ${this.state} before the submit key was typed (the body was written)`);
    }
    this.writing = false;
    for (const d of this.held.splice(0)) this.io.write(d);
    this.pump();
  }
}
