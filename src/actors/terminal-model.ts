/**
 * The rendered screen of an agent (headless xterm), used for readiness detection and to answer
 * the queries TUIs send at start-up and wait on (DA1/DA2/CPR/DSR are answered by xterm itself;
 * OSC 10/11 colours and XTVERSION are added here), as tmux does for its panes.
 *
 * Parsing is slower than the kernel PTY (~30 vs ~50 MB/s here), so the model is off the lossless
 * path: it takes input with flow control and, when it falls behind by more than `maxBacklog`,
 * skips to the most recent bytes. The raw output is captured elsewhere; this is a view.
 */
import xterm from '@xterm/headless';

const VERSION = '0.1.0';
const ST = '\x1b\\';

export class TerminalModel {
  private readonly term: xterm.Terminal;
  private backlog: Uint8Array[] = [];
  private backlogBytes = 0;
  private writing = false;
  private closed = false;
  /** Bytes skipped because parsing fell behind. */
  skipped = 0;

  constructor(
    cols: number,
    rows: number,
    /** Replies the terminal would send to the program (query answers). */
    private readonly reply: (data: string) => void,
    /** Called after each parsed batch. */
    private readonly onParsed: () => void,
    private readonly maxBacklog = 1024 * 1024,
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

  write(data: Uint8Array): void {
    if (this.closed) return;
    this.backlog.push(data);
    this.backlogBytes += data.length;
    if (this.backlogBytes > this.maxBacklog) this.skipToRecent();
    if (!this.writing) this.pump();
  }

  /** Drops all but the newest `maxBacklog / 4` bytes of the backlog. */
  private skipToRecent(): void {
    const keep = Math.floor(this.maxBacklog / 4);
    const all = Buffer.concat(this.backlog);
    this.skipped += all.length - keep;
    this.backlog = [all.subarray(all.length - keep)];
    this.backlogBytes = keep;
  }

  private pump(): void {
    if (this.closed || this.backlog.length === 0) {
      this.writing = false;
      return;
    }
    this.writing = true;
    const chunk = this.backlog.length === 1 ? this.backlog[0] : Buffer.concat(this.backlog);
    this.backlog = [];
    this.backlogBytes = 0;
    if (!chunk) return;
    this.term.write(chunk, () => {
      this.onParsed();
      this.pump();
    });
  }

  /** The visible screen as text, one line per row, trailing spaces trimmed. */
  screenText(): string {
    const buf = this.term.buffer.active;
    const lines: string[] = [];
    for (let y = 0; y < this.term.rows; y++) lines.push(buf.getLine(buf.viewportY + y)?.translateToString(true) ?? '');
    return lines.join('\n');
  }

  /** True when parsing has caught up with everything written. */
  get idle(): boolean {
    return !this.writing;
  }

  resize(cols: number, rows: number): void {
    this.term.resize(cols, rows);
  }

  close(): void {
    this.closed = true;
    this.term.dispose();
  }
}
