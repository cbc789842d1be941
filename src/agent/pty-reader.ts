/**
 * Spawns a PTY with node-pty, but reads it into one reused buffer.
 *
 * node-pty reads its PTY through a `tty.ReadStream`. For every read (at most ~4 KiB from a PTY)
 * the stream allocates a buffer and runs its machinery: push, emit, a nextTick. net.Socket's
 * `onread` option reads into one caller-owned buffer and calls back directly instead. node-pty
 * does not pass options through, so `tty.ReadStream` is swapped for the duration of the
 * (synchronous) spawn, in this thread only: each worker has its own module instances.
 *
 * Measured reading 128 MiB with node-pty on the main thread (bench/pty-throughput's writer): 4.4–5.0
 * CPU ms per MB instead of 5.5–6.3. Works the same under Deno 2.
 *
 * `onRead` gets a view of the read buffer. It is only valid during the call: copy what you keep.
 */
import { createRequire } from 'node:module';
import type { OnReadOpts, Socket, SocketConstructorOpts as BaseOpts } from 'node:net';
import type * as pty from 'node-pty';

const require = createRequire(import.meta.url);
/** The module object node-pty itself gets from `require('tty')`. */
const tty = require('node:tty') as typeof import('node:tty');
const nodePty = require('node-pty') as typeof pty;

type SocketConstructorOpts = BaseOpts & { onread: OnReadOpts };

/** Larger than any single PTY read. */
const READ_BUFFER = 64 * 1024;

export function spawnPty(file: string, args: readonly string[], options: pty.IPtyForkOptions, onRead: (view: Buffer) => void): pty.IPty {
  const buffer = Buffer.allocUnsafe(READ_BUFFER);
  const Original = tty.ReadStream;
  class BufferedReadStream extends Original {
    constructor(fd: number) {
      // `onread` is a net.Socket constructor option since Node 12.1; @types/node lists it for connect only.
      super(fd, {
        onread: {
          buffer,
          callback: (n: number) => {
            onRead(buffer.subarray(0, n));
            return true; // keep reading
          },
        },
      } as SocketConstructorOpts);
    }
  }
  tty.ReadStream = BufferedReadStream;
  let term: pty.IPty;
  try {
    term = nodePty.spawn(file, [...args], options);
  } finally {
    tty.ReadStream = Original;
  }
  // With onread nothing listens for 'data': start reading explicitly.
  (term as unknown as { _socket: Socket })._socket.resume();
  return term;
}
