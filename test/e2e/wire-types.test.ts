/**
 * What a typed decoder in another language sees: the raw msgpack bytes of real bus messages and of
 * a real `ps` reply, read with plain ZeroMQ sockets (no orchestra decoding in between).
 */
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { afterEach, expect, it } from 'vitest';
import { findSession } from '../../src/client.js';
import { type Crew, FIX, startCrew, until } from './harness.js';

let crew: Crew | undefined;
const socks: zmq.Socket[] = [];
afterEach(async () => {
  for (const s of socks.splice(0)) s.close();
  await crew?.stop('SIGKILL');
  crew = undefined;
});

/** The msgpack type byte of the value of `key` (a fixstr key) in an encoded map. */
function typeByteOf(bytes: Buffer, key: string): number {
  const at = bytes.indexOf(Buffer.concat([Buffer.from([0xa0 | key.length]), Buffer.from(key)]));
  if (at < 0) throw new Error(`no key ${key} in ${bytes.subarray(0, 80).toString('hex')}`);
  return bytes[at + 1 + key.length] ?? -1;
}
const INT64 = [0xcf, 0xd3];

it('regression: ts, output offset and ps times were float64 (0xcb) on the wire; they are msgpack int64', async () => {
  crew = startCrew(`  t:\n    command: node\n    args: [${join(FIX, 'ticker.mjs')}, "20"]\n    idle_after: 100ms\n`);
  // Output is flowing (and so a state was published) before the raw subscriber connects.
  await until(crew.bus, (r) => r.msg.kind === 'output').catch((e: Error) => {
    throw new Error(`${e.message}\nstderr: ${crew?.stderr()}`);
  });
  const sub = new zmq.Subscriber({ linger: 0 });
  socks.push(sub);
  sub.connect(crew.endpoint);
  sub.subscribe('output/t/');
  sub.subscribe('state/t/');
  const seen = new Map<string, Buffer>();
  while (seen.size < 2) {
    const [topic, payload] = await sub.receive();
    if (topic && payload) seen.set(topic.toString().split('/')[0] ?? '', payload);
  }
  // The state message (encoded on the main thread) and an output message (encoded in the worker).
  for (const [kind, payload] of seen) expect(INT64, `${kind} ts`).toContain(typeByteOf(payload, 'ts'));
  const output = seen.get('output');
  if (!output) throw new Error('no output message');
  expect(typeByteOf(output, 'offset')).not.toBe(0xcb);

  const session = findSession(crew.file);
  if (!session) throw new Error('no session');
  const dealer = new zmq.Dealer({ linger: 0 });
  socks.push(dealer);
  dealer.connect(session.control);
  // A hand-made request: fixmap {id: 1, cmd: "ps", args: {}}.
  await dealer.send(Buffer.from([0x83, 0xa2, 0x69, 0x64, 0x01, 0xa3, 0x63, 0x6d, 0x64, 0xa2, 0x70, 0x73, 0xa4, 0x61, 0x72, 0x67, 0x73, 0x80]));
  const [reply] = await dealer.receive();
  if (!reply) throw new Error('no reply');
  expect(INT64, 'startedAt').toContain(typeByteOf(reply, 'startedAt'));
  expect(INT64, 'lastOutputAt').toContain(typeByteOf(reply, 'lastOutputAt'));
});
