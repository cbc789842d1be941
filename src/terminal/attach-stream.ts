/**
 * What stands between an agent's terminal stream and the terminal of a person attached to it.
 *
 * The agent's queries (device attributes, cursor position, colours…) are answered by orchestra's
 * model of its screen, always and once: they are taken out of what the attacher's terminal is
 * shown, so it never answers them too. And what that terminal sends on its own — answers to
 * queries it saw elsewhere, or that a replay showed it — is taken out of what it types, so it can
 * never reach the agent as keys (an answer typed into a menu picked an option).
 */
import { AnsiTokenizer, isQuery, isTerminalAnswer, type Token } from './ansi.js';

/**
 * Puts a terminal back the way a shell expects it: main screen, normal cursor and keypad keys,
 * no bracketed paste, mouse or focus reports, a visible cursor of the default style, default
 * colours, ASCII in G0/G1, no scroll region, no origin or insert mode, autowrap on, the kitty
 * keyboard stack emptied and modifyOtherKeys reset, synchronized output off.
 */
export const RESTORE_TERMINAL = [
  '\x1b[?1049l',
  '\x1b[?1l\x1b>',
  '\x1b[?2004l',
  '\x1b[?9l\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1005l\x1b[?1006l\x1b[?1015l\x1b[?1016l',
  '\x1b[?1004l',
  '\x1b[?25h\x1b[0 q',
  '\x1b[0m',
  '\x1b(B\x1b)B\x0f',
  '\x1b[r\x1b[?6l\x1b[4l\x1b[?7h\x1b[?45l',
  '\x1b[<99u\x1b[>4m',
  '\x1b[?2026l',
].join('');

/**
 * Before a screen is drawn from its first cell: what was on the terminal scrolls up into its
 * history (not erased), then the screen is cleared with default colours.
 */
export function clearFor(rows: number): string {
  return `\x1b[0m\x1b[${rows};1H${'\n'.repeat(rows)}\x1b[H\x1b[2J`;
}

function rawOf(tokens: readonly Token[], keep: (t: Token) => boolean): string {
  let out = '';
  for (const t of tokens) if (keep(t)) out += t.raw;
  return out;
}

/** The agent's output as the attacher's terminal is shown it: without queries. */
export class QueryFilter {
  private readonly tokens = new AnsiTokenizer();

  /** Decoded output in any chunks; a sequence split across them comes out whole, with the later one. */
  push(text: string): string {
    return rawOf(this.tokens.push(text), (t) => !isQuery(t));
  }
}

/**
 * The attacher's keystrokes without its terminal's answers. Each read is taken whole (a terminal
 * writes an answer at once): holding a lone ESC for what may follow would delay the Escape key.
 */
export class AnswerFilter {
  private readonly decoder = new TextDecoder('utf-8');

  push(keys: Uint8Array): Buffer {
    const text = this.decoder.decode(keys, { stream: true });
    const tokens = new AnsiTokenizer();
    return Buffer.from(rawOf([...tokens.push(text), ...tokens.end()], (t) => !isTerminalAnswer(t)), 'utf8');
  }
}
