/**
 * The control socket: a ZeroMQ ROUTER the supervisor answers requests on (see control-protocol.ts).
 * Whatever arrives — wrong frame counts, bytes that are not msgpack, unknown commands, wrong
 * argument types, oversized payloads — gets an error reply; nothing a client sends can stop it.
 */
import { Packr } from 'msgpackr';
import * as zmq from 'zeromq';
import type { z } from 'zod';
import { type ReceiveLoop, receiveLoop } from './receive-loop.js';
import { type Args, type Command, ControlError, type ErrorCode, MAX_FRAME_BYTES, MAX_REQUEST_BYTES, type Reply, REQUESTS, type Results } from './control-protocol.js';

export type Handlers = { readonly [C in Command]: (args: Args<C>) => Promise<Results[C]> | Results[C] };

const packr = new Packr({ useRecords: false, moreTypes: false });

/** Encodes a reply; what cannot be encoded becomes an `internal` error reply. */
export function encodeReply(reply: Reply): Buffer {
  try {
    return packr.pack(reply);
  } catch (err) {
    return packr.pack({ id: null, ok: false, error: { code: 'internal', message: `reply could not be encoded: ${(err as Error).message}` } });
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

export class ControlServer {
  private readonly sock: zmq.Router;
  private sendChain: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly inflight = new Set<Promise<void>>();
  private receiving: ReceiveLoop | undefined;

  constructor(
    private readonly endpoint: string,
    private readonly handlers: Handlers,
    private readonly onInternal?: (err: Error, cmd: string) => void,
  ) {
    // Replies to clients that went away are dropped (mandatory off); frames beyond MAX_FRAME_BYTES
    // make ZeroMQ disconnect the sender instead of buffering them.
    this.sock = new zmq.Router({ mandatory: false, maxMessageSize: MAX_FRAME_BYTES, linger: 200, sendHighWaterMark: 10_000 });
  }

  async bind(): Promise<void> {
    await this.sock.bind(this.endpoint);
    this.receiving = receiveLoop(this.sock, (frames) => this.track(frames), (err) => this.onInternal?.(err, 'receive'));
  }

  get boundEndpoint(): string {
    return this.sock.lastEndpoint ?? this.endpoint;
  }

  private track(frames: Buffer[]): void {
    const p = this.serve(frames).finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  private async serve(frames: Buffer[]): Promise<void> {
    const [identity, ...rest] = frames;
    if (!identity) return;
    // DEALER clients send [payload]; REQ clients send ["", payload] and expect the delimiter back.
    const delimited = rest.length === 2 && rest[0]!.length === 0;
    const payload = delimited ? rest[1]! : rest.length === 1 ? rest[0]! : undefined;
    const reply = payload ? await handleRequest(payload, this.handlers, this.onInternal) : fail(null, 'bad-request', `expected one frame with the msgpack request, got ${rest.length}`);
    this.reply(delimited ? [identity, Buffer.alloc(0), encodeReply(reply)] : [identity, encodeReply(reply)]);
  }

  // One send at a time: zeromq.js refuses a send while another is in progress.
  private reply(frames: Buffer[]): void {
    this.sendChain = this.sendChain.then(async () => {
      if (this.closed) return;
      try {
        await this.sock.send(frames);
      } catch (err) {
        if (!this.closed) this.onInternal?.(err as Error, 'reply');
      }
    });
  }

  /** Lets requests in progress answer (at most `graceMs`), sends the replies, then closes. */
  async close(graceMs = 2000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.inflight), new Promise((res) => (timer = setTimeout(res, graceMs)))]);
    clearTimeout(timer);
    await this.sendChain;
    this.closed = true;
    this.receiving?.stop();
    this.sock.close();
  }
}
