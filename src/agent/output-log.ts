/**
 * A per-agent output log: every byte, in order, rotated by size (`a.log` → `a.log.1` → … `.N`).
 *
 * Writes go to the libuv threadpool so the worker thread stays free to read the PTY (the kernel
 * lets a writer run only ~64 KiB ahead of its reader). While one write is in flight, new output
 * queues and is written together next. If the disk falls behind by more than SYNC_ABOVE bytes,
 * writes become synchronous: the agent is slowed down rather than any byte dropped.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, statSync, writev, writevSync } from 'node:fs';
import { dirname } from 'node:path';
import { rotateFiles } from '../host/log-rotation.js';

export const SYNC_ABOVE = 8 * 1024 * 1024;
/** Buffers per writev (Linux's IOV_MAX). */
const IOV_MAX = 1024;

/** What is left of `bufs` after the first `n` bytes were written. */
function skip(bufs: Uint8Array[], n: number): Uint8Array[] {
  let i = 0;
  while (i < bufs.length && n >= (bufs[i] as Uint8Array).length) n -= (bufs[i++] as Uint8Array).length;
  const rest = bufs.slice(i);
  if (n > 0 && rest.length > 0) rest[0] = (rest[0] as Uint8Array).subarray(n);
  return rest;
}

export class OutputLog {
  private fd: number;
  private size: number;
  private queue: Uint8Array[] = [];
  private queued = 0;
  private inFlight = false;
  /** Bytes accepted by `write`, and bytes written or given up on (a failed write): see `hasWritten`. */
  private accepted = 0;
  private settled = 0;
  private closed = false;
  private failed: Error | undefined;
  private drainWaiters: (() => void)[] = [];

  constructor(
    private readonly file: string,
    private readonly maxSize: number,
    private readonly keep: number,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    this.fd = openSync(file, 'a', 0o600);
    this.size = statSync(file).size;
  }

  write(data: Uint8Array): void {
    if (this.closed || data.length === 0) return;
    this.queue.push(data);
    this.queued += data.length;
    this.accepted += data.length;
    if (this.queued > SYNC_ABOVE) this.drainSync();
    else if (!this.inFlight) this.next();
  }

  /**
   * Takes the next piece to write: the queued chunks up to the rotation boundary (a chunk that
   * crosses it is split), at most IOV_MAX of them. They are written as they are, with writev: no
   * copy.
   */
  private take(): Uint8Array[] | undefined {
    if (this.queue.length === 0) return undefined;
    if (this.size >= this.maxSize && this.maxSize > 0) this.rotate();
    let room = this.maxSize > 0 ? this.maxSize - this.size : Number.MAX_SAFE_INTEGER;
    const piece: Uint8Array[] = [];
    let n = 0;
    while (n < this.queue.length && piece.length < IOV_MAX && room > 0) {
      const c = this.queue[n] as Uint8Array;
      if (c.length > room) {
        piece.push(c.subarray(0, room));
        this.queue[n] = c.subarray(room);
        room = 0;
        break;
      }
      piece.push(c);
      room -= c.length;
      n++;
    }
    this.queue = this.queue.slice(n);
    for (const c of piece) this.queued -= c.length;
    return piece;
  }

  private next(): void {
    const piece = this.take();
    if (!piece) {
      for (const w of this.drainWaiters.splice(0)) w();
      return;
    }
    this.inFlight = true;
    this.writeAsync(piece);
  }

  private writeAsync(piece: Uint8Array[]): void {
    writev(this.fd, piece, (err, n) => {
      if (err) {
        // The piece is given up on: the log holds none of it any more.
        for (const c of piece) this.settled += c.length;
        this.fail(err);
        return;
      }
      this.size += n;
      this.settled += n;
      const rest = skip(piece, n);
      if (rest.length > 0) {
        this.writeAsync(rest);
        return;
      }
      this.inFlight = false;
      if (!this.closed) this.next();
    });
  }

  /** Writes everything queued now, on this thread. Waits out a write in flight first. */
  private drainSync(): void {
    if (this.inFlight) return; // the in-flight callback continues; sync drains resume after it
    for (let piece = this.take(); piece; piece = this.take()) {
      while (piece.length > 0) {
        const n = writevSync(this.fd, piece);
        this.size += n;
        this.settled += n;
        piece = skip(piece, n);
      }
    }
  }

  /** A mark for `hasWritten`: the bytes accepted so far. */
  get acceptedBytes(): number {
    return this.accepted;
  }

  /**
   * Whether everything accepted before `mark` (an `acceptedBytes` value) has been written, so the
   * log no longer holds the caller's buffers from then: the pipeline may reuse them.
   */
  hasWritten(mark: number): boolean {
    return this.settled >= mark;
  }

  /** Resolves once everything written so far is in the file (handed to the kernel). */
  drained(): Promise<void> {
    if (!this.inFlight && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private fail(err: Error): void {
    this.inFlight = false;
    for (const w of this.drainWaiters.splice(0)) w();
    if (!this.failed) {
      this.failed = err;
      this.onError(err);
    }
  }

  private rotate(): void {
    closeSync(this.fd);
    rotateFiles(this.file, this.keep);
    this.fd = openSync(this.file, 'a', 0o600);
    this.size = 0;
  }

  /**
   * Flushes what is queued. With a write still in flight (its bytes are already handed to the
   * kernel call), the rest is appended once it completes; `close` waits for that.
   */
  async close(): Promise<void> {
    this.closed = true;
    while (this.inFlight) await new Promise((r) => setImmediate(r));
    this.drainSync();
    try {
      fsyncSync(this.fd);
    } catch {
      // not every file system supports fsync; the data is written either way
    }
    closeSync(this.fd);
  }
}
