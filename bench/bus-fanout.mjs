// bench/bus-fanout: what the bus delivers to 1, 10 and 50 subscribers (all in one helper process,
// one SUB socket each), against raw ZeroMQ (an XPUB in this process sending msgpackr messages of
// the same shape as fast as it can) in the same run.
//   events: sidecar events from one agent (socket → worker → supervisor → bus), events/s per subscriber
//   output: PTY output of one agent, MB/s per subscriber (the raw side sends 32 KiB messages)
// Figures are measured at the subscribers, from the first message to the last; `ratio` is
// orchestra ÷ raw of the aggregate delivered rate.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import * as zmq from 'zeromq';
import { ROOT, startOrchestra } from './_lib.mjs';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 50_000);
const LINES = Number(process.env.BENCH_LINES ?? 160_000); // ~16 MiB of PTY output
const SUBS = (process.env.BENCH_SUBS ?? '1,10,50').split(',').map(Number);
const LINE = 'bus fanout line 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 abc';
const PTY_BYTES = LINES * (LINE.length + 2); // the PTY turns \n into \r\n
const packr = new Packr({ useRecords: false, moreTypes: false });

function subscribers(n, endpoint, prefix, confirm, target, unit) {
  const p = spawn(process.execPath, [join(ROOT, 'bench/_fanout-subscribers.mjs'), String(n), endpoint, prefix, confirm, String(target), unit], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let readyResolve;
  const ready = new Promise((r) => (readyResolve = r));
  p.stdout.on('data', (d) => {
    out += d;
    if (out.includes('READY')) readyResolve();
  });
  const done = new Promise((r) => p.on('exit', () => r(JSON.parse(out.trim().split('\n').at(-1)))));
  return { ready, done };
}

function summarize(r, unit) {
  const secs = (r.last - r.first) / 1000;
  const per = r.perSocket.map((s) => (unit === 'bytes' ? s.bytes : s.messages));
  const delivered = per.reduce((a, b) => a + b, 0);
  const perSub = delivered / r.perSocket.length / secs;
  return {
    per_subscriber: unit === 'bytes' ? +(perSub / 1e6).toFixed(2) : Math.round(perSub),
    aggregate: unit === 'bytes' ? +((delivered / secs) / 1e6).toFixed(2) : Math.round(delivered / secs),
    complete: per.filter((x) => x >= (unit === 'bytes' ? PTY_BYTES : EVENTS)).length,
    subscribers: r.perSocket.length,
  };
}

async function raw(n, kind) {
  const dir = mkdtempSync('/tmp/orch-fanout-raw-');
  const endpoint = `ipc://${dir}/raw.sock`;
  const pub = new zmq.XPublisher({ sendHighWaterMark: 2000, noDrop: false, verbosity: 'allSubs' });
  await pub.bind(endpoint);
  const prefix = kind === 'events' ? 'sidecar/sc/' : 'output/flood/';
  const subs = subscribers(n, endpoint, prefix, '-', kind === 'events' ? EVENTS : PTY_BYTES, kind === 'events' ? 'messages' : 'bytes');
  // Wait for the n subscriptions (an XPUB sees them).
  let seen = 0;
  while (seen < n) {
    const [f] = await pub.receive();
    if (f[0] === 1) seen++;
  }
  await subs.ready;
  const envelope = { v: 1, run: 'rawrawrawrawraw0', agent: kind === 'events' ? 'sc' : 'flood', ts: Date.now() };
  if (kind === 'events') {
    for (let i = 0; i < EVENTS; i++) {
      await pub.send([prefix, packr.pack({ ...envelope, seq: i + 1, kind: 'sidecar', ok: true, type: 'tick', event: { type: 'tick', i, tool: 'Bash', note: 'bench' } })]);
    }
  } else {
    const chunk = Buffer.alloc(32 * 1024, 'x');
    for (let sent = 0, seq = 1; sent < PTY_BYTES; sent += chunk.length, seq++) {
      const data = chunk.subarray(0, Math.min(chunk.length, PTY_BYTES - sent));
      await pub.send([prefix, packr.pack({ ...envelope, seq, kind: 'output', data })]);
    }
  }
  const r = await subs.done;
  pub.close();
  return summarize(r, kind === 'events' ? 'messages' : 'bytes');
}

async function viaOrchestra(n, kind) {
  const dir = mkdtempSync('/tmp/orch-fanout-');
  const gate = join(dir, 'gate');
  const yaml =
    kind === 'events'
      ? `  sc:\n    command: ${process.execPath}\n    args: [${join(ROOT, 'test/fixtures/sidecar-flood.mjs')}, ${gate}, "${EVENTS}"]\n    sidecar: { keep: 10 }\n`
      : `  flood:\n    command: /bin/sh\n    args: ["-c", "while [ ! -e ${gate} ]; do sleep 0.02; done; yes '${LINE}' | head -n ${LINES}; exec sleep 1000"]\n    log: { max_size: 64MiB, keep: 1 }\n`;
  const o = startOrchestra(yaml);
  const agent = kind === 'events' ? 'sc' : 'flood';
  const prefix = kind === 'events' ? `sidecar/${agent}/` : `output/${agent}/`;
  const subs = subscribers(n, o.endpoint, prefix, `state/${agent}/`, kind === 'events' ? EVENTS : PTY_BYTES, kind === 'events' ? 'messages' : 'bytes');
  await subs.ready;
  writeFileSync(gate, 'go');
  const r = await subs.done;
  o.proc.kill('SIGTERM');
  await o.exited;
  return summarize(r, kind === 'events' ? 'messages' : 'bytes');
}

const result = { events: EVENTS, output_bytes: PTY_BYTES };
for (const kind of ['events', 'output']) {
  for (const n of SUBS) {
    const r = await raw(n, kind);
    const o = await viaOrchestra(n, kind);
    const unit = kind === 'events' ? 'events/s' : 'MB/s';
    process.stderr.write(`${kind} to ${n} subscriber(s): raw ${r.per_subscriber} ${unit} each (${r.complete}/${n} complete), orchestra ${o.per_subscriber} ${unit} each (${o.complete}/${n} complete)\n`);
    result[`${kind}_${n}`] = { raw: r, orchestra: o, ratio: +(o.aggregate / r.aggregate).toFixed(3) };
  }
}
result.ratio = result[`events_${SUBS[0]}`].ratio;
console.log(JSON.stringify(result));
