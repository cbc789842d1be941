/**
 * The rendered screen of an agent (headless xterm), used for readiness detection and to answer
 * the queries TUIs send at start-up and wait on, as tmux does for its panes. xterm itself answers
 * DA1/DA2, CPR/DSR, DECRQM and the text area's size in characters (CSI 18 t); the ones it leaves to
 * its embedder are answered here: colours (OSC 4 and 10–19), the text area's and a cell's size in
 * pixels (CSI 14 t, CSI 16 t), XTVERSION, XTGETTCAP, the kitty keyboard flags and modifyOtherKeys.
 *
 * Parsing is slower than the kernel PTY (~30 vs ~50 MB/s here) and shares the worker thread with
 * the PTY reads, so the model is off the lossless path: small amounts are parsed at once (query
 * answers stay prompt), but under a flood it parses only the newest KEEP bytes at most every
 * FLOOD_PAUSE_MS. The raw output is captured elsewhere; this is a view of the latest screen.
 */
import { createRequire } from 'node:module';
import type xterm from '@xterm/headless';
import { type Attributes, ansiLines, drawScreen, placeCursor, sgr } from '../terminal/screen-serialize.js';

/**
 * xterm is loaded with the first model, not with the module: its ~3.5 MiB and its load time are
 * then spent only by agents that draw something, and after their process started.
 */
let loaded: typeof xterm | undefined;
const loadXterm = () => (loaded ??= createRequire(import.meta.url)('@xterm/headless') as typeof xterm);

const VERSION = '0.1.0';
/** Backlog above which input counts as a flood. */
const FLOOD_BYTES = 16 * 1024;
const FLOOD_PAUSE_MS = 100;
/** Under a flood, only the newest bytes are parsed (~0.5 ms of parsing, shorter than the PTY's slack). */
const KEEP = 16 * 1024;
const ST = '\x1b\\';
const BEL = 0x07;
const ESC = 0x1b;
const NOTHING: Buffer = Buffer.alloc(0);
const WHITE = 'rgb:ffff/ffff/ffff';
const BLACK = 'rgb:0000/0000/0000';
/**
 * xterm's dynamic colours (OSC 10–19): white on black, and the rest as xterm's defaults derive
 * them from those two (highlighting is reverse video).
 */
const DYNAMIC_COLOURS: Readonly<Record<number, string>> = {
  10: WHITE, // foreground
  11: BLACK, // background
  12: WHITE, // cursor
  13: WHITE, // mouse pointer foreground
  14: BLACK, // mouse pointer background
  15: WHITE, // Tektronix foreground
  16: BLACK, // Tektronix background
  17: WHITE, // highlight background
  18: WHITE, // Tektronix cursor
  19: BLACK, // highlight foreground
};
/**
 * The size in pixels claimed for a cell, a VGA text cell: there are no pixels, and programs that
 * ask (opencode, image viewers) use it to fit images to the grid of cells.
 */
const CELL_PX = { width: 8, height: 16 };
/** xterm's 16 named colours (0xrrggbb), the start of the palette that TERM=xterm-256color promises. */
const NAMED_COLOURS = [
  0x000000, 0xcd0000, 0x00cd00, 0xcdcd00, 0x0000ee, 0xcd00cd, 0x00cdcd, 0xe5e5e5,
  0x7f7f7f, 0xff0000, 0x00ff00, 0xffff00, 0x5c5cff, 0xff00ff, 0x00ffff, 0xffffff,
];
/**
 * XTGETTCAP answers, by terminfo and termcap name: the agent's TERM and what the model renders
 * (RGB is a boolean capability, answered without a value).
 */
const CAPABILITIES: Readonly<Record<string, string | true>> = {
  TN: 'xterm-256color',
  name: 'xterm-256color',
  Co: '256',
  colors: '256',
  RGB: true,
};
/** The five progressive enhancement flags the kitty keyboard protocol defines. */
const KITTY_FLAGS = 0b11111;
/** Entries in each screen's kitty keyboard stack, as in kitty: a push beyond drops the oldest. */
const KITTY_STACK_DEPTH = 8;

/** Palette entry `n` of xterm's 256 colours (16 named, a 6×6×6 cube, 24 greys) as `rgb:rrrr/gggg/bbbb`. */
function paletteColour(n: number): string {
  const named = NAMED_COLOURS[n];
  const cube = (v: number) => (v === 0 ? 0 : 55 + 40 * v);
  const rgb =
    named !== undefined ? [named >> 16, (named >> 8) & 0xff, named & 0xff]
    : n < 232 ? [Math.floor((n - 16) / 36), Math.floor((n - 16) / 6) % 6, (n - 16) % 6].map(cube)
    : Array<number>(3).fill(8 + 10 * (n - 232));
  return `rgb:${rgb.map((v) => v.toString(16).padStart(2, '0').repeat(2)).join('/')}`;
}

/** XTGETTCAP's answer for one hex-encoded name: `DCS 1 + r name[=value] ST`, or `DCS 0 + r name ST`. */
function capabilityAnswer(hexName: string): string {
  const value = /^(?:[0-9a-fA-F]{2})+$/.test(hexName)
    ? CAPABILITIES[Buffer.from(hexName, 'hex').toString('latin1')]
    : undefined;
  if (value === undefined) return `\x1bP0+r${hexName}${ST}`;
  if (value === true) return `\x1bP1+r${hexName}${ST}`;
  return `\x1bP1+r${hexName}=${Buffer.from(value, 'latin1').toString('hex').toUpperCase()}${ST}`;
}

/** A numeric parameter of a CSI sequence, `fallback` when it is absent or 0 (xterm's "default"). */
function param(params: (number | number[])[], i: number, fallback: number): number {
  const p = params[i];
  return typeof p === 'number' && p !== 0 ? p : fallback;
}

/**
 * xterm.js state its public API does not expose, read in one place (pinned by the model's tests,
 * the lockfile pins the version): what an attacher's terminal must be told besides the cells.
 */
interface XtermInternals {
  readonly coreService: { readonly isCursorHidden: boolean; readonly decPrivateModes: { readonly cursorStyle?: string; readonly cursorBlink?: boolean } };
  readonly coreMouseService: { readonly activeEncoding: string };
  readonly buffer: { readonly scrollTop: number; readonly scrollBottom: number };
  readonly _charsetService: { readonly glevel: number; readonly _charsets: readonly (Record<string, string> | undefined)[] };
  /** The attributes the next character is written with. */
  readonly _inputHandler: { readonly _curAttrData: Attributes };
  writeSync(data: Uint8Array): void;
}

/** Mouse encodings (DECSET numbers) by xterm.js's name for them. */
const MOUSE_ENCODINGS: Readonly<Record<string, number>> = { SGR: 1006, SGR_PIXELS: 1016, URXVT: 1015, UTF8: 1005 };
/** DECSCUSR's number for a cursor style, blinking. */
const CURSOR_STYLES: Readonly<Record<string, number>> = { block: 1, underline: 3, bar: 5 };

/** How an agent's screen is read out. */
export interface ScreenOptions {
  /** Lines above the screen to include (as many as are kept, at most). */
  readonly scrollback: number;
  /** With colours and attributes (SGR sequences), as `tmux capture-pane -e` gives. */
  readonly ansi: boolean;
}

export class TerminalModel {
  private readonly term: xterm.Terminal;
  /**
   * While catching up synchronously, what it parses after any chunk xterm still had queued: the
   * callbacks of the writes it completes must not start others.
   */
  private syncing: Buffer | undefined;
  private backlog: Buffer[] = [];
  private backlogBytes = 0;
  private phase: 'idle' | 'parsing' | 'paused' = 'idle';
  private pauseTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The chunk xterm is parsing, and how far in it the answered OSC queries end. */
  private chunk: Buffer = NOTHING;
  private oscSeen = 0;
  /** Kitty keyboard flags pushed by the program; the main and the alternate screen each have their own. */
  private readonly keyboardStacks = { normal: [] as number[], alternate: [] as number[] };
  /** xterm's modifyOtherKeys level, as last set by the program (XTMODKEYS). */
  private modifyOtherKeys = 0;
  /** Bytes never parsed because a flood outran the parser. */
  skipped = 0;

  constructor(
    cols: number,
    rows: number,
    /** Replies the terminal would send to the program (query answers). */
    private readonly reply: (data: string) => void,
    /** Called after each parsed batch. */
    private readonly onParsed: () => void,
    /** Lines kept above the screen, for `logs --screen -n`. */
    scrollback = 0,
  ) {
    this.term = new (loadXterm().Terminal)({
      cols,
      rows,
      allowProposedApi: true,
      scrollback,
      logLevel: 'off',
      // The size reports (CSI 14, 16, 18 t) that xterm.js lets through: it answers the size in
      // characters itself, the sizes in pixels only to its embedder's handler (answerQueries).
      windowOptions: { getWinSizePixels: true, getCellSizePixels: true, getWinSizeChars: true },
    });
    this.term.onData((d) => this.reply(d));
    this.answerQueries();
  }

  private answerQueries(): void {
    const parser = this.term.parser;
    // OSC 10–19 "?" asks for a dynamic colour; "?;?" asks for the next one too, as xterm reads it.
    for (const code of Object.keys(DYNAMIC_COLOURS).map(Number)) {
      parser.registerOscHandler(code, (data) => this.answerDynamicColours(code, data));
    }
    parser.registerOscHandler(4, (data) => this.answerPalette(data));
    // XTWINOPS sizes in pixels: CSI 14 t the text area (CSI 4 ; height ; width t; CSI 14 ; 2 t, the
    // window, is the same, having no border), CSI 16 t a cell (CSI 6 ; height ; width t). The other
    // window operations are left to xterm.js.
    parser.registerCsiHandler({ final: 't' }, (params) => {
      const op = param(params, 0, 0);
      if (op === 14) this.reply(`\x1b[4;${this.term.rows * CELL_PX.height};${this.term.cols * CELL_PX.width}t`);
      else if (op === 16) this.reply(`\x1b[6;${CELL_PX.height};${CELL_PX.width}t`);
      else return false;
      return true;
    });
    // XTVERSION: CSI > q  →  DCS > | name(version) ST
    parser.registerCsiHandler({ prefix: '>', final: 'q' }, () => {
      this.reply(`\x1bP>|orchestra(${VERSION})${ST}`);
      return true;
    });
    // XTGETTCAP: DCS + q hex(name);hex(name)… ST, one answer per name (as foot gives).
    parser.registerDcsHandler({ intermediates: '+', final: 'q' }, (data) => {
      for (const hexName of data.split(';')) this.reply(capabilityAnswer(hexName));
      return true;
    });
    // Kitty keyboard protocol: CSI ? u asks for the flags in force; CSI > f u pushes, CSI < n u
    // pops, CSI = f ; mode u sets (1), adds (2) or removes (3) flags in the top entry.
    parser.registerCsiHandler({ prefix: '?', final: 'u' }, () => {
      this.reply(`\x1b[?${this.keyboardFlags()}u`);
      return true;
    });
    parser.registerCsiHandler({ prefix: '>', final: 'u' }, (params) => {
      const stack = this.keyboardStack();
      stack.push(param(params, 0, 0) & KITTY_FLAGS);
      if (stack.length > KITTY_STACK_DEPTH) stack.shift();
      return true;
    });
    parser.registerCsiHandler({ prefix: '<', final: 'u' }, (params) => {
      const stack = this.keyboardStack();
      stack.splice(Math.max(0, stack.length - param(params, 0, 1)));
      return true;
    });
    parser.registerCsiHandler({ prefix: '=', final: 'u' }, (params) => {
      const flags = param(params, 0, 0) & KITTY_FLAGS;
      const mode = param(params, 1, 1);
      const now = this.keyboardFlags();
      const next = mode === 2 ? now | flags : mode === 3 ? now & ~flags : flags;
      const stack = this.keyboardStack();
      stack.splice(Math.max(0, stack.length - 1), 1, next);
      return true;
    });
    // modifyOtherKeys: CSI > 4 ; v m sets it (CSI > 4 m resets it), XTQMODKEYS CSI ? 4 m asks.
    // Gemini's "CSI > 4 ; ? m" is malformed and ignored, by xterm.js as by tmux: its DA1 sentinel
    // then tells it the level is 0, which is what it would be told here.
    parser.registerCsiHandler({ prefix: '>', final: 'm' }, (params) => {
      if (params[0] === 4) this.modifyOtherKeys = param(params, 1, 0);
      return true;
    });
    parser.registerCsiHandler({ prefix: '?', final: 'm' }, (params) => {
      if (params[0] !== 4) return false;
      this.reply(`\x1b[>4;${this.modifyOtherKeys}m`);
      return true;
    });
  }

  private keyboardStack(): number[] {
    return this.keyboardStacks[this.term.buffer.active.type];
  }

  private keyboardFlags(): number {
    return this.keyboardStack().at(-1) ?? 0;
  }

  private answerDynamicColours(code: number, data: string): boolean {
    const items = data.split(';');
    if (!items.includes('?')) return false;
    const end = this.oscTerminator(code, data);
    items.forEach((item, i) => {
      const colour = DYNAMIC_COLOURS[code + i];
      if (item === '?' && colour) this.reply(`\x1b]${code + i};${colour}${end}`);
    });
    return true;
  }

  /** OSC 4 ; n ; ? (any number of pairs): one answer per entry asked, as xterm gives. */
  private answerPalette(data: string): boolean {
    const items = data.split(';');
    const asked: number[] = [];
    for (let i = 0; i + 1 < items.length; i += 2) {
      const n = Number(items[i]);
      if (items[i + 1] === '?' && /^\d+$/.test(items[i] ?? '') && n < 256) asked.push(n);
    }
    if (asked.length === 0) return false;
    const end = this.oscTerminator(4, data);
    for (const n of asked) this.reply(`\x1b]4;${n};${paletteColour(n)}${end}`);
    return true;
  }

  /**
   * BEL or ST, whichever ended the OSC being handled: xterm answers in kind, and some programs
   * read only the terminator they sent. xterm.js does not tell its handlers, so this finds it in
   * the chunk being parsed; an OSC holds neither BEL nor ESC, so it ends at the first of them
   * after its text, or, when it began in an earlier chunk, at the first of them in this one.
   */
  private oscTerminator(code: number, data: string): string {
    const text = `\x1b]${code};${data}`;
    const at = this.chunk.indexOf(text, this.oscSeen, 'latin1');
    let end = at < 0 ? this.oscSeen : at + text.length;
    while (end < this.chunk.length && this.chunk[end] !== BEL && this.chunk[end] !== ESC) end++;
    this.oscSeen = end + 1;
    return this.chunk[end] === BEL ? '\x07' : ST;
  }

  /**
   * Takes `data` for parsing. It may be a view of memory that is reused later: the model keeps it
   * only until it is parsed (copied for xterm) or until `detach`.
   */
  write(data: Buffer): void {
    if (this.closed) return;
    this.backlog.push(data);
    this.backlogBytes += data.length;
    // Drop whole chunks from the front while the rest still holds KEEP bytes.
    while (this.backlog.length > 1 && this.backlogBytes - (this.backlog[0]?.length ?? 0) >= KEEP) {
      const dropped = this.backlog.shift();
      this.backlogBytes -= dropped?.length ?? 0;
      this.skipped += dropped?.length ?? 0;
    }
    if (this.phase === 'idle') this.parse();
  }

  /** Stops holding the views given to `write`: the unparsed backlog becomes a copy of its own. */
  detach(): void {
    if (this.backlog.length > 0) this.backlog = [Buffer.concat(this.backlog, this.backlogBytes)];
  }

  private parse(): void {
    if (this.syncing) return;
    if (this.closed || this.backlogBytes === 0) {
      this.phase = 'idle';
      return;
    }
    this.phase = 'parsing';
    // A copy: xterm keeps what it is given until it has parsed it, and the backlog holds views.
    const chunk = Buffer.concat(this.backlog, this.backlogBytes);
    this.backlog = [];
    this.backlogBytes = 0;
    this.chunk = chunk;
    this.oscSeen = 0;
    this.term.write(chunk, () => {
      // Parsed by a catch-up (xterm's writeSync finishes what was queued first): the catch-up's
      // own data comes next, and its OSC terminators are looked up in it.
      if (this.syncing) {
        this.chunk = this.syncing;
        this.oscSeen = 0;
        return;
      }
      this.chunk = NOTHING;
      if (this.closed) return;
      this.onParsed();
      // Once xterm's loop is done with this chunk: a write from inside its callback would be
      // queued behind the parsed chunk, which xterm keeps while it yields, and which a catch-up's
      // writeSync (it starts from the first queued chunk) would parse a second time.
      queueMicrotask(() => this.next());
    });
  }

  /** After a chunk: the next one now, or after a pause under a flood. */
  private next(): void {
    if (this.closed || this.phase !== 'parsing') return;
    if (this.backlogBytes < FLOOD_BYTES) {
      this.parse();
      return;
    }
    this.phase = 'paused';
    this.pauseTimer = setTimeout(() => this.parse(), FLOOD_PAUSE_MS);
  }

  private get internals(): XtermInternals {
    return (this.term as unknown as { _core: XtermInternals })._core;
  }

  /**
   * Parses now, synchronously, everything given to `write` (a flood's skipped bytes stay skipped):
   * the screen is then the one the output up to this instant draws. Writes under way are completed
   * first, in order (xterm's writeSync does that).
   */
  private catchUp(): void {
    if (this.closed) return;
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    this.pauseTimer = undefined;
    const rest = Buffer.concat(this.backlog, this.backlogBytes);
    this.backlog = [];
    this.backlogBytes = 0;
    this.syncing = rest;
    try {
      // A chunk still queued in xterm is parsed first (this.chunk is already it); otherwise `rest` is.
      if (this.phase !== 'parsing') {
        this.chunk = rest;
        this.oscSeen = 0;
      }
      this.internals.writeSync(rest);
    } finally {
      this.syncing = undefined;
      this.chunk = NOTHING;
      this.phase = 'idle';
    }
    this.onParsed();
  }

  /**
   * What makes a terminal of the same size show this screen: the cells with their colours and
   * attributes (both buffers when the alternate one is in use), the modes the program set, the
   * scroll region, the character set and the cursor (position, visibility, style). It asks
   * nothing of that terminal, so nothing answers back. For attach, with the output up to now.
   */
  snapshot(): string {
    this.catchUp();
    if (this.closed) return '';
    const core = this.internals;
    const modes = this.term.modes;
    const buf = this.term.buffer.active;
    const { cols, rows } = this.term;
    const cell = buf.getNullCell();
    let out = '';
    if (buf.type === 'alternate') {
      // The main screen under it, and where its cursor is saved: DECSET 1049 saves it on the way in.
      out += `${drawScreen(this.term.buffer.normal, cols, rows, cell)}\x1b[?1049h`;
    }
    out += drawScreen(buf, cols, rows, cell);
    const { scrollTop, scrollBottom } = core.buffer;
    if (scrollTop !== 0 || scrollBottom !== this.term.rows - 1) out += `\x1b[${scrollTop + 1};${scrollBottom + 1}r`;
    if (modes.applicationCursorKeysMode) out += '\x1b[?1h';
    if (modes.applicationKeypadMode) out += '\x1b=';
    if (modes.bracketedPasteMode) out += '\x1b[?2004h';
    if (modes.insertMode) out += '\x1b[4h';
    if (modes.reverseWraparoundMode) out += '\x1b[?45h';
    if (modes.sendFocusMode) out += '\x1b[?1004h';
    if (!modes.wraparoundMode) out += '\x1b[?7l';
    const tracking = { none: 0, x10: 9, vt200: 1000, drag: 1002, any: 1003 }[modes.mouseTrackingMode];
    if (tracking) out += `\x1b[?${tracking}h`;
    const encoding = MOUSE_ENCODINGS[core.coreMouseService.activeEncoding];
    if (encoding) out += `\x1b[?${encoding}h`;
    const style = core.coreService.decPrivateModes.cursorStyle;
    if (style && CURSOR_STYLES[style]) out += `\x1b[${CURSOR_STYLES[style] + (core.coreService.decPrivateModes.cursorBlink ? 0 : 1)} q`;
    if (core.coreService.isCursorHidden) out += '\x1b[?25l';
    const flags = this.keyboardFlags();
    if (flags) out += `\x1b[>${flags}u`;
    if (this.modifyOtherKeys) out += `\x1b[>4;${this.modifyOtherKeys}m`;
    // DEC special graphics (line drawing) in G0/G1, and which of them is in use.
    core._charsetService._charsets.slice(0, 2).forEach((set, g) => {
      if (set?.q === '\u2500') out += `\x1b${g === 0 ? '(' : ')'}0`;
    });
    if (core._charsetService.glevel === 1) out += '\x0e';
    // Last: DECSTBM and DECOM move the cursor, so it is placed again (a cursor waiting to wrap
    // stays where the screen's drawing left it unless one of them moved it).
    if (modes.originMode) out += '\x1b[?6h';
    if (modes.originMode || scrollTop !== 0 || scrollBottom !== rows - 1) out += placeCursor(buf, cols, cell, modes.originMode ? scrollTop : 0);
    return out + sgr(core._inputHandler._curAttrData);
  }

  /** Whether the alternate screen is in use. */
  get alternate(): boolean {
    return !this.closed && this.term.buffer.active.type === 'alternate';
  }

  /**
   * The screen as `logs --screen` prints it: plain text, trailing spaces trimmed, or with colours;
   * with up to `scrollback` lines kept above it.
   */
  screen(o: ScreenOptions): string {
    this.catchUp();
    if (this.closed) return '';
    const buf = this.term.buffer.active;
    const above = Math.min(o.scrollback, buf.baseY);
    if (o.ansi) return ansiLines(buf, buf.baseY - above, buf.baseY + this.term.rows - 1, this.term.cols, buf.getNullCell());
    const lines: string[] = [];
    for (let y = buf.baseY - above; y < buf.baseY + this.term.rows; y++) lines.push(buf.getLine(y)?.translateToString(true) ?? '');
    return lines.join('\n');
  }

  /** The visible screen as text, one line per row, trailing spaces trimmed. */
  screenText(): string {
    const buf = this.term.buffer.active;
    const lines: string[] = [];
    for (let y = 0; y < this.term.rows; y++) lines.push(buf.getLine(buf.viewportY + y)?.translateToString(true) ?? '');
    return lines.join('\n');
  }

  /** Whether the program turned bracketed paste on (DECSET 2004). */
  get pasteMode(): boolean {
    return !this.closed && this.term.modes.bracketedPasteMode;
  }

  resize(cols: number, rows: number): void {
    if (!this.closed) this.term.resize(cols, rows);
  }

  close(): void {
    this.closed = true;
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    this.term.dispose();
  }
}
