/**
 * Newline-delimited input in bounded memory: each line becomes one item, in order; a line longer
 * than the limit is skipped up to its newline and reported (with its start) instead. Used for the
 * sidecar's JSON lines and for the events a headless run prints.
 */

/** How much of a bad or skipped line is kept to show. */
export const EXCERPT = 120;

export class Lines<T> {
  private parts: Buffer[] = [];
  private size = 0;
  /** Bytes of an over-long line being skipped (0 when not skipping). */
  private skipping = 0;
  /** The start of the line being skipped, for the report. */
  private excerpt = '';

  constructor(
    private readonly maxLine: number,
    private readonly emit: (item: T) => void,
    /** A line (without its newline, never blank) as an item. */
    private readonly parse: (line: string) => T,
    /** The item for a line that was too long. */
    private readonly tooLong: (excerpt: string, bytes: number) => T,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const piece = chunk.subarray(start, nl < 0 ? chunk.length : nl);
      if (this.skipping > 0) {
        this.skipping += piece.length;
      } else if (this.size + piece.length > this.maxLine) {
        this.skipping = this.size + piece.length;
        this.excerpt = Buffer.concat([...this.parts, piece]).subarray(0, EXCERPT).toString('utf8');
        this.parts = [];
        this.size = 0;
      } else if (piece.length > 0) {
        this.parts.push(piece);
        this.size += piece.length;
      }
      if (nl < 0) return;
      this.endLine();
      start = nl + 1;
    }
  }

  private endLine(): void {
    if (this.skipping > 0) {
      this.emit(this.tooLong(this.excerpt, this.skipping));
      this.skipping = 0;
      return;
    }
    const line = Buffer.concat(this.parts, this.size).toString('utf8').replace(/\r$/, '');
    this.parts = [];
    this.size = 0;
    if (line.trim().length > 0) this.emit(this.parse(line));
  }

  /** The input ended: a last line without newline still counts. */
  end(): void {
    if (this.size > 0 || this.skipping > 0) this.endLine();
  }
}
