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

const packr = new Packr({ useRecords: false, moreTypes: false });
const inputResult = { id: 'x', outcome: 'delivered' as const, reason: 'ok' };

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
    down: () => note('down', { stopped: [] }),
    events: () => note('events', { events: [] }),
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
