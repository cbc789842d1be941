/** A fixed-capacity byte ring keeping the most recent output (catch-up for `logs` and late subscribers). */
export class RingBuffer {
  private readonly buf: Buffer;
  private start = 0;
  private length = 0;
  /** Bytes ever written, so readers can tell how much scrolled out. */
  total = 0;

  constructor(readonly capacity: number) {
    this.buf = Buffer.alloc(Math.max(1, capacity));
  }

  write(data: Uint8Array): void {
    this.total += data.length;
    const cap = this.buf.length;
    if (data.length >= cap) {
      this.buf.set(data.subarray(data.length - cap));
      this.start = 0;
      this.length = cap;
      return;
    }
    const end = (this.start + this.length) % cap;
    const first = Math.min(data.length, cap - end);
    this.buf.set(data.subarray(0, first), end);
    if (first < data.length) this.buf.set(data.subarray(first), 0);
    const overflow = this.length + data.length - cap;
    if (overflow > 0) {
      this.start = (this.start + overflow) % cap;
      this.length = cap;
    } else {
      this.length += data.length;
    }
  }

  /** A copy of the retained bytes, oldest first. */
  contents(): Buffer {
    const cap = this.buf.length;
    const first = Math.min(this.length, cap - this.start);
    return Buffer.concat([this.buf.subarray(this.start, this.start + first), this.buf.subarray(0, this.length - first)]);
  }
}
