/**
 * Where PTY bytes go inside the worker: ring buffer, log file, terminal model, and the supervisor.
 *
 * Chunks that arrive in the same event-loop turn are coalesced into one message (flushed by
 * setImmediate): when output is backed up, batches grow; when it trickles, each chunk goes out at
 * once. No fixed timer, so echo latency is not traded for throughput.
 */
import type { OutputLog } from './output-log.js';
import type { RingBuffer } from './ring-buffer.js';

export interface PipelineTargets {
  readonly ring: RingBuffer;
  readonly log: OutputLog;
  /** Receives each batch; ownership passes (the buffer may be transferred). */
  readonly forward: (batch: Uint8Array) => void;
  /** Receives the original chunks (not copied); e.g. the terminal model. */
  readonly view: (chunk: Buffer) => void;
  /** Once per batch: output happened. */
  readonly activity: () => void;
}

export class OutputPipeline {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private scheduled = false;

  constructor(private readonly to: PipelineTargets) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    this.to.view(chunk);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.bytes === 0) return;
    // A buffer of its own (never a slice of Node's shared pool), so it can be transferred.
    const batch = new Uint8Array(this.bytes);
    let off = 0;
    for (const c of this.chunks) {
      batch.set(c, off);
      off += c.length;
    }
    this.chunks = [];
    this.bytes = 0;
    this.to.ring.write(batch);
    this.to.log.write(batch);
    this.to.forward(batch);
    this.to.activity();
  }
}
