/**
 * Lossless exit for node-pty (node-pty #72). On Node, node-pty can lose the last KBs of output
 * when the child exits right after writing: the master sees EIO, or node-pty destroys the socket
 * 200 ms after the exit while data is still unread.
 *
 * We hold the slave side open ourselves (so the master never sees EIO), and when the child exits
 * we write a unique marker into the slave: everything the child wrote is ahead of it in the same
 * queue, so once the marker comes back out of the master, the output is complete. Only then is
 * the socket destroyed, which lets node-pty report the exit.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsc, openSync, writeSync } from 'node:fs';
import type * as pty from 'node-pty';

/** node-pty internals this relies on (pinned node-pty version; covered by regression tests). */
interface PtyInternals {
  _socket: { destroy: (...args: unknown[]) => unknown };
  _pty: string;
  once: (event: string, listener: (...args: unknown[]) => void) => void;
}

const DRAIN_TIMEOUT_MS = 5000;
const RETRY_MS = 10;

export interface DrainSink {
  /** A view of the read buffer, valid only during the call. */
  data(chunk: Buffer): void;
  log(level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>): void;
}

export interface Drain {
  /** Every read of the PTY goes through here (a view valid only during the call). */
  read(data: Buffer): void;
  /** Cleanup for when the PTY is abandoned without a normal exit. */
  stop(): void;
  /** True once node-pty has reaped the child (its exit is then being drained, then reported). */
  childGone(): boolean;
}

/**
 * Takes over the end of `term`'s output: every byte read reaches `sink.data`, in order, including
 * the tail after the child exits.
 */
export function drainLosslessly(term: pty.IPty, sink: DrainSink): Drain {
  const internals = term as unknown as PtyInternals;
  let slaveFd: number | null = null;
  try {
    slaveFd = openSync(internals._pty, fsc.O_RDWR | fsc.O_NOCTTY | fsc.O_NONBLOCK);
  } catch (err) {
    sink.log('warn', 'could not hold the PTY slave open; the output tail may be lost on exit', { err: String(err) });
  }

  const marker = Buffer.from(`\x1b_orchestra-drain-${randomBytes(8).toString('hex')}\x1b\\`);
  let phase: 'running' | 'draining' | 'drained' = 'running';
  let pending: Buffer = Buffer.alloc(0);
  let markerSent = 0;
  let waitedForRoom = false;
  let drainTimer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  const realDestroy = internals._socket.destroy.bind(internals._socket);

  const release = () => {
    phase = 'drained';
    if (drainTimer) clearTimeout(drainTimer);
    if (retryTimer) clearTimeout(retryTimer);
    if (slaveFd !== null) {
      closeSync(slaveFd);
      slaveFd = null;
    }
  };
  const finish = () => {
    if (phase === 'drained') return;
    release();
    realDestroy();
  };
  const flushPending = () => {
    if (pending.length > 0) sink.data(pending);
    pending = Buffer.alloc(0);
  };

  /** Writes (the rest of) the marker into the slave; retried while the slave's queue is full. */
  const pushMarker = () => {
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = undefined;
    if (phase !== 'draining') return;
    if (slaveFd === null) return finish();
    try {
      while (markerSent < marker.length) markerSent += writeSync(slaveFd, marker, markerSent, marker.length - markerSent);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return finish();
      // The reader is behind and the queue is full: each read makes room (see below); the timer
      // covers output stopped by XOFF, until the drain timeout gives up.
      if (!waitedForRoom) sink.log('info', 'drain: PTY queue full at exit; waiting for room to write the marker');
      waitedForRoom = true;
      retryTimer = setTimeout(pushMarker, RETRY_MS);
    }
  };

  // node-pty calls this (after the child exits) to close the socket: wait for the drain instead.
  internals._socket.destroy = () => (phase === 'drained' ? realDestroy() : undefined);
  const originalOnce = internals.once.bind(term);
  internals.once = (event, listener) => {
    // node-pty registers its 'close' listener synchronously in its exit callback: the child is gone.
    if (event === 'close' && phase === 'running') {
      phase = 'draining';
      drainTimer = setTimeout(() => {
        sink.log('warn', 'output drain timed out after exit; closing the PTY');
        flushPending();
        finish();
      }, DRAIN_TIMEOUT_MS);
      pushMarker();
    }
    originalOnce(event, listener);
  };

  const read = (data: Buffer) => {
    if (phase !== 'draining') {
      sink.data(data);
      return;
    }
    if (markerSent < marker.length) pushMarker(); // this read made room in the queue
    // A copy: `data` is the read buffer, reused by the next read.
    pending = Buffer.concat([pending, data]);
    const at = pending.indexOf(marker);
    if (at >= 0) {
      if (at > 0) sink.data(pending.subarray(0, at));
      pending = Buffer.alloc(0);
      finish();
      return;
    }
    // Keep back what could be the start of a split marker.
    const keep = Math.min(pending.length, marker.length - 1);
    if (pending.length > keep) sink.data(pending.subarray(0, pending.length - keep));
    pending = pending.subarray(pending.length - keep);
  };

  return {
    read,
    stop: () => {
      if (phase !== 'drained') release();
    },
    childGone: () => phase !== 'running',
  };
}
