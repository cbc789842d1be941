import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { ControlClient } from '../../src/bus/control-client.js';
import { MAX_REQUEST_BYTES, type Reply } from '../../src/bus/control-protocol.js';
import { anyPayload, checkReply } from './control-arbitraries.js';
import { ControlServer, type Handlers, handleRequest } from '../../src/bus/control.js';
import { findInvalidUtf8 } from '../../src/bus/control-utf8.js';

const packr = new Packr({ useRecords: false, moreTypes: false });
const inputResult = { id: 'x', outcome: 'delivered' as const, reason: 'ok' };

/** `req` packed, with the string `mark` (ASCII, as fixstr) replaced by `raw` bytes as a str. */
function withRawString(req: unknown, mark: string, raw: number[]): Buffer {
  const packed = packr.pack(req);
  const at = packed.indexOf(Buffer.from([0xa0 | mark.length, ...Buffer.from(mark)]));
  expect(at).toBeGreaterThanOrEqual(0);
  return Buffer.concat([packed.subarray(0, at), Buffer.from([0xa0 | raw.length, ...raw]), packed.subarray(at + 1 + mark.length)]);
}

function fakeHandlers(calls: string[]): Handlers {
  const note = <T>(cmd: string, v: T) => {
    calls.push(cmd);
    return v;
  };
  return {
    ps: () => note('ps', { session: 's', pid: 1, run: 'r', agents: [] }),
    send: () => note('send', inputResult),
    interrupt: () => note('interrupt', inputResult),
    escape: () => note('escape', inputResult),
    input: () => note('input', { written: true }),
    resize: (a) => note('resize', { cols: a.cols, rows: a.rows }),
    logs: () => note('logs', { data: new Uint8Array(0), seq: 0, total: 0, cols: 80, rows: 24 }),
    stop: () => note('stop', { state: 'stopped' as const }),
    start: () => note('start', { state: 'starting' as const }),
    restart: () => note('restart', { state: 'starting' as const }),
    spawn: (a) => note('spawn', { name: a.name ?? 'x', worktree: null }),
    down: () => note('down', { stopped: [] }),
    events: () => note('events', { events: [] }),
    attach: (a) => note('attach', { attach: 'a1', screen: '', seq: 0, tail: new Uint8Array(0), cols: a.cols, rows: a.rows, state: 'ready' as const, lease_ms: 15_000 }),
    detach: () => note('detach', { detached: true }),
    keepalive: () => note('keepalive', { attached: true }),
    reload: () => note('reload', { actions: [], failed: [], not_applied: [] }),
    screen: () => note('screen', { text: '', seq: 0, cols: 80, rows: 24 }),
    'task.add': () => note('task.add', { id: 't1', outcome: 'queued' as const, position: 1 }),
    'task.list': () => note('task.list', { active: [], queued: [], recent: [], counts: { invocations: 0, successes: 0, failures: 0, meanDurationMs: null }, paused: [] }),
    'task.cancel': (a) => note('task.cancel', { id: a.id, cancelled: false as const, reason: 'none' }),
    'session.get': (a) => note('session.get', { agent: a.id, template: 't', started: true, state: 'ready' as const, conversation: null, prompt: null }),
  };
}

describe('control requests', () => {
  it('every payload, however malformed, gets a well-formed reply and never throws (property)', async () => {
    await fc.assert(
      fc.asyncProperty(anyPayload(), async (payload) => {
        checkReply(await handleRequest(payload, fakeHandlers([])));
      }),
      { numRuns: 2000 },
    );
  });

  it('names what is wrong: unknown command, wrong argument types, unknown keys, too large, not msgpack', async () => {
    const h = fakeHandlers([]);
    const ask = (req: unknown) => handleRequest(packr.pack(req), h);
    expect(await ask({ id: 1, cmd: 'fly', args: {} })).toEqual({ id: 1, ok: false, error: { code: 'unknown-command', message: expect.stringMatching(/^unknown command "fly" \(commands: ps, send, /) } });
    expect(await ask({ id: 2, cmd: 'send', args: { agent: 'a', text: 5 } })).toEqual({
      id: 2,
      ok: false,
      error: { code: 'bad-request', message: 'send: args.text: expected args.text: the text to type (string)' },
    });
    expect(await ask({ id: 3, cmd: 'ps', args: { extra: 1 } })).toMatchObject({ ok: false, error: { code: 'bad-request', message: expect.stringMatching(/^ps: args: Unrecognized key: "extra"/) } });
    expect(await handleRequest(new Uint8Array(MAX_REQUEST_BYTES + 1), h)).toMatchObject({ ok: false, error: { code: 'too-large' } });
    expect(await handleRequest(Buffer.from([0x92, 0x01]), h)).toMatchObject({ ok: false, error: { code: 'bad-request', message: expect.stringMatching(/not valid msgpack/) } });
    expect(await handleRequest(Buffer.from([0xc1]), h)).toMatchObject({ ok: false, error: { code: 'bad-request', message: 'expected a msgpack map {id, cmd, args}' } });
    expect(await handleRequest(packr.pack([1, 2]), h)).toMatchObject({ ok: false, error: { code: 'bad-request', message: 'expected a msgpack map {id, cmd, args}' } });
    expect(await ask({ id: 4, cmd: 'send', args: { agent: 'a', text: 'hi' } })).toEqual({ id: 4, ok: true, result: inputResult });
  });

  it('invalid UTF-8 in a string field (send text ff fe fd) is a bad-request naming the field, not three U+FFFD typed', async () => {
    const calls: string[] = [];
    const h = fakeHandlers(calls);
    const bad = withRawString({ id: 7, cmd: 'send', args: { agent: 'a', text: 'QQQ' } }, 'QQQ', [0xff, 0xfe, 0xfd]);
    expect(await handleRequest(bad, h)).toEqual({
      id: 7,
      ok: false,
      error: { code: 'bad-request', message: 'send: args.text: a string that is not valid UTF-8 (msgpack strings must be UTF-8; send raw bytes as bin)' },
    });
    // Other places: a truncated sequence in the agent name, a lone surrogate (ED A0 80) in a key, the id itself.
    expect(await handleRequest(withRawString({ id: 1, cmd: 'logs', args: { agent: 'QQ' } }, 'QQ', [0x61, 0xc3]), h)).toMatchObject({ id: 1, error: { message: expect.stringMatching(/^logs: args\.agent: a string that is not valid UTF-8/) } });
    expect(await handleRequest(withRawString({ id: 1, cmd: 'ps', args: { QQQ: 1 } }, 'QQQ', [0xed, 0xa0, 0x80]), h)).toMatchObject({ id: 1, error: { message: expect.stringMatching(/^ps: args \(a key\): /) } });
    expect(await handleRequest(withRawString({ id: 'QQ', cmd: 'ps' }, 'QQ', [0xc0, 0x80]), h)).toMatchObject({ id: null, error: { code: 'bad-request', message: expect.stringMatching(/^ps: id: /) } });
    expect(calls).toEqual([]);
    // A real U+FFFD (EF BF BD) is valid UTF-8 and is typed as sent.
    expect(await handleRequest(packr.pack({ id: 8, cmd: 'send', args: { agent: 'a', text: '\uFFFD ok' } }), h)).toMatchObject({ id: 8, ok: true });
    expect(calls).toEqual(['send']);
  });

  it('the UTF-8 check accepts everything the encoder writes, of every msgpack type (property)', () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: false, withDate: true, withTypedArray: true, withNullPrototype: false, maxDepth: 4 }), fc.string({ unit: 'binary', maxLength: 300 }), (v, long) => {
        let packed: Buffer;
        try {
          packed = packr.pack({ v, long, list: [long, { [long]: long }] });
        } catch {
          return;
        }
        expect(findInvalidUtf8(packed)).toBeUndefined();
      }),
      { numRuns: 1000 },
    );
  });

  it('the UTF-8 check finds an invalid string at any depth and names its path (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 5 }), fc.nat(4), (before, depth) => {
        let value: unknown = 'QQQ';
        let path = '';
        for (let i = 0; i < depth; i++) {
          value = i % 2 === 0 ? [...before, value] : { k: value };
          path = i % 2 === 0 ? `[${before.length}]${path}` : `.k${path}`;
        }
        expect(findInvalidUtf8(withRawString({ args: value }, 'QQQ', [0xe2, 0x82, 0x28]))).toBe(`args${path}`);
      }),
      { numRuns: 300 },
    );
  });

  describe('over a real socket', () => {
    let server: ControlServer;
    const calls: string[] = [];
    let endpoint: string;
    beforeAll(async () => {
      endpoint = `ipc://${join(mkdtempSync('/tmp/orch-ctl-'), 'control.sock')}`;
      server = new ControlServer(endpoint, fakeHandlers(calls));
      await server.bind();
    });
    afterAll(async () => {
      await server.close();
    });

    it('answers random frames (any count, any bytes) one reply each, and keeps serving (property)', async () => {
      const dealer = new zmq.Dealer({ linger: 0 });
      dealer.connect(endpoint);
      try {
        await fc.assert(
          fc.asyncProperty(fc.array(fc.oneof(anyPayload(), fc.constant(new Uint8Array(0))), { minLength: 1, maxLength: 3 }), async (frames) => {
            await dealer.send(frames.map((f) => Buffer.from(f)));
            const reply = await dealer.receive();
            checkReply(packr.unpack(reply[reply.length - 1]!) as Reply);
          }),
          { numRuns: 500 },
        );
      } finally {
        dealer.close();
      }
      const client = new ControlClient(endpoint);
      expect(await client.request('ps', {})).toMatchObject({ session: 's' });
      await client.close();
    });

    it('a REQ client that sends a multi-frame or empty request gets its bad-request reply (not dropped for a missing delimiter)', async () => {
      for (const frames of [[Buffer.from('a'), Buffer.from('b')], [Buffer.alloc(0), packr.pack({ id: 1, cmd: 'ps' })], [Buffer.alloc(0)], [packr.pack({ id: 1, cmd: 'ps' }), Buffer.alloc(0), Buffer.from('x')]]) {
        const req = new zmq.Request({ linger: 0, receiveTimeout: 5000 });
        req.connect(endpoint);
        try {
          await req.send(frames);
          const reply = await req.receive();
          expect(reply).toHaveLength(1);
          expect(packr.unpack(reply[0] ?? Buffer.alloc(0))).toMatchObject({ ok: false, error: { code: 'bad-request' } });
        } finally {
          req.close();
        }
      }
    });

    it('random frames from a REQ client (any count, any bytes) each get a reply the REQ accepts (property)', async () => {
      const req = new zmq.Request({ linger: 0, receiveTimeout: 5000 });
      req.connect(endpoint);
      try {
        await fc.assert(
          fc.asyncProperty(fc.array(fc.oneof(anyPayload(), fc.constant(new Uint8Array(0))), { minLength: 1, maxLength: 4 }), async (frames) => {
            await req.send(frames.map((f) => Buffer.from(f)));
            const reply = await req.receive();
            expect(reply).toHaveLength(1);
            checkReply(packr.unpack(reply[0] ?? Buffer.alloc(0)) as Reply);
          }),
          { numRuns: 300 },
        );
      } finally {
        req.close();
      }
    });

    it('a DEALER gets back the envelope it sent: one frame alone, or the empty delimiter and what came before it', async () => {
      const dealer = new zmq.Dealer({ linger: 0, receiveTimeout: 5000 });
      dealer.connect(endpoint);
      try {
        const ps = packr.pack({ id: 'd', cmd: 'ps' });
        await dealer.send(ps);
        expect((await dealer.receive()).map((f) => f.length > 0)).toEqual([true]);
        await dealer.send([Buffer.alloc(0), ps]);
        const delimited = await dealer.receive();
        expect(delimited[0]).toEqual(Buffer.alloc(0));
        expect(packr.unpack(delimited[1] ?? Buffer.alloc(0))).toMatchObject({ id: 'd', ok: true });
        await dealer.send([Buffer.from('hop'), Buffer.alloc(0), ps]);
        expect((await dealer.receive()).slice(0, 2)).toEqual([Buffer.from('hop'), Buffer.alloc(0)]);
        await dealer.send([ps, Buffer.alloc(0)]);
        const two = await dealer.receive();
        expect(two).toHaveLength(1);
        expect(packr.unpack(two[0] ?? Buffer.alloc(0))).toMatchObject({ ok: false, error: { code: 'bad-request', message: 'expected exactly one frame with the msgpack request, got 2' } });
      } finally {
        dealer.close();
      }
    });

    it('answers a REQ client too (delimiter frame echoed)', async () => {
      const req = new zmq.Request({ linger: 0 });
      req.connect(endpoint);
      await req.send(packr.pack({ id: 'r', cmd: 'ps', args: {} }));
      const [reply] = await req.receive();
      expect(packr.unpack(reply!)).toMatchObject({ id: 'r', ok: true });
      req.close();
    });
  });
});
