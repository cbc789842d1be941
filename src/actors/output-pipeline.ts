/**
 * Where PTY bytes go inside the worker: ring buffer, log file, terminal model, and the supervisor.
 *
 * A PTY hands over at most ~4 KiB per read and its writer waits for the reader, so any work done
 * per read slows the agent down. The first chunk after a quiet moment, or after a small batch (an
 * echo, a keystroke's redraw), is sent at once (low echo latency); while output is streaming in
 * bulk, chunks are collected for up to STREAM_WINDOW_MS or
 * MAX_BATCH bytes and then logged, forwarded (encoded once, straight into the message that is
 * transferred to the supervisor) and reported to the machine once.
 */
import type { OutputLog } from './output-log.js';
import type { RingBuffer } from './ring-buffer.js';

/** A chunk arriving within this time of the previous flush means output is streaming. */
export const STREAM_WINDOW_MS = 5;
export const MAX_BATCH = 256 * 1024;
/** A batch smaller than this is interactive output, not a stream: the next chunk goes at once too. */
export const SMALL_BATCH = 1024;

export interface PipelineTargets {
  readonly ring: RingBuffer;
  readonly log: OutputLog;
  /** Receives each batch as the chunks it is made of (in order) and their total size. */
  readonly forward: (chunks: readonly Buffer[], size: number) => void;
  /** Receives the original chunks (not copied, never transferred): the terminal model. */
  readonly view: (chunk: Buffer) => void;
  /** Once per batch: output happened. */
  readonly activity: () => void;
}

export class OutputPipeline {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private pending: 'none' | 'immediate' | 'timer' = 'none';
  private timer: NodeJS.Timeout | undefined;
  private lastFlush = -Infinity;
  private lastFlushBytes = 0;

  constructor(
    private readonly to: PipelineTargets,
    private readonly now: () => number = () => performance.now(),
  ) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    this.to.view(chunk);
    if (this.bytes >= MAX_BATCH) {
      this.flush();
      return;
    }
    if (this.pending !== 'none') return;
    if (this.lastFlushBytes < SMALL_BATCH || this.now() - this.lastFlush >= STREAM_WINDOW_MS) {
      this.pending = 'immediate';
      setImmediate(() => {
        if (this.pending === 'immediate') this.flush();
      });
    } else {
      this.pending = 'timer';
      this.timer = setTimeout(() => this.flush(), STREAM_WINDOW_MS);
    }
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = 'none';
    if (this.bytes === 0) return;
    this.lastFlush = this.now();
    this.lastFlushBytes = this.bytes;
    const chunks = this.chunks;
    const size = this.bytes;
    this.chunks = [];
    this.bytes = 0;
    for (const c of chunks) {
      this.to.ring.write(c);
      // The log writes asynchronously and keeps the chunk: chunks are never transferred.
      this.to.log.write(c);
    }
    this.to.forward(chunks, size);
    this.to.activity();
  }
}
