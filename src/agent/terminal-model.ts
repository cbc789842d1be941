/**
 * The rendered screen of an agent (headless xterm), used for readiness detection and to answer
 * the queries TUIs send at start-up and wait on (DA1/DA2/CPR/DSR are answered by xterm itself;
 * OSC 10/11 colours and XTVERSION are added here), as tmux does for its panes.
 *
 * Parsing is slower than the kernel PTY (~30 vs ~50 MB/s here) and shares the worker thread with
 * the PTY reads, so the model is off the lossless path: small amounts are parsed at once (query
 * answers stay prompt), but under a flood it parses only the newest KEEP bytes at most every
 * FLOOD_PAUSE_MS. The raw output is captured elsewhere; this is a view of the latest screen.
 */
import xterm from '@xterm/headless';

const VERSION = '0.1.0';
/** Backlog above which input counts as a flood. */
const FLOOD_BYTES = 16 * 1024;
const FLOOD_PAUSE_MS = 100;
/** Under a flood, only the newest bytes are parsed (~0.5 ms of parsing, shorter than the PTY's slack). */
const KEEP = 16 * 1024;
const ST = '\x1b\\';

export class TerminalModel {
  private readonly term: xterm.Terminal;
  private backlog: Buffer[] = [];
  private backlogBytes = 0;
  private phase: 'idle' | 'parsing' | 'paused' = 'idle';
  private pauseTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Bytes never parsed because a flood outran the parser. */
  skipped = 0;

  constructor(
    cols: number,
    rows: number,
    /** Replies the terminal would send to the program (query answers). */
    private readonly reply: (data: string) => void,
    /** Called after each parsed batch. */
    private readonly onParsed: () => void,
  ) {
    this.term = new xterm.Terminal({ cols, rows, allowProposedApi: true, scrollback: 0, logLevel: 'off' });
    this.term.onData((d) => this.reply(d));
    // OSC 10/11 "?" asks for the default foreground/background colour.
    this.term.parser.registerOscHandler(10, (data) => this.answerColour(10, data, 'ffff/ffff/ffff'));
    this.term.parser.registerOscHandler(11, (data) => this.answerColour(11, data, '0000/0000/0000'));
    // XTVERSION: CSI > q  →  DCS > | name(version) ST
    this.term.parser.registerCsiHandler({ prefix: '>', final: 'q' }, () => {
      this.reply(`\x1bP>|orchestra(${VERSION})${ST}`);
      return true;
    });
  }

  private answerColour(code: number, data: string, rgb: string): boolean {
    if (data !== '?') return false;
    this.reply(`\x1b]${code};rgb:${rgb}${ST}`);
    return true;
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
    if (this.closed || this.backlogBytes === 0) {
      this.phase = 'idle';
      return;
    }
    this.phase = 'parsing';
    // A copy: xterm keeps what it is given until it has parsed it, and the backlog holds views.
    const chunk = Buffer.concat(this.backlog, this.backlogBytes);
    this.backlog = [];
    this.backlogBytes = 0;
    this.term.write(chunk, () => {
      if (this.closed) return;
      this.onParsed();
      if (this.backlogBytes < FLOOD_BYTES) {
        this.parse();
        return;
      }
      this.phase = 'paused';
      this.pauseTimer = setTimeout(() => this.parse(), FLOOD_PAUSE_MS);
    });
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
