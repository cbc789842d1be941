/**
 * The bus publisher: one XPUB socket, one sender loop, a bounded queue.
 *
 * Agents never wait for the bus: `publish` only enqueues. When the queue holds more than
 * `queueLimit` bytes, output messages are dropped (control messages — state, exit, restart —
 * are always kept) and the drop is counted and published per agent; subscribers also see it as a
 * gap in `seq` (and in `offset`). Each `drops` report names the last output seq it accounts for,
 * so its counts equal the seqs missing up to there, even for drops no later message has revealed.
 * ZeroMQ itself drops for a subscriber whose own HWM is full (noDrop off), which only that
 * subscriber sees, as a seq gap that no `drops` report counts.
 *
 * New subscriptions trigger a replay of the last `state` message of every agent, and of the last
 * `supervisor` message, whose topic matches the subscribed prefix (last-value cache), so a late
 * monitor learns the current state without sleeping. Replays carry the original seq and
 * `replay: true`.
 */
import * as zmq from 'zeromq';
import { type ReceiveLoop, receiveLoop } from './receive-loop.js';
import { type BodyOf, encode, type Kind, type Message, type MessageOf, PROTOCOL_VERSION, topicFor } from './protocol.js';

/** Pacing: at most a quarter of the high-water mark of messages per PACE_MS (see `pace`). */
const PACE_MS = 5;

export interface PublisherOptions {
  readonly endpoint: string;
  readonly runId: string;
  readonly highWaterMark: number;
  readonly queueLimit: number;
}

interface Queued {
  readonly topic: string;
  readonly payload: Buffer;
}

export class Publisher {
  private readonly sock: zmq.XPublisher;
  private readonly seqs = new Map<string, number>();
  /** Last-value cache: the latest `state` of each agent and the latest `supervisor` message. */
  private readonly lastValues = new Map<string, Queued>();
  /** Sent items are blanked (undefined) until the array is compacted. */
  private queue: (Queued | undefined)[] = [];
  private head = 0;
  private queuedBytes = 0;
  private sending = false;
  private windowStart = 0;
  private sentInWindow = 0;
  private closed = false;
  private readonly drops = new Map<string, { dropped: number; droppedBytes: number }>();
  private dropTimer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];
  private subscribed = false;
  private receiving: ReceiveLoop | undefined;
  private subscriptionWaiters: (() => void)[] = [];

  constructor(private readonly opts: PublisherOptions) {
    this.sock = new zmq.XPublisher({
      sendHighWaterMark: opts.highWaterMark,
      noDrop: false,
      verbosity: 'allSubs',
      linger: 500,
    });
  }

  async bind(): Promise<void> {
    await this.sock.bind(this.opts.endpoint);
    // Subscription messages: the last-value replay for each new subscription.
    this.receiving = receiveLoop(this.sock, ([frame]) => this.onSubscription(frame), () => undefined);
  }

  /** The endpoint subscribers connect to (resolved port for tcp://…:0). */
  get endpoint(): string {
    return this.sock.lastEndpoint ?? this.opts.endpoint;
  }

  /** Stamps the envelope (version, run, seq, time) and enqueues. Never blocks. Returns the message. */
  publish<K extends Kind>(kind: K, agent: string, body: BodyOf<K>): MessageOf<K> | undefined {
    if (this.closed) return undefined;
    const topic = topicFor(kind, agent);
    const seq = (this.seqs.get(topic) ?? 0) + 1;
    const msg: MessageOf<K> = { v: PROTOCOL_VERSION, run: this.opts.runId, agent, seq, ts: Date.now(), ...body };
    // Widened: TypeScript does not narrow a body of a generic kind by its `kind` field.
    const sent: Message = msg;
    // A log error is news, not the supervisor's state: late subscribers get the lifecycle event.
    const current = sent.kind === 'state' || (sent.kind === 'supervisor' && sent.event !== 'log-error');
    if (current) this.lastValues.set(topic, { topic, payload: encode({ ...sent, replay: true }) });
    this.admit(topic, agent, seq, encode(sent), sent.kind === 'output' ? sent.data.length : undefined);
    return msg;
  }

  /**
   * Publishes an `output` message a worker has already encoded with its own `seq` (the worker owns
   * the output seq of its agent, so the bytes are never re-encoded or copied here); `size` is how
   * many bytes of output it carries.
   */
  publishEncodedOutput(agent: string, payload: Uint8Array, seq: number, size: number): void {
    if (this.closed) return;
    const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    this.admit(topicFor('output', agent), agent, seq, bytes, size);
  }

  /**
   * The one queueing rule: `seq` is spent either way (a dropped message leaves a gap every
   * subscriber sees); output (`outputBytes` given) beyond the queue limit is dropped and counted.
   */
  private admit(topic: string, agent: string, seq: number, payload: Buffer, outputBytes: number | undefined): void {
    this.seqs.set(topic, seq);
    if (outputBytes !== undefined && this.queuedBytes + payload.length > this.opts.queueLimit) {
      this.countDrop(agent, outputBytes);
      return;
    }
    this.enqueue({ topic, payload });
  }

  private enqueue(item: Queued): void {
    this.queue.push(item);
    this.queuedBytes += item.payload.length;
    if (!this.sending) void this.sendLoop();
  }

  private countDrop(agent: string, bytes: number): void {
    const d = this.drops.get(agent) ?? { dropped: 0, droppedBytes: 0 };
    d.dropped++;
    d.droppedBytes += bytes;
    this.drops.set(agent, d);
    // Report drops at most every 250 ms: a drop report must not itself flood the queue.
    this.dropTimer ??= setTimeout(() => this.flushDrops(), 250);
  }

  private flushDrops(): void {
    this.dropTimer = undefined;
    for (const [agent, d] of this.drops) {
      // Every output message up to lastSeq that was kept is queued ahead of this report.
      const lastSeq = this.seqs.get(topicFor('output', agent)) ?? 0;
      this.publish('drops', agent, { kind: 'drops', ...d, lastSeq });
    }
    this.drops.clear();
  }

  // One sender loop per socket: a second concurrent send on a blocked socket fails with EBUSY.
  private async sendLoop(): Promise<void> {
    this.sending = true;
    try {
      while (this.head < this.queue.length) {
        const item = this.queue[this.head];
        this.queue[this.head] = undefined;
        this.head++;
        if (!item) continue;
        this.queuedBytes -= item.payload.length;
        await this.sock.send([item.topic, item.payload]);
        const pause = this.pace();
        if (pause) await pause;
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
      }
      this.queue = [];
      this.head = 0;
    } catch (err) {
      if (!this.closed) throw err;
    } finally {
      this.sending = false;
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /**
   * A burst (thousands of sidecar events at once) must not outrun ZeroMQ's I/O thread: messages it
   * has not yet written count against every subscriber's high-water mark, so even a subscriber that
   * keeps up would lose some. At most a quarter of the mark goes out per PACE_MS; the rest waits in the
   * queue (bounded by queue_limit). Output (a few large messages per ms at most) never hits this.
   * Returns the pause to wait for, or undefined when the next message may go at once (the common
   * case costs no promise).
   */
  private pace(): Promise<void> | undefined {
    const now = performance.now();
    if (now - this.windowStart >= PACE_MS) {
      this.windowStart = now;
      this.sentInWindow = 0;
    }
    if (++this.sentInWindow < this.opts.highWaterMark / 4) return undefined;
    return new Promise<void>((res) => setTimeout(res, Math.max(1, PACE_MS - (now - this.windowStart)))).then(() => {
      this.windowStart = performance.now();
      this.sentInWindow = 0;
    });
  }

  private onSubscription(frame: Buffer | undefined): void {
    if (!frame || frame.length === 0 || frame[0] !== 1) return;
    const prefix = frame.subarray(1).toString('utf8');
    if (!this.subscribed) {
      this.subscribed = true;
      for (const w of this.subscriptionWaiters.splice(0)) w();
    }
    for (const [topic, item] of this.lastValues) if (topic.startsWith(prefix)) this.enqueue(item);
  }

  /** Resolves once any subscriber has subscribed (to anything); false after `timeoutMs`. */
  firstSubscription(timeoutMs: number): Promise<boolean> {
    if (this.subscribed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.subscriptionWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Resolves when everything queued has been handed to ZeroMQ. */
  flushed(): Promise<void> {
    if (!this.sending && this.head >= this.queue.length) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    if (this.dropTimer) {
      clearTimeout(this.dropTimer);
      this.flushDrops();
    }
    await this.flushed();
    this.closed = true;
    this.receiving?.stop();
    this.sock.close();
  }
}
