/**
 * `docker compose up`-style output: each agent's lines prefixed with a coloured `name |`, with
 * escape sequences other than colours removed (see sanitize.ts). Partial lines (prompts) are shown
 * after a short quiet period rather than held forever.
 *
 * The printer is off the bus's path: `output` and `note` only enqueue (the supervisor calls them
 * for every bus message), and the queue is drained in small slices on later turns of the event loop
 * (decoding, splitting, sanitizing and writing cost ~25 ms per MiB, more than the bus itself).
 * The queue is bounded in bytes. When it is full — stdout is slow, stuck (a pipe nobody reads, a
 * terminal stopped with Ctrl-S) or the agents simply produce more than can be printed — an agent's
 * output is skipped here (never on the bus or in the logs) for at least SKIP_MIN_MS and until the
 * printer has caught up; then one line says how much was not shown and where to find it.
 */
import { TextDecoder } from 'node:util';
import { sanitizeForPrefix } from './sanitize.js';

export const COLOURS = [36, 33, 32, 35, 34, 31, 96, 93, 92, 95, 94, 91];
/** Bytes of agents' output that may wait to be printed; beyond it output is skipped. */
export const MAX_QUEUED = 1024 * 1024;
/** Orchestra's own lines (state changes) are always queued, up to this much in all. */
const MAX_QUEUED_NOTES = 4 * MAX_QUEUED;
/** Bytes of output printed per turn of the event loop (~1.5 ms of work), so the bus is never held up longer. */
export const SLICE = 64 * 1024;
/** Once skipping, an agent stays skipped at least this long: one marker per stretch, not one per message. */
export const SKIP_MIN_MS = 250;
const MAX_PARTIAL = 64 * 1024;
const PARTIAL_FLUSH_MS = 150;

type Item = { readonly agent: string; readonly data: Uint8Array } | { readonly agent: string; readonly note: string };

/** What the printer writes to: stdout (a pipe, a file, a terminal), or a test's stream. */
export interface PrinterOutput {
  /** false: back-pressure, wait for 'drain'. */
  write(chunk: string): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

/** Per agent: the line being assembled, and how much of its output is being skipped. */
interface AgentLane {
  readonly prefix: string;
  decoder: TextDecoder;
  partial: string;
  timer: NodeJS.Timeout | undefined;
  /** Output items of this agent still in the queue (a partial line waits for them). */
  queued: number;
  /** Skipping since (ms), or undefined while shown. */
  skippingSince: number | undefined;
  skipped: number;
  /** The last byte skipped was not a newline: a line was cut. */
  lineCut: boolean;
  /** After a skip that cut a line: the next output continues it, so it is shown from its first newline on. */
  trim: boolean;
}

/** `12.3 MB`: decimal units, one decimal (a count for people, not for arithmetic). */
export function humanBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000;
  let u = 0;
  while (v >= 999.95 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

export class PrefixPrinter {
  private readonly width: number;
  private readonly lanes = new Map<string, AgentLane>();
  private queue: Item[] = [];
  private head = 0;
  /** Output bytes in the queue (notes counted in `queuedNotes`). */
  private queuedBytes = 0;
  private queuedNotes = 0;
  /** The printer's own state: idle, a slice scheduled, or waiting for stdout's 'drain'. */
  private phase: 'idle' | 'scheduled' | 'blocked' | 'closed' = 'idle';
  private resumeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly names: readonly string[],
    private readonly out: PrinterOutput,
    private readonly colour: boolean,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.width = Math.max(0, ...names.map((n) => n.length));
  }

  private lane(agent: string): AgentLane {
    let l = this.lanes.get(agent);
    if (!l) {
      const i = this.names.indexOf(agent);
      const label = `${agent.padEnd(this.width)} | `;
      const prefix = this.colour && i >= 0 ? `\x1b[${COLOURS[i % COLOURS.length]}m${label}\x1b[0m` : label;
      l = { prefix, decoder: new TextDecoder('utf-8', { fatal: false }), partial: '', timer: undefined, queued: 0, skippingSince: undefined, skipped: 0, lineCut: false, trim: false };
      this.lanes.set(agent, l);
    }
    return l;
  }

  /** An agent's output (a view that stays valid: it is kept, not copied, until printed). Never blocks. */
  output(agent: string, data: Uint8Array): void {
    if (data.length === 0 || this.phase === 'closed') return;
    const l = this.lane(agent);
    if (l.skippingSince !== undefined) {
      if (!this.mayResume(l)) {
        this.skip(l, data);
        return;
      }
      this.resume(agent, l);
    }
    if (l.trim) {
      // Resume on a line boundary: the rest of the line cut by the skip is not shown either, however
      // many chunks it spans.
      const nl = data.indexOf(10);
      if (nl === -1) return;
      l.trim = false;
      data = data.subarray(nl + 1);
      if (data.length === 0) return;
    }
    if (this.queuedBytes + data.length > MAX_QUEUED) {
      l.skippingSince = this.now();
      this.skip(l, data);
      // Idle already (one chunk larger than the whole bound): no drain will end the skip, a timer will.
      if (this.phase === 'idle') this.caughtUp();
      return;
    }
    l.queued++;
    this.queuedBytes += data.length;
    this.push({ agent, data });
  }

  /** A supervisor line about an agent (state changes, restart decisions), dimmed on a terminal. */
  note(agent: string, text: string): void {
    if (this.phase === 'closed') return;
    if (this.queuedNotes + text.length > MAX_QUEUED_NOTES) {
      this.lane(agent).skipped += Buffer.byteLength(text);
      return;
    }
    this.queuedNotes += text.length;
    this.push({ agent, note: text });
  }

  private skip(l: AgentLane, data: Uint8Array): void {
    l.skipped += data.length;
    l.lineCut = data[data.length - 1] !== 10;
  }

  private mayResume(l: AgentLane): boolean {
    return this.queuedBytes === 0 && this.phase !== 'blocked' && l.skippingSince !== undefined && this.now() - l.skippingSince >= SKIP_MIN_MS;
  }

  /** Ends a skip: what was cut off is flushed, and the marker is queued in order with the output. */
  private resume(agent: string, l: AgentLane): void {
    const skipped = l.skipped;
    l.skippingSince = undefined;
    l.skipped = 0;
    l.trim = l.lineCut;
    l.decoder = new TextDecoder('utf-8', { fatal: false });
    this.push({ agent, note: this.marker(agent, skipped) });
  }

  private marker(agent: string, bytes: number): string {
    return `… ${humanBytes(bytes)} of output not shown (see orchestra logs ${agent})`;
  }

  private push(item: Item): void {
    this.queue.push(item);
    if (this.phase === 'idle') this.schedule();
  }

  private schedule(): void {
    this.phase = 'scheduled';
    setImmediate(() => {
      if (this.phase === 'scheduled') this.drain(SLICE);
    });
  }

  /** Prints up to `budget` bytes of output (notes are small and always go), then yields. */
  private drain(budget: number): void {
    let text = '';
    while (this.head < this.queue.length && budget > 0) {
      const item = this.queue[this.head];
      this.head++;
      if (!item) continue;
      const l = this.lane(item.agent);
      if ('note' in item) {
        this.queuedNotes -= item.note.length;
        text += this.flushPartial(l) + this.noteLine(l, item.note);
      } else {
        l.queued--;
        this.queuedBytes -= item.data.length;
        budget -= item.data.length;
        text += this.lines(l, item.data);
      }
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    const flowing = text === '' || this.out.write(text);
    if (this.phase === 'closed') return;
    if (!flowing) {
      this.phase = 'blocked';
      this.out.once('drain', () => {
        if (this.phase !== 'blocked') return;
        this.phase = 'idle';
        this.caughtUp();
      });
      return;
    }
    this.phase = 'idle';
    if (this.head < this.queue.length) this.schedule();
    else this.caughtUp();
  }

  /** Queue empty, stdout flowing: agents whose output was skipped get their marker (once their minimum skip is over). */
  private caughtUp(): void {
    if (this.head < this.queue.length) {
      this.schedule();
      return;
    }
    // Derived from the lanes (a handful), not counted beside them.
    if (![...this.lanes.values()].some((l) => l.skippingSince !== undefined)) return;
    let wait = Infinity;
    for (const [agent, l] of this.lanes) {
      if (l.skippingSince === undefined) continue;
      if (this.mayResume(l)) this.resume(agent, l);
      else wait = Math.min(wait, SKIP_MIN_MS - (this.now() - l.skippingSince));
    }
    if (wait !== Infinity && !this.resumeTimer) {
      this.resumeTimer = setTimeout(() => {
        this.resumeTimer = undefined;
        if (this.phase === 'idle') this.caughtUp();
      }, Math.max(1, Math.ceil(wait)));
      this.resumeTimer.unref();
    }
  }

  /** One printed line of an agent's output: prefix, text made safe for the terminal, newline. */
  private line(l: AgentLane, text: string): string {
    return `${l.prefix}${sanitizeForPrefix(text)}\n`;
  }

  private noteLine(l: AgentLane, text: string): string {
    return `${l.prefix}${this.colour ? `\x1b[2m${text}\x1b[0m` : text}\n`;
  }

  private lines(l: AgentLane, data: Uint8Array): string {
    const lines = (l.partial + l.decoder.decode(data, { stream: true })).split('\n');
    let rest = lines.pop() ?? '';
    let out = '';
    for (const text of lines) out += this.line(l, text);
    if (l.timer) clearTimeout(l.timer);
    l.timer = undefined;
    if (rest.length >= MAX_PARTIAL) {
      out += this.line(l, rest);
      rest = '';
    }
    l.partial = rest;
    if (rest) this.armPartial(l);
    return out;
  }

  /** Shows a partial line (a prompt) after a quiet moment, unless the printer is busy or more of it is queued. */
  private armPartial(l: AgentLane): void {
    l.timer = setTimeout(() => {
      l.timer = undefined;
      if (!l.partial || this.phase === 'closed') return;
      // Output of this agent still queued continues the line; a busy printer shows it later.
      if (l.queued > 0 || this.phase !== 'idle') this.armPartial(l);
      else this.out.write(this.flushPartial(l));
    }, PARTIAL_FLUSH_MS);
    l.timer.unref();
  }

  private flushPartial(l: AgentLane): string {
    const rest = l.partial;
    l.partial = '';
    if (l.timer) clearTimeout(l.timer);
    l.timer = undefined;
    return rest ? this.line(l, rest) : '';
  }

  /** At exit: prints what is queued and every partial line, and says what was not shown. */
  close(): void {
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = undefined;
    // Closed first: a drain that catches up would otherwise end a skip by queueing its marker for
    // a later turn that never comes (the marker was lost at exit about one run in five).
    this.phase = 'closed';
    this.drain(Infinity);
    let text = '';
    for (const [agent, l] of this.lanes) {
      text += this.flushPartial(l);
      if (l.skipped > 0) text += this.noteLine(l, this.marker(agent, l.skipped));
      l.skippingSince = undefined;
      l.skipped = 0;
    }
    if (text) this.out.write(text);
  }
}
