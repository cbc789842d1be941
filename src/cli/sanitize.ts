/**
 * Makes agent output safe and readable as plain lines (`up`'s `name | ` prefixes, `logs --strip`,
 * `events`): every control sequence of the ECMA-48 grammar (see src/terminal/ansi.ts) and every control
 * character but tab and newline is removed, optionally keeping colours (SGR). A TUI printed raw would
 * switch the user's terminal to its alternate screen or clear it. The bus and logs keep raw bytes.
 *
 * Moves that only skip cells to the right stand for blanks, so they become spaces: cursor forward
 * (`CSI n C`), to a column (`CSI n G`, `CSI n \``) and forward tabulation (`CSI n I`). claude draws
 * "Unable to connect" with `CSI n G` between the words. The column is counted from the start of the
 * output line; a move backwards (CR, BS, `CSI n D`, a column to the left) prints nothing and removes
 * nothing already printed, so what follows it is appended.
 */
import { AnsiTokenizer, type Csi, type Token } from '../terminal/ansi.js';

/** A move past this column (counted from 1) prints nothing: programs use `CSI 999 C` to reach an edge we cannot see. */
export const MAX_COLUMN = 500;
const TAB = 8;

/** Cells a code point takes in a terminal: 0 for combining marks and joiners, 2 for East Asian wide and emoji. */
function cellWidth(cp: number): number {
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x20d0 && cp <= 0x20ff) || (cp >= 0xfe00 && cp <= 0xfe0f)) return 0;
  const wide =
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd);
  return wide ? 2 : 1;
}

/** `CSI n X`'s count: missing or 0 means 1. */
function count(t: Csi): number {
  const n = Number.parseInt(t.params.split(/[;:]/)[0] ?? '', 10);
  return Number.isFinite(n) && n > 0 ? n : 1;
}

// C1 controls: the tokenizer keeps U+0080–U+009F as text (they are not introducers in UTF-8), but some
// terminals still act on them, and none prints them.
const C1 = /[\u0080-\u009f]/g;
const SGR_PARAMS = /^[0-9;:]*$/;
const NON_ASCII = /[^\x00-\x7f]/;

/** One output stream made plain: feed decoded text in any chunks; sequences split across chunks are held. */
export class Sanitizer {
  private readonly tokens = new AnsiTokenizer();
  /** Cells printed since the last newline. */
  private column = 0;

  /** @param colours keep SGR sequences (`ESC [ … m`). */
  constructor(private readonly colours: boolean) {}

  push(text: string): string {
    return this.render(this.tokens.push(text));
  }

  /** At the end of the stream (an unfinished sequence is dropped). */
  end(): string {
    return this.render(this.tokens.end());
  }

  private render(tokens: readonly Token[]): string {
    let out = '';
    for (const t of tokens) {
      if (t.kind === 'text') {
        if (!NON_ASCII.test(t.raw)) {
          this.column += t.raw.length;
          out += t.raw;
          continue;
        }
        const text = t.raw.replace(C1, '');
        for (const ch of text) this.column += cellWidth(ch.codePointAt(0) ?? 0);
        out += text;
      } else if (t.kind === 'control') {
        if (t.raw === '\n') {
          this.column = 0;
          out += '\n';
        } else if (t.raw === '\t') {
          this.column = (Math.floor(this.column / TAB) + 1) * TAB;
          out += '\t';
        }
      } else if (t.kind === 'csi') out += this.csi(t);
    }
    return out;
  }

  private csi(t: Csi): string {
    if (t.prefix !== '' || t.intermediates !== '') return '';
    switch (t.final) {
      case 'm':
        return this.colours && SGR_PARAMS.test(t.params) ? t.raw : '';
      case 'C':
        return this.spacesTo(this.column + count(t));
      case 'G':
      case '`':
        return this.spacesTo(count(t) - 1);
      case 'I':
        return this.spacesTo((Math.floor(this.column / TAB) + count(t)) * TAB);
      default:
        return '';
    }
  }

  private spacesTo(target: number): string {
    if (target <= this.column || target >= MAX_COLUMN) return '';
    const n = target - this.column;
    this.column = target;
    return ' '.repeat(n);
  }
}

/** One line (or any whole text) made safe to print between prefixes: colours kept. */
export function sanitizeForPrefix(text: string): string {
  const s = new Sanitizer(true);
  return s.push(text) + s.end();
}
