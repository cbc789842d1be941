/**
 * Catch-up then live, without a gap or a repeat: subscribe to the agent's output first, wait until
 * the subscription is known to be active, read the catch-up (the ring buffer for `logs -f`, the
 * rendered screen for `attach`), which says up to which output seq it goes, then pass on only bus
 * messages past that seq.
 */
import type { Kind } from '../bus/protocol.js';
import { BusSubscriber, type Received } from '../bus/client.js';
import { UsageError } from './errors.js';
import type { Running } from './session-client.js';

export interface Follower<T> {
  /** The catch-up, read once the subscription was active. */
  readonly first: T;
  /** Starts delivering live messages (buffered ones first). */
  live(handler: (r: Received) => void): void;
  /** Resolves when the supervisor announces it is stopping or has stopped. */
  readonly supervisorGone: Promise<void>;
  close(): void;
}

const CONFIRM_MS = 5000;

/** `seqOf(first, agent)`: up to which output seq of `agent` the catch-up goes. */
export async function follow<T>(s: Running, agents: readonly string[], catchUp: () => Promise<T>, seqOf: (first: T, agent: string) => number, kinds: readonly Kind[] = ['output', 'state']): Promise<Follower<T>> {
  // The `supervisor/` subscription goes last: its last-value replay arriving proves that the
  // subscriptions before it are active (ZeroMQ handles one connection's subscriptions in order).
  const sub = new BusSubscriber(s.info.publish, { kinds: [...kinds.filter((k) => k !== 'supervisor'), 'supervisor'], agents });
  const buffered: Received[] = [];
  let handler: ((r: Received) => void) | undefined;
  let confirm!: () => void;
  const confirmed = new Promise<void>((res) => (confirm = res));
  let gone!: () => void;
  const supervisorGone = new Promise<void>((res) => (gone = res));
  void (async () => {
    try {
      for await (const r of sub) {
        confirm();
        if (r.msg.kind === 'supervisor' && (r.msg.event === 'stopping' || r.msg.event === 'stopped')) gone();
        if (handler) handler(r);
        else buffered.push(r);
      }
    } catch {
      // closed
    }
    gone();
  })();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), CONFIRM_MS)));
  const answered = await Promise.race([confirmed, timedOut]);
  clearTimeout(timer);
  if (answered === 'timeout') {
    sub.close();
    throw new UsageError(`the bus at ${s.info.publish} did not answer within ${CONFIRM_MS}ms`, 1);
  }
  let first: T;
  try {
    first = await catchUp();
  } catch (err) {
    sub.close();
    throw err;
  }
  return {
    first,
    supervisorGone,
    live(h) {
      handler = (r) => {
        // Output already in the catch-up (or from before it) is skipped. (A follower ends when the
        // supervisor stops, so every message here is of the run the catch-up was read from.)
        if (r.msg.kind === 'output' && r.msg.seq <= seqOf(first, r.msg.agent)) return;
        h(r);
      };
      for (const r of buffered.splice(0)) handler(r);
    },
    close: () => sub.close(),
  };
}
