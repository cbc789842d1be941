/**
 * The control socket: a ZeroMQ ROUTER the supervisor answers requests on (see control-protocol.ts).
 * Whatever arrives — wrong frame counts, bytes that are not msgpack, strings that are not UTF-8,
 * unknown commands, wrong argument types, oversized payloads — gets an error reply in a shape the
 * sender's socket accepts (control-frames.ts); nothing a client sends can stop it, and a client
 * that does not read its replies cannot make it grow (control-clients.ts).
 */
import * as zmq from 'zeromq';
import type { z } from 'zod';
import { type ReceiveLoop, receiveLoop } from './receive-loop.js';
import { pack, packr } from './msgpack.js';
import { CLIENT_LIMITS, type ClientEvent, ControlClients, type SendOutcome } from './control-clients.js';
import { splitFrames } from './control-frames.js';
import { findInvalidUtf8 } from './control-utf8.js';
import { type Args, type Command, ControlError, type ErrorCode, MAX_FRAME_BYTES, MAX_REQUEST_BYTES, type Reply, REQUESTS, type Results } from './control-protocol.js';

export type Handlers = { readonly [C in Command]: (args: Args<C>) => Promise<Results[C]> | Results[C] };

/** Encodes a reply; what cannot be encoded becomes an `internal` error reply. */
export function encodeReply(reply: Reply): Buffer {
  try {
    return pack(reply);
  } catch (err) {
    return pack({ id: null, ok: false, error: { code: 'internal', message: `reply could not be encoded: ${(err as Error).message}` } });
  }
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 5)
    .map((i) => `args${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${i.message}`)
    .join('; ');
}

const fail = (id: unknown, code: ErrorCode, message: string): Reply => ({ id, ok: false, error: { code, message } });

/**
 * Decodes and validates one request payload and runs its handler. Pure apart from the handler:
 * the socket loop and the property tests both use it.
 */
export async function handleRequest(payload: Uint8Array, handlers: Handlers, onInternal?: (err: Error, cmd: string) => void): Promise<Reply> {
  if (payload.length > MAX_REQUEST_BYTES) return fail(null, 'too-large', `request is ${payload.length} bytes; the limit is ${MAX_REQUEST_BYTES}`);
  let req: unknown;
  try {
    req = packr.unpack(payload);
  } catch (err) {
    return fail(null, 'bad-request', `the request is not valid msgpack (${(err as Error).message})`);
  }
  if (typeof req !== 'object' || req === null || Object.getPrototypeOf(req) !== Object.prototype) {
    return fail(null, 'bad-request', 'expected a msgpack map {id, cmd, args}');
  }
  const { id = null, cmd, args = {} } = req as { id?: unknown; cmd?: unknown; args?: unknown };
  // The decoder replaced invalid UTF-8 with U+FFFD: text typed into an agent must be what was sent.
  const notUtf8 = findInvalidUtf8(payload);
  if (notUtf8 !== undefined) {
    const where = typeof cmd === 'string' && Object.hasOwn(REQUESTS, cmd) && notUtf8 !== 'cmd' ? `${cmd}: ` : '';
    return fail(/^id\b/.test(notUtf8) ? null : id, 'bad-request', `${where}${notUtf8}: a string that is not valid UTF-8 (msgpack strings must be UTF-8; send raw bytes as bin)`);
  }
  if (typeof cmd !== 'string') return fail(id, 'bad-request', 'expected cmd: a command name (string)');
  if (!Object.hasOwn(REQUESTS, cmd)) return fail(id, 'unknown-command', `unknown command "${cmd.slice(0, 64)}" (commands: ${Object.keys(REQUESTS).join(', ')})`);
  const parsed = REQUESTS[cmd as Command].safeParse(args);
  if (!parsed.success) return fail(id, 'bad-request', `${cmd}: ${describeIssues(parsed.error.issues)}`);
  try {
    const handler = handlers[cmd as Command] as (a: unknown) => Promise<unknown>;
    const result = await handler(parsed.data);
    return { id, ok: true, result } as Reply;
  } catch (err) {
    if (err instanceof ControlError) return fail(id, err.code, err.message);
    onInternal?.(err as Error, cmd);
    return fail(id, 'internal', `${cmd} failed: ${(err as Error).message}`);
  }
}

/** The request's id, for a reply to a request that is not run (null when there is none to read). */
function requestId(payload: Uint8Array): unknown {
  // Not decoded past the request size limit just to read its id.
  if (payload.length > MAX_REQUEST_BYTES) return null;
  try {
    const req: unknown = packr.unpack(payload);
    return typeof req === 'object' && req !== null && 'id' in req ? req.id : null;
  } catch {
    return null;
  }
}

const MIB = 1024 * 1024;

export class ControlServer {
  private readonly sock: zmq.Router;
  private sendChain: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly inflight = new Set<Promise<void>>();
  private receiving: ReceiveLoop | undefined;
  private readonly clients: ControlClients;

  constructor(
    private readonly endpoint: string,
    private readonly handlers: Handlers,
    private readonly onInternal?: (err: Error, cmd: string) => void,
    /** A client dropped for not reading its replies, or back to reading them. */
    onClient?: (event: ClientEvent) => void,
  ) {
    // Frames beyond MAX_FRAME_BYTES make ZeroMQ disconnect the sender instead of buffering them.
    // Mandatory mode with a zero send timeout: a send to a peer whose queue is full (high-water
    // mark) fails at once with EAGAIN, one that went away with EHOSTUNREACH; neither blocks the
    // other clients, and the full one is bounded in ControlClients.
    this.sock = new zmq.Router({ mandatory: true, sendTimeout: 0, maxMessageSize: MAX_FRAME_BYTES, linger: 200, sendHighWaterMark: CLIENT_LIMITS.pipe });
    this.clients = new ControlClients(
      (frames) => this.trySend(frames),
      (task) => {
        this.sendChain = this.sendChain.then(task).catch((err: unknown) => this.onInternal?.(err as Error, 'reply'));
      },
      (dropped, skipped) =>
        encodeReply(fail(null, 'overloaded', `${dropped} replies to this connection were dropped and ${skipped} of its requests were not run, because it did not read its replies (at most ${CLIENT_LIMITS.pipe + CLIENT_LIMITS.queued} replies or ${CLIENT_LIMITS.queuedBytes / MIB} MiB may wait unread)`)),
      (event) => onClient?.(event),
    );
  }

  async bind(): Promise<void> {
    await this.sock.bind(this.endpoint);
    this.receiving = receiveLoop(this.sock, (frames) => this.serve(frames), (err) => this.onInternal?.(err, 'receive'));
  }

  get boundEndpoint(): string {
    return this.sock.lastEndpoint ?? this.endpoint;
  }

  private serve(frames: Buffer[]): void {
    const framed = splitFrames(frames);
    if (!framed) return;
    const { head, body } = framed;
    const admission = this.clients.admit(head);
    if (admission === 'skip') return;
    const [payload] = body;
    if (admission === 'overloaded') {
      const id = body.length === 1 && payload ? requestId(payload) : null;
      const message = `this connection already has ${CLIENT_LIMITS.inflight} requests being answered; wait for their replies before sending more`;
      this.clients.deliver([...head, encodeReply(fail(id, 'overloaded', message))]);
      return;
    }
    const answered = body.length === 1 && payload ? handleRequest(payload, this.handlers, this.onInternal) : Promise.resolve(fail(null, 'bad-request', `expected exactly one frame with the msgpack request${head.length > 1 ? ' after the empty delimiter frame' : ''}, got ${body.length}`));
    const p = answered.then((reply) => this.clients.finished([...head, encodeReply(reply)])).finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  private async trySend(frames: readonly Buffer[]): Promise<SendOutcome> {
    if (this.closed) return 'gone';
    try {
      await this.sock.send([...frames]);
      return 'sent';
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') return 'full';
      if (code !== 'EHOSTUNREACH' && !this.closed) this.onInternal?.(err as Error, 'reply');
      return 'gone';
    }
  }

  /** Lets requests in progress answer (at most `graceMs`), sends the replies, then closes. */
  async close(graceMs = 2000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.inflight), new Promise((res) => (timer = setTimeout(res, graceMs)))]);
    clearTimeout(timer);
    await this.sendChain;
    this.closed = true;
    this.clients.close();
    this.receiving?.stop();
    this.sock.close();
  }
}
