/**
 * The control socket's per-client bounds against the real supervisor: a local script that sends
 * requests and never reads the replies must not be able to grow `orchestra up` until it is
 * OOM-killed (before the bounds: ~1.1 MiB of RSS per 1 MiB `logs` request, without limit).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { afterEach, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import type { Reply } from '../../src/bus/control-protocol.js';
import { type Crew, eventually, FIX, runCli, startCrew, until } from './harness.js';

const packr = new Packr({ useRecords: false, moreTypes: false });
const MIB = 1024 * 1024;
const REQUESTS = 5000;
/**
 * The stated bound on the supervisor's RSS growth while one client leaves 5000 `logs` replies of
 * 1 MiB unread (docs/control.md). What the bounds keep alive for the client: 8 replies in
 * ZeroMQ's queue, 8 MiB in orchestra's, 16 requests in flight: 32 MiB. On top of that come the
 * copies each `logs` reply leaves behind (the agent's worker copies the ring out, the main thread
 * receives a copy and encodes it) until the garbage collector runs, which V8 does once about
 * 64 MiB of such memory has built up, in each of the two threads. Without the bounds, the growth
 * is ~1.1 MiB per request: this bound is passed after ~230 of them.
 */
const RSS_GROWTH_LIMIT = 256 * MIB;
const DROPPED = 'control client dropped: it did not read its replies; its requests are not run until it reads again';

/** VmRSS of a running process, 0 once it is gone. */
function rss(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

function logRecords(crew: Crew): Record<string, unknown>[] {
  return readFileSync(join(crew.stateDir, 'orchestra.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

let crew: Crew | undefined;
afterEach(async () => {
  await crew?.stop('SIGKILL');
  crew = undefined;
});

it('a control client that never reads its replies does not grow the supervisor (5000 logs requests of 1 MiB unread)', async () => {
  // 20000 lines of 77 bytes: 1.5 MB of output, all of it in a 2 MiB ring.
  crew = startCrew(`  c:\n    command: node\n    args: [${join(FIX, 'chatty.mjs')}, "20000"]\n    idle_after: 300ms\n    log: { ring: 2MiB }\n`);
  let text = '';
  await until(crew.bus, (r) => r.msg.kind === 'output' && r.msg.agent === 'c' && /DONE/.test((text = (text + Buffer.from(r.msg.data).toString()).slice(-100))), 30_000);
  const pid = crew.proc.pid;
  if (pid === undefined) throw new Error('orchestra up has no pid');
  const base = rss(pid);
  let peak = base;
  const current = crew;
  // Sampling, not synchronisation: the peak is a property of the whole run. Past the bound the
  // supervisor is killed at once, so that a regression fails the test instead of the machine.
  const sampler = setInterval(() => {
    peak = Math.max(peak, rss(pid));
    if (peak - base > RSS_GROWTH_LIMIT) {
      clearInterval(sampler);
      current.signal('SIGKILL');
    }
  }, 20);
  const growth = () => `the supervisor's RSS grew by ${((peak - base) / MIB).toFixed(1)} MiB (from ${(base / MIB).toFixed(1)} MiB; bound ${RSS_GROWTH_LIMIT / MIB} MiB)`;

  // A receive high-water mark of 1 keeps the unread replies out of this test process.
  const stuck = new zmq.Dealer({ linger: 0, receiveHighWaterMark: 1, sendTimeout: 20_000, receiveTimeout: 20_000 });
  stuck.connect(`ipc://${join(crew.stateDir, 'control.sock')}`);
  try {
    try {
      for (let id = 0; id < REQUESTS && peak - base <= RSS_GROWTH_LIMIT; id++) await stuck.send(packr.pack({ id, cmd: 'logs', args: { agent: 'c', bytes: MIB } }));
    } catch (err) {
      throw new Error(`${growth()}; sending failed: ${(err as Error).message}`);
    }
    const droppedLogged = () => logRecords(current).some((r) => r.msg === DROPPED);
    await eventually(() => peak - base > RSS_GROWTH_LIMIT || droppedLogged(), 30_000, 'the drop in orchestra.log');
    expect(peak - base, growth()).toBeLessThan(RSS_GROWTH_LIMIT);
    console.log(`before reading: ${growth()}`);
    // Other clients are served meanwhile.
    expect(await runCli(['ps', '--file', current.file])).toMatchObject({ code: 0, stdout: expect.stringMatching(/\bc\b/) });

    // Now read (one reply at a time, slowly enough to be dropped again while requests still
    // arrive): every request is accounted for, by a reply or in a notice's counts, and the client
    // is served again.
    const answered = new Set<unknown>();
    let droppedReplies = 0;
    let notRun = 0;
    const accounted = () => `${answered.size} answered, ${droppedReplies} replies dropped, ${notRun} requests not run, of ${REQUESTS}`;
    while (answered.size + droppedReplies + notRun < REQUESTS) {
      const frames = await stuck.receive().catch((err: Error) => {
        throw new Error(`reading the replies: ${err.message} (${accounted()})`);
      });
      const reply = packr.unpack(frames[frames.length - 1] ?? Buffer.alloc(0)) as Reply;
      const counts = reply.id === null && !reply.ok ? /^(\d+) replies to this connection were dropped and (\d+) of its requests were not run/.exec(reply.error.message) : null;
      if (counts) {
        droppedReplies += Number(counts[1]);
        notRun += Number(counts[2]);
      } else {
        expect(answered.has(reply.id), `one reply per request (${String(reply.id)})`).toBe(false);
        answered.add(reply.id);
      }
    }
    expect(answered.size + droppedReplies + notRun).toBe(REQUESTS);
    expect(notRun).toBeGreaterThan(REQUESTS / 2);
    await stuck.send(packr.pack({ id: 'last', cmd: 'ps' }));
    const last = await stuck.receive().catch((err: Error) => {
      throw new Error(`the reply to a request after all were accounted for: ${err.message}`);
    });
    expect(packr.unpack(last[last.length - 1] ?? Buffer.alloc(0))).toMatchObject({ id: 'last', ok: true });
  } finally {
    clearInterval(sampler);
    stuck.close();
  }
  const dropped = logRecords(crew).filter((r) => r.msg === DROPPED);
  expect(dropped.length).toBeGreaterThanOrEqual(1);
  expect(dropped[0]).toMatchObject({ level: 40, kind: 'dropped', client: expect.stringMatching(/^[0-9a-f]+$/) });
  console.log(`${growth()}, over ${REQUESTS} unread 1 MiB logs requests`);
  expect(peak - base, growth()).toBeLessThan(RSS_GROWTH_LIMIT);
  expect(await crew.stop()).toEqual({ code: 0, signal: null });
}, 120_000);
