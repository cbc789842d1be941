/**
 * Per-client bounds of the control socket, so that a client that sends requests and never reads
 * the replies (a stuck script) cannot grow the supervisor without limit.
 *
 * Where a reply can wait, and what bounds it, per client (client = the peer's ROUTER routing id):
 * - its handler in flight: at most `inflight` requests at once; more get an `overloaded` reply;
 * - ZeroMQ's queue for the peer: at most `pipe` replies (the socket's send high-water mark). The
 *   socket is in mandatory mode with a zero send timeout, so a full queue is reported (EAGAIN)
 *   instead of silently dropping the reply or blocking every other client;
 * - then orchestra's own queue for the peer: at most `queued` replies and `queuedBytes` bytes
 *   (one reply of any size always fits, or a large `logs` reply could never be sent).
 * A client that would exceed its own queue is dropped: its queued replies are freed, its
 * requests are not run and their replies not sent, until it reads again. Then it gets an
 * `overloaded` notice (id nil) that says how many replies were dropped and requests not run
 * (a second one for requests that arrived while the first was being sent), and is served
 * normally again.
 */

export const CLIENT_LIMITS = {
  inflight: 16,
  pipe: 8,
  queued: 64,
  queuedBytes: 8 * 1024 * 1024,
} as const;

/** The same bounds, as numbers (tests use smaller ones). */
export type Limits = { readonly [K in keyof typeof CLIENT_LIMITS]: number };

/** What a non-blocking send did: queued by ZeroMQ, refused because the peer's queue is full, or the peer is gone. */
export type SendOutcome = 'sent' | 'full' | 'gone';

export type ClientEvent =
  | { readonly kind: 'dropped'; readonly client: string; readonly queued: number; readonly bytes: number }
  | { readonly kind: 'resumed'; readonly client: string; readonly droppedReplies: number; readonly skippedRequests: number };

/** How a request from a client is to be handled. */
export type Admission = 'run' | 'overloaded' | 'skip';

interface Client {
  state: 'flowing' | 'stalled' | 'dropped';
  inflight: number;
  readonly queue: Buffer[][];
  queuedBytes: number;
  droppedReplies: number;
  skippedRequests: number;
  /** The envelope of the client's last request: where the notice goes. */
  head: readonly Buffer[];
  retryMs: number;
  timer: NodeJS.Timeout | undefined;
}

/** The first retry of a full peer queue, and the longest wait between retries. */
const RETRY_MIN_MS = 5;
const RETRY_MAX_MS = 200;

const size = (frames: readonly Buffer[]) => frames.reduce((n, f) => n + f.length, 0);

export class ControlClients {
  private readonly clients = new Map<string, Client>();
  private closed = false;

  /**
   * `send` must not block (ZeroMQ gives no per-peer "writable" event, so a full peer is retried
   * on a timer); `schedule` runs its task after every send already scheduled (one send at a time).
   */
  constructor(
    private readonly send: (frames: readonly Buffer[]) => Promise<SendOutcome>,
    private readonly schedule: (task: () => Promise<void>) => void,
    private readonly notice: (droppedReplies: number, skippedRequests: number) => Buffer,
    private readonly onEvent: (event: ClientEvent) => void,
    private readonly limits: Limits = CLIENT_LIMITS,
  ) {}

  /** A request arrived from the peer whose reply goes in front of `head` (head[0] = routing id). */
  admit(head: readonly Buffer[]): Admission {
    const c = this.client(head);
    c.head = head;
    if (c.state === 'dropped') {
      c.skippedRequests++;
      return 'skip';
    }
    if (c.inflight >= this.limits.inflight) return 'overloaded';
    c.inflight++;
    return 'run';
  }

  /** A request admitted with 'run' is answered: `frames` is its reply (routing id first). */
  finished(frames: Buffer[]): void {
    const c = this.clients.get(key(frames));
    if (c) c.inflight--;
    this.deliver(frames);
  }

  /** Queues a reply for its client, within the client's bounds. */
  deliver(frames: Buffer[]): void {
    this.schedule(async () => {
      if (this.closed) return;
      const id = key(frames);
      const c = this.client(frames.slice(0, -1));
      if (c.state === 'dropped') {
        c.droppedReplies++;
        return;
      }
      if (c.state === 'flowing') {
        const outcome = await this.send(frames);
        if (outcome === 'full') {
          c.state = 'stalled';
          c.queue.push(frames);
          c.queuedBytes += size(frames);
          this.retryLater(id, c);
        } else if (outcome === 'gone') {
          this.forget(id, c);
        } else {
          this.tidy(id, c);
        }
        return;
      }
      const bytes = size(frames);
      if (c.queue.length >= this.limits.queued || (c.queue.length > 0 && c.queuedBytes + bytes > this.limits.queuedBytes)) {
        this.drop(id, c);
        c.droppedReplies++;
        return;
      }
      c.queue.push(frames);
      c.queuedBytes += bytes;
    });
  }

  /** Stops retrying; what is still queued is dropped with the socket. */
  close(): void {
    this.closed = true;
    for (const c of this.clients.values()) clearTimeout(c.timer);
    this.clients.clear();
  }

  private client(head: readonly Buffer[]): Client {
    const id = key(head);
    let c = this.clients.get(id);
    if (!c) {
      c = { state: 'flowing', inflight: 0, queue: [], queuedBytes: 0, droppedReplies: 0, skippedRequests: 0, head, retryMs: RETRY_MIN_MS, timer: undefined };
      this.clients.set(id, c);
    }
    return c;
  }

  private drop(id: string, c: Client): void {
    this.onEvent({ kind: 'dropped', client: id, queued: c.queue.length, bytes: c.queuedBytes });
    c.state = 'dropped';
    c.droppedReplies += c.queue.length;
    c.queue.length = 0;
    c.queuedBytes = 0;
  }

  private retryLater(id: string, c: Client): void {
    clearTimeout(c.timer);
    c.timer = setTimeout(() => this.schedule(() => this.retry(id, c)), c.retryMs);
    c.retryMs = Math.min(c.retryMs * 2, RETRY_MAX_MS);
  }

  private async retry(id: string, c: Client): Promise<void> {
    if (this.closed || this.clients.get(id) !== c) return;
    c.timer = undefined;
    if (c.state === 'dropped') {
      // Requests keep arriving while the notice is awaited: they are still skipped, and counted
      // for the next notice, not zeroed with the counts this one reports.
      const { droppedReplies, skippedRequests } = c;
      const outcome = await this.send([...c.head, this.notice(droppedReplies, skippedRequests)]);
      if (outcome === 'gone') return this.forget(id, c);
      if (outcome === 'full') return this.retryLater(id, c);
      this.onEvent({ kind: 'resumed', client: id, droppedReplies, skippedRequests });
      c.droppedReplies -= droppedReplies;
      c.skippedRequests -= skippedRequests;
      c.retryMs = RETRY_MIN_MS;
      if (c.droppedReplies + c.skippedRequests > 0) return this.retryLater(id, c);
      c.state = 'flowing';
      return this.tidy(id, c);
    }
    for (let frames = c.queue[0]; frames; frames = c.queue[0]) {
      const outcome = await this.send(frames);
      if (outcome === 'gone') return this.forget(id, c);
      if (outcome === 'full') return this.retryLater(id, c);
      c.queue.shift();
      c.queuedBytes -= size(frames);
    }
    c.state = 'flowing';
    c.retryMs = RETRY_MIN_MS;
    this.tidy(id, c);
  }

  /** An idle client in good standing needs no entry (clients come and go with connections). */
  private tidy(id: string, c: Client): void {
    if (c.state === 'flowing' && c.inflight === 0 && c.queue.length === 0) this.clients.delete(id);
  }

  private forget(id: string, c: Client): void {
    clearTimeout(c.timer);
    // Requests still being answered keep counting against the bound until they finish.
    if (c.inflight > 0) {
      c.state = 'flowing';
      c.queue.length = 0;
      c.queuedBytes = 0;
      return;
    }
    this.clients.delete(id);
  }
}

const key = (frames: readonly Buffer[]) => frames[0]?.toString('hex') ?? '';
