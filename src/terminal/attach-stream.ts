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

/** How much of an unfinished sequence at the end of the output is looked back for. */
export const TAIL_BYTES = 64 * 1024;

/**
 * What a terminal that has read `output` still holds unfinished: an escape sequence that has not
 * ended, or the first bytes of a UTF-8 character. A screen drawn from the output up to here does
 * not show it, and the output that follows finishes it: whoever starts from that screen must be
 * given these bytes first, or the rest of the sequence comes out as text.
 */
export function unfinished(output: Uint8Array): Uint8Array {
  const esc = output.lastIndexOf(0x1b);
  if (esc >= 0) {
    // Bytes as latin1 characters, one for one: sequences are ASCII, and string data passes as text.
    const t = new AnsiTokenizer();
    t.push(Buffer.from(output.subarray(esc)).toString('latin1'));
    const open = t.end()[0]?.raw.length ?? 0;
    if (open > 0) return output.subarray(output.length - open);
  }
  // A UTF-8 lead byte among the last three whose character is not complete.
  for (let back = 1; back <= Math.min(3, output.length); back++) {
    const b = output[output.length - back] as number;
    if ((b & 0xc0) !== 0x80) {
      const needs = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
      return needs > back ? output.subarray(output.length - back) : output.subarray(output.length);
    }
  }
  return output.subarray(output.length);
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
 * The attacher's keystrokes without its terminal's answers, nor any string sequence (APC, PM,
 * SOS: a keyboard never sends one). Each read is taken whole (a terminal writes an answer at
 * once): holding a lone ESC for what may follow would delay the Escape key. Bytes are read as
 * latin1, one character each, so what is kept goes on byte for byte (a legacy mouse report beyond
 * column 95 is not UTF-8).
 */
export function typedKeys(keys: Uint8Array): Buffer {
  const tokens = new AnsiTokenizer();
  const all = [...tokens.push(Buffer.from(keys).toString('latin1')), ...tokens.end()];
  return Buffer.from(rawOf(all, (t) => !isTerminalAnswer(t) && t.kind !== 'string'), 'latin1');
}

/**
 * Whether keys hold the detach key: its byte, or how a terminal sends Ctrl+key once the agent
 * has turned on the kitty keyboard protocol (`CSI code ; 5 u`, a press) or modifyOtherKeys
 * (`CSI 27 ; 5 ; code ~`), which attach passes on to the terminal. Returns where it starts.
 */
export function detachKeyAt(keys: Uint8Array, byte: number): { at: number } | undefined {
  const at = keys.indexOf(byte);
  const code = String.fromCharCode(byte | 0x40).toLowerCase().charCodeAt(0);
  const text = Buffer.from(keys).toString('latin1');
  const m = new RegExp(`\\x1b\\[(?:${code};5(?::1)?u|27;5;${code}~)`).exec(text);
  const found = [at, m?.index ?? -1].filter((i) => i >= 0);
  return found.length > 0 ? { at: Math.min(...found) } : undefined;
}
