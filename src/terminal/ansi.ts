/**
 * A streaming tokenizer of terminal output, after the DEC VT500 parser (vt100.net/emu/dec_ansi_parser)
 * with ECMA-48's parameter bytes: `push` takes decoded text in any chunks and returns whole tokens, each
 * with its exact raw text, so a caller can drop, rewrite or pass through every sequence unchanged.
 *
 * Why not a library: `@ansi-tools/parser` folds C0 controls into text, takes U+0080–U+009F in UTF-8 text
 * for C1 introducers, reads `ESC [ 1 BEL m` as final `BEL m` and cannot tell a sequence cut at the end of
 * a chunk from a whole one; `node-ansiparser` (no release since 2024, no types) gives callbacks with
 * numbers instead of raw text, loses colon sub-parameters and swallows SOS/PM/APC. Either would need
 * more glue than this state machine.
 *
 * Departures from the VT500 chart, and why:
 * - The input is decoded UTF-8: U+0080–U+009F are text, never C1 controls (8-bit C1 bytes are not valid
 *   UTF-8, so a program that meant them did not send them). Inside a sequence header a non-ASCII
 *   character ends the sequence as `broken`; inside a string (OSC, DCS data, SOS/PM/APC) it is data.
 * - Parameter bytes are ECMA-48's 0x30–0x3F in any order (`CSI > 4 ; ? m` is one sequence); a private
 *   prefix is the first of them when it is one of `< = > ?`.
 * - A C0 control inside a sequence (the VT500 executes it and goes on) stays in that sequence's raw
 *   text, so the raw texts concatenated are always the input.
 * - Whatever ends a sequence that is not its final byte or terminator (CAN, SUB, ESC, a non-ASCII
 *   character in a header, an ESC inside a string not followed by `\`), or a sequence longer than
 *   MAX_SEQUENCE, comes out as `broken`: terminals ignore it, so callers may drop it.
 */

/** A sequence still open after this many characters is cut: its text so far comes out `broken`, and so does the rest of it. */
export const MAX_SEQUENCE = 64 * 1024;

export type Token =
  | { readonly kind: 'text'; readonly raw: string }
  /** One C0 control character or DEL, outside any sequence. */
  | { readonly kind: 'control'; readonly raw: string }
  /** `ESC intermediates final`, e.g. `ESC ( B`, `ESC =`, `ESC 7`. */
  | { readonly kind: 'esc'; readonly raw: string; readonly intermediates: string; readonly final: string }
  | { readonly kind: 'csi'; readonly raw: string; readonly prefix: string; readonly params: string; readonly intermediates: string; readonly final: string }
  | { readonly kind: 'osc'; readonly raw: string; readonly data: string; readonly terminator: 'BEL' | 'ST' }
  | {
      readonly kind: 'dcs';
      readonly raw: string;
      readonly prefix: string;
      readonly params: string;
      readonly intermediates: string;
      readonly final: string;
      readonly data: string;
    }
  | { readonly kind: 'string'; readonly raw: string; readonly introducer: 'SOS' | 'PM' | 'APC'; readonly data: string }
  /** A sequence cut short, malformed or too long: terminals ignore it. */
  | { readonly kind: 'broken'; readonly raw: string };

export type TokenKind = Token['kind'];
export type Csi = Extract<Token, { kind: 'csi' }>;
export type Dcs = Extract<Token, { kind: 'dcs' }>;
export type Osc = Extract<Token, { kind: 'osc' }>;

const ESC = '\x1b';
const CAN = 0x18;
const SUB = 0x1a;
const BEL = 0x07;

type State =
  | 'ground'
  | 'escape'
  | 'escapeIntermediate'
  | 'csiEntry'
  | 'csiParam'
  | 'csiIntermediate'
  | 'csiIgnore'
  | 'dcsEntry'
  | 'dcsParam'
  | 'dcsIntermediate'
  | 'dcsIgnore'
  | 'dcsData'
  | 'osc'
  | 'sos'
  | 'pm'
  | 'apc'
  /** In a string, after an ESC that may start its ST. */
  | 'stringEsc';

/** What ends a run of text: a C0 control (ESC among them) or DEL. */
const CONTROL = /[\x00-\x1f\x7f]/g;
/**
 * What the chart would read, at once: a whole CSI with no control inside (groups: `[`, prefix, params,
 * intermediates, final), a whole escape sequence that is no introducer (groups 6, 7), a whole OSC
 * (data, terminator).
 */
const WHOLE = /\x1b(?:(\[)([<=>?]?)([0-?]*)([ -/]*)([@-~])|([ -/]*)([0-OQ-WYZ\\`-~])|\]([^\x07\x18\x1a\x1b]*)(\x07|\x1b\\))/y;
const isIntermediate = (c: number) => c >= 0x20 && c <= 0x2f;
const isParam = (c: number) => c >= 0x30 && c <= 0x3f;
const isFinal = (c: number) => c >= 0x40 && c <= 0x7e;
const isC0 = (c: number) => c < 0x20 || c === 0x7f;

/** Streaming tokenizer: feed decoded terminal output with `push`, whole tokens come back. */
export class AnsiTokenizer {
  private state: State = 'ground';
  /** Raw text of the open sequence. */
  private raw = '';
  private prefix = '';
  private params = '';
  private intermediates = '';
  private final = '';
  private data = '';
  /** In `stringEsc`: the string the ESC may end (an ST finishes it as that kind of token). */
  private stringState: 'dcsData' | 'osc' | 'sos' | 'pm' | 'apc' = 'osc';
  /**
   * The open sequence was cut (too long, or a DCS whose header was malformed): it goes on to its end
   * as usual, but comes out as `broken` pieces, none kept past the chunk that brought it.
   */
  private cutShort = false;
  private out: Token[] = [];

  /** Tokens completed by this chunk; a sequence it leaves open is held (up to MAX_SEQUENCE). */
  push(chunk: string): Token[] {
    this.out = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.state !== 'ground') {
        if (!this.step(chunk[i] as string, chunk.charCodeAt(i))) i++;
        continue;
      }
      // Ground: text up to the next control, then a whole CSI, OSC or plain escape at once when the chunk
      // holds it (the common case, several times faster than a character at a time), else the chart.
      CONTROL.lastIndex = i;
      const next = CONTROL.exec(chunk)?.index ?? chunk.length;
      if (next > i) this.out.push({ kind: 'text', raw: chunk.slice(i, next) });
      if (next === chunk.length) break;
      i = next;
      if (chunk.charCodeAt(i) !== 0x1b) {
        this.out.push({ kind: 'control', raw: chunk[i] as string });
        i++;
        continue;
      }
      WHOLE.lastIndex = i;
      const m = WHOLE.exec(chunk);
      if (m) {
        const [raw, csi, prefix = '', params = '', intermediates = '', final = '', escIntermediates = '', escFinal, data = '', end] = m;
        if (csi) this.out.push({ kind: 'csi', raw, prefix, params, intermediates, final });
        else if (escFinal) this.out.push({ kind: 'esc', raw, intermediates: escIntermediates, final: escFinal });
        else this.out.push({ kind: 'osc', raw, data, terminator: end === '\x07' ? 'BEL' : 'ST' });
        i += raw.length;
        continue;
      }
      this.open('escape', '\x1b');
      i++;
    }
    if (this.state !== 'ground' && (this.cutShort || this.raw.length > MAX_SEQUENCE)) this.cut();
    return this.out;
  }

  /** At the end of the stream: an open sequence comes out `broken`. */
  end(): Token[] {
    this.out = [];
    if (this.state !== 'ground' && this.raw) this.out.push({ kind: 'broken', raw: this.raw });
    this.state = 'ground';
    this.raw = '';
    return this.out;
  }

  private open(state: State, raw: string): void {
    this.state = state;
    this.raw = raw;
    this.cutShort = false;
    this.prefix = this.params = this.intermediates = this.final = this.data = '';
  }

  /** Emits the open sequence as `broken` and returns to ground. */
  private abort(): void {
    if (this.raw) this.out.push({ kind: 'broken', raw: this.raw });
    this.state = 'ground';
    this.raw = '';
  }

  /** Lets go of the open sequence's text so far (as `broken`); an ESC that may start its ST is kept. */
  private cut(): void {
    const keep = this.state === 'stringEsc' ? 1 : 0;
    const gone = this.raw.slice(0, this.raw.length - keep);
    if (gone) this.out.push({ kind: 'broken', raw: gone });
    this.raw = this.raw.slice(this.raw.length - keep);
    this.data = '';
    this.cutShort = true;
  }

  private emit(t: Token): void {
    if (this.cutShort) t = { kind: 'broken', raw: this.raw };
    if (t.raw) this.out.push(t);
    this.state = 'ground';
    this.raw = '';
  }

  /** One character in a sequence state; true when it must be read again in ground. */
  private step(ch: string, c: number): boolean {
    const s = this.state;
    if (s === 'stringEsc') {
      if (ch === '\\') {
        this.raw += ch;
        this.finishString(this.stringState, 'ST');
        return false;
      }
      // ESC not starting ST ends the string (VT500: the ESC both ends it and starts a new sequence).
      this.raw = this.raw.slice(0, -1);
      this.abort();
      this.open('escape', ESC);
      return this.step(ch, c);
    }
    if (s === 'dcsData' || s === 'osc' || s === 'sos' || s === 'pm' || s === 'apc') {
      if (c === 0x1b) {
        this.stringState = s;
        this.state = 'stringEsc';
        this.raw += ch;
        return false;
      }
      if (c === CAN || c === SUB) {
        this.raw += ch;
        this.abort();
        return false;
      }
      this.raw += ch;
      if (c === BEL && s === 'osc') {
        this.finishString('osc', 'BEL');
        return false;
      }
      if (!this.cutShort) this.data += ch;
      return false;
    }
    // A sequence header (escape, CSI, DCS before its data).
    if (c === 0x1b) {
      this.abort();
      this.open('escape', ch);
      return false;
    }
    if (c === CAN || c === SUB) {
      this.raw += ch;
      this.abort();
      return false;
    }
    if (c >= 0x80) {
      this.abort();
      return true;
    }
    this.raw += ch;
    if (isC0(c)) return false;
    switch (s) {
      case 'escape':
        if (isIntermediate(c)) {
          this.intermediates += ch;
          this.state = 'escapeIntermediate';
        } else if (ch === '[') this.state = 'csiEntry';
        else if (ch === ']') this.state = 'osc';
        else if (ch === 'P') this.state = 'dcsEntry';
        else if (ch === 'X') this.state = 'sos';
        else if (ch === '^') this.state = 'pm';
        else if (ch === '_') this.state = 'apc';
        else this.emit({ kind: 'esc', raw: this.raw, intermediates: '', final: ch });
        return false;
      case 'escapeIntermediate':
        if (isIntermediate(c)) this.intermediates += ch;
        else this.emit({ kind: 'esc', raw: this.raw, intermediates: this.intermediates, final: ch });
        return false;
      default:
        this.header(s, ch, c);
        return false;
    }
  }

  /** CSI and DCS headers: prefix, parameters, intermediates, final. */
  private header(s: State, ch: string, c: number): void {
    const dcs = s.startsWith('dcs');
    const entry = dcs ? 'dcsEntry' : 'csiEntry';
    const param = dcs ? 'dcsParam' : 'csiParam';
    const intermediate = dcs ? 'dcsIntermediate' : 'csiIntermediate';
    const ignore = dcs ? 'dcsIgnore' : 'csiIgnore';
    if (s === ignore) {
      if (isFinal(c)) {
        if (dcs) {
          // VT500 DCS_IGNORE: the data up to ST is ignored too.
          this.cutShort = true;
          this.state = 'dcsData';
        } else this.abort();
      }
      return;
    }
    if (isParam(c)) {
      if (s === intermediate) this.state = ignore;
      else if (s === entry && c >= 0x3c) {
        this.prefix = ch;
        this.state = param;
      } else {
        this.params += ch;
        this.state = param;
      }
      return;
    }
    if (isIntermediate(c)) {
      this.intermediates += ch;
      this.state = intermediate;
      return;
    }
    // A final byte (0x40–0x7E; DEL, the only other ASCII left, is ignored as C0 above).
    this.final = ch;
    if (dcs) this.state = 'dcsData';
    else this.emit({ kind: 'csi', raw: this.raw, prefix: this.prefix, params: this.params, intermediates: this.intermediates, final: ch });
  }

  private finishString(s: 'dcsData' | 'osc' | 'sos' | 'pm' | 'apc', terminator: 'BEL' | 'ST'): void {
    const raw = this.raw;
    const data = this.data;
    if (s === 'osc') this.emit({ kind: 'osc', raw, data, terminator });
    else if (s === 'dcsData')
      this.emit({ kind: 'dcs', raw, prefix: this.prefix, params: this.params, intermediates: this.intermediates, final: this.final, data });
    else this.emit({ kind: 'string', raw, introducer: s === 'sos' ? 'SOS' : s === 'pm' ? 'PM' : 'APC', data });
  }

}

/** Tokens of a whole string (not a stream): an unfinished sequence at the end comes out `broken`. */
export function tokenize(text: string): Token[] {
  const t = new AnsiTokenizer();
  return [...t.push(text), ...t.end()];
}

const NUMBER = /^\d*$/;
/** XTWINOPS operations that ask for a report (sizes, positions, state, titles) rather than act. */
const WINDOW_REPORTS = new Set(['11', '13', '14', '15', '16', '18', '19', '20', '21']);
/** OSC numbers of colours (palette, special, dynamic) and the clipboard, which `?` in place of a value queries. */
const COLOUR_OSC = /^(?:4|5|1[0-9]|52)$/;

/** The first parameter of a `;`-list (`''` when there is none). */
function firstParam(params: string): string {
  return params.split(';')[0] ?? '';
}

/** `OSC Ps ; Pt`: the number and the rest. */
function oscParts(t: Osc): { num: string; fields: string[] } {
  const [num = '', ...fields] = t.data.split(';');
  return { num, fields };
}

/**
 * Whether a sequence a program writes asks the terminal to answer: device attributes (DA1, DA2, DA3),
 * status and cursor reports (DSR, CPR, DECDSR), XTVERSION, DECRQM, kitty keyboard flags, XTQMODKEYS,
 * XTWINOPS reports, XTSMGRAPHICS, DECREQTPARM, colour and clipboard queries (OSC 4, 5, 10–19, 52 with
 * `?`), XTGETTCAP, DECRQSS and the kitty graphics protocol's query (`APC G a=q`).
 */
export function isQuery(t: Token): boolean {
  if (t.kind === 'csi') {
    const { prefix, params, intermediates, final } = t;
    const bare = params === '' || params === '0';
    if (intermediates === '$') return final === 'p' && (prefix === '' || prefix === '?'); // DECRQM
    if (intermediates !== '') return false;
    switch (final) {
      case 'c': // DA1, DA2, DA3
        return bare && (prefix === '' || prefix === '>' || prefix === '=');
      case 'n': // DSR 5 (status), 6 (CPR); DECDSR `CSI ? Ps n`
        return (prefix === '' && (params === '5' || params === '6')) || prefix === '?';
      case 'q': // XTVERSION
        return prefix === '>' && bare;
      case 'u': // kitty keyboard flags
        return prefix === '?' && params === '';
      case 'm': // XTQMODKEYS: `CSI ? Pp m`, and the `CSI > Pp ; ? m` form
        return (prefix === '?' && NUMBER.test(params)) || (prefix === '>' && /^\d+;\?$/.test(params));
      case 't':
        return prefix === '' && WINDOW_REPORTS.has(firstParam(params));
      case 'S': // XTSMGRAPHICS: `CSI ? Pi ; Pa ; Pv S` (sixel and ReGIS limits)
        return prefix === '?';
      case 'x': // DECREQTPARM: `CSI Ps x` with Ps 0 or 1
        return prefix === '' && (params === '' || params === '0' || params === '1');
      default:
        return false;
    }
  }
  if (t.kind === 'osc') {
    const { num, fields } = oscParts(t);
    return COLOUR_OSC.test(num) && fields.includes('?');
  }
  if (t.kind === 'dcs') return t.final === 'q' && (t.intermediates === '+' || t.intermediates === '$') && t.prefix === '';
  // The kitty graphics protocol's query action: `APC G … a=q … ST`.
  if (t.kind === 'string') return t.introducer === 'APC' && /^G[^;]*\ba=q\b/.test(t.data);
  return false;
}

/**
 * Whether a sequence read from a terminal is its answer to a query (so no key the user typed): DA replies
 * (`CSI ? … c`, `CSI > … c`, DA3's `DCS ! | … ST`), DSR's `CSI 0 n`/`CSI 3 n`, DECXCPR `CSI ? r ; c R`,
 * DECRPM `CSI [?] … $ y`, kitty flags `CSI ? n u`, XTQMODKEYS `CSI > 4 ; n m`, XTWINOPS reports
 * `CSI … t` and `OSC l`/`OSC L`, the DCS replies of XTVERSION `>|`, XTGETTCAP `[01]+r` and DECRQSS `[01]$r`,
 * and colour and clipboard replies (OSC 4, 5, 10–19, 52 with a value).
 *
 * A plain cursor position report `CSI r ; c R` is NOT counted: it is byte for byte a modified F3 key
 * (`CSI 1 ; 2 R` is Shift+F3 in xterm's encoding), so dropping it would eat keystrokes. A caller that
 * sent a CPR itself knows to expect one; DECXCPR (with `?`) has no such twin.
 */
export function isTerminalAnswer(t: Token): boolean {
  if (t.kind === 'csi') {
    const { prefix, params, intermediates, final } = t;
    if (intermediates === '$') return final === 'y' && (prefix === '' || prefix === '?'); // DECRPM
    if (intermediates !== '') return false;
    switch (final) {
      case 'c':
        return prefix === '?' || (prefix === '>' && params !== '' && params !== '0');
      case 'n':
        return prefix === '' && (params === '0' || params === '3');
      case 'R':
        return prefix === '?';
      case 'u':
        return prefix === '?' && params !== '' && NUMBER.test(params);
      case 'm':
        return prefix === '>' && /^\d+;\d*$/.test(params);
      case 't':
        return prefix === '' && params !== '';
      case 'S': // XTSMGRAPHICS reply
        return prefix === '?';
      case 'x': // DECREPTPARM: `CSI 2|3 ; … x`
        return prefix === '' && /^[23];/.test(params);
      default:
        return false;
    }
  }
  if (t.kind === 'osc') {
    const { num, fields } = oscParts(t);
    if (/^[lL]/.test(t.data)) return true; // window title / icon label report
    return COLOUR_OSC.test(num) && fields.length > 0 && !fields.includes('?');
  }
  if (t.kind === 'dcs') {
    const { prefix, params, intermediates, final } = t;
    if (final === '|') return (prefix === '>' && intermediates === '') || (prefix === '' && intermediates === '!');
    return final === 'r' && (intermediates === '+' || intermediates === '$') && (params === '0' || params === '1');
  }
  return false;
}
