/**
 * Catch-up then live, without a gap or a repeat: subscribe to the agent's output first, wait until
 * the subscription is known to be active, read the ring buffer (which says up to which output seq it
 * goes), then pass on only bus messages past that seq. Used by `logs -f` and `attach`.
 */
import type { Results } from '../bus/control-protocol.js';
import { BusSubscriber, type Received } from '../bus/client.js';
import { UsageError } from './errors.js';
import { ask, type Running } from './session-client.js';

export interface Follower {
  readonly ring: Results['logs'];
  /** Starts delivering live messages (buffered ones first). */
  live(handler: (r: Received) => void): void;
  /** Resolves when the supervisor announces it is stopping or has stopped. */
  readonly supervisorGone: Promise<void>;
  close(): void;
}

const CONFIRM_MS = 5000;

export async function follow(s: Running, agent: string, ringBytes: number): Promise<Follower> {
  // The `supervisor/` subscription goes last: its last-value replay arriving proves that the
  // subscriptions before it are active (ZeroMQ handles one connection's subscriptions in order).
  const sub = new BusSubscriber(s.info.publish, { kinds: ['output', 'state', 'supervisor'], agents: [agent] });
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
  const first = await Promise.race([confirmed, timedOut]);
  clearTimeout(timer);
  if (first === 'timeout') {
    sub.close();
    throw new UsageError(`the bus at ${s.info.publish} did not answer within ${CONFIRM_MS}ms`, 1);
  }
  let ring: Results['logs'];
  try {
    ring = await ask(s.client, 'logs', { agent, bytes: ringBytes }, `logs ${agent}`);
  } catch (err) {
    sub.close();
    throw err;
  }
  return {
    ring,
    supervisorGone,
    live(h) {
      handler = (r) => {
        // Output already in the ring (or from before it) is skipped. (A follower ends when the
        // supervisor stops, so every message here is of the run the ring was read from.)
        if (r.msg.kind === 'output' && r.msg.seq <= ring.seq) return;
        h(r);
      };
      for (const r of buffered.splice(0)) handler(r);
    },
    close: () => sub.close(),
  };
}
