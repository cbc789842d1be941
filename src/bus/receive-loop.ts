/**
 * Receiving on a socket for as long as it is open, on either runtime.
 *
 * Under Deno 2, a zeromq.js socket's pending receive is not always woken when a message arrives
 * (its readiness notifications under Deno's libuv emulation): a request or a subscription could
 * wait until something else woke the loop. There the socket is polled instead: every POLL_MS, read
 * while ZeroMQ says a message is waiting (ZMQ_EVENTS is level-triggered, so nothing is missed).
 */
import type * as zmq from 'zeromq';

const POLL_MS = 20;

export interface ReceiveLoop {
  stop(): void;
}

export function receiveLoop(sock: zmq.Readable & { readonly closed: boolean }, onMessage: (frames: Buffer[]) => void, onError: (err: Error) => void): ReceiveLoop {
  let stopped = false;
  const failed = (err: unknown) => {
    if (!stopped && !sock.closed) onError(err as Error);
  };
  if (!('Deno' in globalThis)) {
    void (async () => {
      try {
        for await (const frames of sock) onMessage(frames);
      } catch (err) {
        failed(err);
      }
    })();
    return { stop: () => void (stopped = true) };
  }
  let reading = false;
  const timer = setInterval(() => {
    if (reading) return;
    reading = true;
    void (async () => {
      try {
        while (!stopped && !sock.closed && (sock as unknown as { readable: boolean }).readable) onMessage(await sock.receive());
      } catch (err) {
        failed(err);
      } finally {
        reading = false;
      }
    })();
  }, POLL_MS);
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
