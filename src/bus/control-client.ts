/** Client side of the control socket: typed requests to a running supervisor (a DEALER socket). */
import * as zmq from 'zeromq';
import { type ArgsIn, type Command, ControlError, type Reply, type Results } from './control-protocol.js';
import { pack, unpack } from './msgpack.js';

export class ControlClient {
  private readonly sock: zmq.Dealer;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: Reply) => void; timer: NodeJS.Timeout }>();
  private sendChain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(readonly endpoint: string) {
    this.sock = new zmq.Dealer({ linger: 0, reconnectInterval: 50 });
    this.sock.connect(endpoint);
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      for await (const frames of this.sock) {
        const payload = frames[frames.length - 1];
        if (!payload) continue;
        let reply: Reply;
        try {
          reply = unpack(payload) as Reply;
        } catch {
          continue;
        }
        const w = typeof reply.id === 'number' ? this.waiting.get(reply.id) : undefined;
        if (!w) continue;
        clearTimeout(w.timer);
        this.waiting.delete(reply.id as number);
        w.resolve(reply);
      }
    } catch {
      // closed
    }
  }

  /** Sends a request and waits for its reply; a failed reply rejects with a ControlError. */
  async request<C extends Command>(cmd: C, args: ArgsIn<C>, timeoutMs = 10_000): Promise<Results[C]> {
    const reply = await this.raw(cmd, args, timeoutMs);
    if (!reply.ok) throw new ControlError(reply.error.code, reply.error.message);
    return reply.result as Results[C];
  }

  /** Sends a request without waiting for its reply (attach keystrokes). */
  fire<C extends Command>(cmd: C, args: ArgsIn<C>): void {
    this.enqueue(pack({ id: 0, cmd, args }));
  }

  private raw(cmd: string, args: unknown, timeoutMs: number): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new ControlError('internal', `no reply to "${cmd}" from the supervisor at ${this.endpoint} within ${timeoutMs}ms`));
      }, timeoutMs);
      this.waiting.set(id, { resolve, timer });
      this.enqueue(pack({ id, cmd, args }));
    });
  }

  private enqueue(payload: Buffer): void {
    this.sendChain = this.sendChain.then(async () => {
      if (!this.closed) await this.sock.send(payload);
    }).catch(() => undefined);
  }

  /** Waits for queued sends (fire) to reach ZeroMQ, then closes. */
  async close(): Promise<void> {
    await this.sendChain;
    this.closed = true;
    for (const w of this.waiting.values()) clearTimeout(w.timer);
    this.waiting.clear();
    if (!this.sock.closed) this.sock.close();
  }
}
