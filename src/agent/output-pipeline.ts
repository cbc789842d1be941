/**
 * Where PTY bytes go inside the worker: ring buffer, log file, terminal model, and the supervisor.
 *
 * A PTY hands over at most ~4 KiB per read and its writer waits for the reader, so any work done
 * per read slows the agent down. The first chunk after a quiet moment, or after a small batch (an
 * echo, a keystroke's redraw), is sent at once (low echo latency); while output is streaming in
 * bulk, chunks are collected for up to STREAM_WINDOW_MS or
 * MAX_BATCH bytes and then logged, forwarded (encoded once, straight into the message that is
 * transferred to the supervisor) and reported to the machine once.
 *
 * Reads arrive as views of the reader's one buffer (see pty-reader.ts), so each is copied once, on
 * arrival, into a slab: consecutive reads end up contiguous, and a batch is usually one or two
 * slices of a slab (one iovec for the log, one copy into the message, one ring write).
 *
 * Slabs are reused rather than left to the garbage collector: fresh memory costs a page fault per
 * 4 KiB on first touch (~3 µs each here, on the thread that reads the PTY). A full slab is retired
 * and reused once nothing holds a view of it: the ring and the message copy synchronously, the log
 * keeps its chunks until `hasWritten` says it has written them, and the terminal model is told to
 * `detach` (copy what it still holds) before a slab is overwritten.
 *
 * The machine hears of output at most once per `activityWindowMs` while it streams: the first batch
 * at once, and one report at the end of the window for whatever came after it. A report is never
 * earlier than the output it stands for, so "quiet for idle_after" never fires early (it may fire
 * up to one window late); each report costs the machine a transition and a timer reset.
 */
import type { OutputLog } from './output-log.js';
import type { RingBuffer } from './ring-buffer.js';

/** A chunk arriving within this time of the previous flush means output is streaming. */
export const STREAM_WINDOW_MS = 10;
/**
 * 1 MiB (16 bus messages): during a flood, 4× fewer hand-overs to the supervisor than 256 KiB,
 * and ~8 % less CPU per MB in an A/B run of bench/pty-throughput's workload (15.8 → 14.5 ms/MB,
 * with the 10 ms window).
 */
export const MAX_BATCH = 1024 * 1024;
/** Size of the slabs reads are copied into. */
export const SLAB = MAX_BATCH;
/**
 * Retired slabs kept for reuse. During a flood the log has written a slab's last batch long before
 * the next slab fills (~17 ms at 60 MB/s), so one is usually enough; a slow disk gets a second.
 */
export const MAX_RETIRED = 2;
/** A batch smaller than this is interactive output, not a stream: the next chunk goes at once too. */
export const SMALL_BATCH = 1024;

export interface PipelineTargets {
  readonly ring: RingBuffer;
  readonly log: Pick<OutputLog, 'write' | 'acceptedBytes' | 'hasWritten'>;
  /** Receives each batch as the chunks it is made of (in order) and their total size. */
  readonly forward: (chunks: readonly Buffer[], size: number) => void;
  /**
   * Receives each read (the pipeline's copy; never transferred): the terminal model. The view is
   * valid until the next `detach`.
   */
  readonly view: (chunk: Buffer) => void;
  /** Slab memory is about to be reused: copy whatever `view` handed out that is still needed. */
  readonly detach: () => void;
  /** Output happened (coalesced: see `activityWindowMs`). */
  readonly activity: () => void;
}

/** The window for activity reports given the machine's timings: well inside its debounce and idle times. */
export function activityWindowFor(busyAfterMs: number, idleAfterMs: number): number {
  return Math.max(0, Math.min(50, Math.floor(busyAfterMs / 2), Math.floor(idleAfterMs / 4)));
}

export class OutputPipeline {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private pending: 'none' | 'immediate' | 'timer' = 'none';
  private timer: NodeJS.Timeout | undefined;
  private lastFlush = -Infinity;
  private lastFlushBytes = 0;
  private slab: Buffer = Buffer.allocUnsafeSlow(SLAB);
  private slabUsed = 0;
  /**
   * Where the batch's open slice begins in the current slab (none: undefined). The slice grows
   * with each read and is only cut (added to `chunks`) when the slab changes or the batch flushes.
   */
  private sliceStart: number | undefined;
  /**
   * Full slabs, oldest first, each with the log's `acceptedBytes` once its last byte is logged:
   * every byte goes to the log in order, and the batch pending now holds the slab's tail.
   */
  private retired: { slab: Buffer; mark: number }[] = [];
  /** Slabs allocated and reused so far (for tests). */
  readonly slabs = { allocated: 1, reused: 0 };
  private lastActivity = -Infinity;
  private activityTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly to: PipelineTargets,
    private readonly now: () => number = () => performance.now(),
    private readonly activityWindowMs = 0,
  ) {}

  /** One read of the PTY: `data` is only valid during the call (it is copied). */
  push(data: Buffer): void {
    if (data.length === 0) return;
    const chunk = this.copy(data);
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

  /** Copies `data` into the slab, extending the batch's open slice (a new slab starts a new one). */
  private copy(data: Buffer): Buffer {
    if (this.slabUsed + data.length > this.slab.length) {
      this.cutSlice();
      const next = this.nextSlab(data.length);
      this.retire(this.slab);
      this.slab = next;
      this.slabUsed = 0;
    }
    const start = this.slabUsed;
    data.copy(this.slab, start);
    this.slabUsed += data.length;
    this.sliceStart ??= start;
    return this.slab.subarray(start, this.slabUsed);
  }

  private retire(slab: Buffer): void {
    if (slab.length !== SLAB) return;
    this.retired.push({ slab, mark: this.to.log.acceptedBytes + this.bytes });
    if (this.retired.length > MAX_RETIRED) this.retired.shift();
  }

  /** The oldest retired slab if nothing holds it any more, else a new one. */
  private nextSlab(min: number): Buffer {
    const oldest = this.retired[0];
    if (min <= SLAB && oldest && this.to.log.hasWritten(oldest.mark)) {
      this.retired.shift();
      this.to.detach();
      this.slabs.reused++;
      return oldest.slab;
    }
    this.slabs.allocated++;
    return Buffer.allocUnsafeSlow(Math.max(SLAB, min));
  }

  /** Closes the open slice: it joins the batch's chunks. */
  private cutSlice(): void {
    if (this.sliceStart === undefined) return;
    this.chunks.push(this.slab.subarray(this.sliceStart, this.slabUsed));
    this.sliceStart = undefined;
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = 'none';
    if (this.bytes === 0) return;
    this.lastFlush = this.now();
    this.lastFlushBytes = this.bytes;
    this.cutSlice();
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
    this.reportActivity();
  }

  private reportActivity(): void {
    const now = this.now();
    if (now - this.lastActivity >= this.activityWindowMs) {
      this.lastActivity = now;
      this.to.activity();
      return;
    }
    this.activityTimer ??= setTimeout(() => {
      this.activityTimer = undefined;
      this.lastActivity = this.now();
      this.to.activity();
    }, this.lastActivity + this.activityWindowMs - now);
  }

  /** Flushes what is pending and drops a pending activity report (the host is closing). */
  close(): void {
    this.flush();
    if (this.activityTimer) clearTimeout(this.activityTimer);
    this.activityTimer = undefined;
  }
}
