/**
 * Client side of the bus, for programs that watch a crew: subscribe by kind and/or agent and
 * iterate decoded messages, with per-topic gap detection.
 */
import * as zmq from 'zeromq';
import { AGENTLESS_KINDS, decode, type Kind, KINDS, type Message, topicFor } from './protocol.js';

export interface SubscribeOptions {
  /** Kinds to receive (default: all). */
  readonly kinds?: readonly Kind[];
  /** Agents to receive (default: all). */
  readonly agents?: readonly string[];
  readonly receiveHighWaterMark?: number;
}

/** The topic prefixes that select exactly `kinds` × `agents`. */
export function prefixesFor(opts: SubscribeOptions): string[] {
  const kinds = opts.kinds;
  const agents = opts.agents;
  if (!kinds && !agents) return [''];
  if (!agents) return (kinds ?? []).map((k) => `${k}/`);
  // Supervisor and task messages have no agent in their topic: an agent filter without kinds leaves them out.
  const all = kinds ?? KINDS.filter((k) => !AGENTLESS_KINDS.has(k));
  return all.flatMap((k) => (AGENTLESS_KINDS.has(k) ? [topicFor(k, '')] : agents.map((a) => topicFor(k, a))));
}

/** A message plus what the client could tell about it. */
export interface Received {
  readonly topic: string;
  readonly msg: Message;
  /** Messages missing on this topic just before this one (0 when contiguous). */
  readonly gap: number;
  /** For `output`: bytes of the agent's output missing just before this message, from `offset` (0 when contiguous). */
  readonly missingBytes: number;
  /** True when the supervisor's run id changed: seq numbers started over. */
  readonly newRun: boolean;
}

export class BusSubscriber implements AsyncIterable<Received> {
  private readonly sock: zmq.Subscriber;
  private readonly lastSeq = new Map<string, number>();
  /** Per output topic, the `offset` the next message should have. */
  private readonly outputEnd = new Map<string, number>();
  private run: string | undefined;
  /** Messages missed so far (the sum of every gap seen): a slow subscriber's own drop counter. */
  missed = 0;
  /** Output bytes missed so far (the sum of every `missingBytes`). */
  missedBytes = 0;

  constructor(
    readonly endpoint: string,
    opts: SubscribeOptions = {},
  ) {
    // A short reconnect interval: a monitor started before the supervisor connects soon after it binds.
    this.sock = new zmq.Subscriber({ receiveHighWaterMark: opts.receiveHighWaterMark ?? 100_000, linger: 0, reconnectInterval: 20 });
    this.sock.connect(endpoint);
    for (const p of prefixesFor(opts)) this.sock.subscribe(p);
  }

  /** Next message, skipping duplicates (e.g. last-value replays already seen). */
  async next(): Promise<Received> {
    for (;;) {
      const [topicBuf, payload] = await this.sock.receive();
      if (!topicBuf || !payload) continue;
      const topic = topicBuf.toString('utf8');
      const msg = decode(payload);
      const newRun = this.run !== undefined && msg.run !== this.run;
      if (newRun || this.run === undefined) {
        this.run = msg.run;
        if (newRun) {
          this.lastSeq.clear();
          this.outputEnd.clear();
        }
      }
      const last = this.lastSeq.get(topic);
      if (last !== undefined && msg.seq <= last) continue;
      const gap = last === undefined ? 0 : msg.seq - last - 1;
      this.missed += gap;
      this.lastSeq.set(topic, msg.seq);
      let missingBytes = 0;
      // A supervisor older than `offset` sends none: nothing to tell then.
      if (msg.kind === 'output' && typeof msg.offset === 'number') {
        const end = this.outputEnd.get(topic);
        if (end !== undefined) missingBytes = Math.max(0, msg.offset - end);
        this.missedBytes += missingBytes;
        this.outputEnd.set(topic, msg.offset + msg.data.length);
      }
      return { topic, msg, gap, missingBytes, newRun };
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Received> {
    try {
      for (;;) yield await this.next();
    } catch (err) {
      if (this.sock.closed) return;
      throw err;
    }
  }

  close(): void {
    if (!this.sock.closed) this.sock.close();
  }
}
