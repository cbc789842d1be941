/**
 * `docker compose up`-style output: each agent's lines prefixed with a coloured `name |`, with
 * escape sequences other than colours removed (see sanitize.ts). Partial lines (prompts) are shown
 * after a short quiet period rather than held forever.
 */
import { TextDecoder } from 'node:util';
import { sanitizeForPrefix } from './sanitize.js';
const COLOURS = [36, 33, 32, 35, 34, 31, 96, 93, 92, 95, 94, 91];
/**
 * What may wait in stdout's buffer. Beyond it agents' lines are dropped here (never from the bus
 * or the logs) and counted: a terminal or pipe that stops reading must not stall or grow orchestra.
 */
const MAX_BUFFERED = 1024 * 1024;
const MAX_PARTIAL = 64 * 1024;
const PARTIAL_FLUSH_MS = 150;

export class PrefixPrinter {
  private readonly width: number;
  private readonly prefixes = new Map<string, string>();
  private readonly partial = new Map<string, string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly decoders = new Map<string, TextDecoder>();
  private dropped = 0;
  private waitingForDrain = false;

  constructor(
    names: readonly string[],
    private readonly out: NodeJS.WritableStream & { readonly writableLength?: number },
    private readonly colour: boolean,
    /** Where the complete output is, for the note about dropped lines. */
    private readonly logsDir: string,
  ) {
    this.width = Math.max(...names.map((n) => n.length));
    names.forEach((n, i) => {
      const label = `${n.padEnd(this.width)} | `;
      this.prefixes.set(n, colour ? `\x1b[${COLOURS[i % COLOURS.length]}m${label}\x1b[0m` : label);
    });
  }

  private prefix(agent: string): string {
    return this.prefixes.get(agent) ?? `${agent.padEnd(this.width)} | `;
  }

  /** One printed line of an agent's output: prefix, text made safe for the terminal, newline. */
  private line(agent: string, text: string): string {
    return `${this.prefix(agent)}${sanitizeForPrefix(text)}\n`;
  }

  output(agent: string, data: Uint8Array): void {
    let dec = this.decoders.get(agent);
    if (!dec) {
      dec = new TextDecoder('utf-8', { fatal: false });
      this.decoders.set(agent, dec);
    }
    const text = (this.partial.get(agent) ?? '') + dec.decode(data, { stream: true });
    const lines = text.split('\n');
    const rest = lines.pop() ?? '';
    let out = '';
    for (const l of lines) out += this.line(agent, l);
    if (out) this.emit(out);
    this.setPartial(agent, rest);
  }

  private setPartial(agent: string, rest: string): void {
    const t = this.timers.get(agent);
    if (t) clearTimeout(t);
    if (rest.length >= MAX_PARTIAL) {
      this.emit(this.line(agent, rest));
      rest = '';
    }
    this.partial.set(agent, rest);
    if (rest) {
      const timer = setTimeout(() => this.flushPartial(agent), PARTIAL_FLUSH_MS);
      timer.unref();
      this.timers.set(agent, timer);
    }
  }

  private flushPartial(agent: string): void {
    const rest = this.partial.get(agent);
    if (rest) this.emit(this.line(agent, rest));
    this.partial.set(agent, '');
  }

  /** A supervisor line about an agent (state changes, restart decisions), dimmed on a terminal. */
  note(agent: string, text: string): void {
    this.flushPartial(agent);
    const body = this.colour ? `\x1b[2m${text}\x1b[0m` : text;
    this.emit(`${this.prefix(agent)}${body}\n`, true);
  }

  /** Writes unless stdout is backed up; `always` is for orchestra's own short lines. */
  private emit(text: string, always = false): void {
    if (!always && (this.out.writableLength ?? 0) > MAX_BUFFERED) {
      this.dropped += Buffer.byteLength(text);
      if (!this.waitingForDrain) {
        this.waitingForDrain = true;
        this.out.once('drain', () => this.reportDropped());
      }
      return;
    }
    this.out.write(text);
  }

  /** At exit: say what was not shown, even if stdout never drained. */
  reportPendingDrops(): void {
    this.reportDropped();
  }

  private reportDropped(): void {
    this.waitingForDrain = false;
    if (this.dropped === 0) return;
    this.out.write(`orchestra: ${this.dropped} bytes of agent output not shown here (stdout was not keeping up); all of it is in ${this.logsDir}\n`);
    this.dropped = 0;
  }

  flushAll(): void {
    for (const agent of this.partial.keys()) this.flushPartial(agent);
  }
}
