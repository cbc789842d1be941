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

  /**
   * A copy of the newest `max` retained bytes (all of them by default), oldest first, in an
   * ArrayBuffer of exactly that size: posted to another thread, it carries only those bytes (a view
   * into a larger buffer would carry the whole buffer).
   */
  tail(max = Infinity): Buffer {
    const n = Math.min(this.length, Math.max(0, max));
    const out = Buffer.allocUnsafeSlow(n);
    const cap = this.buf.length;
    const from = (this.start + this.length - n) % cap;
    const first = Math.min(n, cap - from);
    out.set(this.buf.subarray(from, from + first), 0);
    out.set(this.buf.subarray(0, n - first), first);
    return out;
  }
}
