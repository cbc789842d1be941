// bench/output-path: how should PTY output reach the bus? Minimal versions of the candidate
// designs, each moving the same TOTAL bytes from a PTY writer to a subscriber in another process:
//   raw        node-pty on the main thread, no bus (the baseline; same as pty-throughput's)
//   via-main   worker reads the PTY, postMessage (transfer) to the main thread, main publishes (PUB)
//   worker-pub worker reads the PTY and publishes on its own PUB socket (per-worker sockets)
//   worker-proxy  worker publishes on its own PUB socket into an inproc:// XSUB, and ZeroMQ's native
//              proxy (its own thread) forwards to the XPUB subscribers connect to: per-worker
//              sockets behind one bus endpoint, with no JavaScript on the main thread per message
// The figures for each: MB/s at the subscriber (ratios are against `raw` in the same run), and CPU
// ms per MB of the reading process's threads plus the subscriber process (raw: the reader alone).
import { fork } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import * as pty from 'node-pty';
import * as zmq from 'zeromq';
import { spawnPty } from '../dist/agent/pty-reader.js';
import { median } from './_lib.mjs';

const TOTAL = Number(process.env.BENCH_BYTES ?? 128 * 1024 * 1024);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const LINE = 'orchestra throughput line 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const WRITER = ['/bin/sh', ['-c', `yes '${LINE}' | head -c ${TOTAL}`]];

if (process.argv[2] === '--subscriber') {
  // Child process: count bytes until an empty "end" frame.
  const sub = new zmq.Subscriber({ receiveHighWaterMark: 0 });
  sub.connect(process.argv[3]);
  sub.subscribe('');
  process.send('ready');
  let bytes = 0;
  let t0 = 0;
  let cpu0;
  for await (const [, data] of sub) {
    if (!t0) {
      t0 = performance.now();
      cpu0 = process.cpuUsage();
    }
    if (data.length === 0) break;
    bytes += data.length;
  }
  const cpu = process.cpuUsage(cpu0);
  process.send({ bytes, ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 });
  sub.close();
  process.exit(0);
}

if (process.env.BENCH_WORKER) {
  // Worker thread: read the PTY, batch while streaming (as orchestra does), forward or publish.
  const { parentPort, workerData } = await import('node:worker_threads');
  let pub;
  if (workerData.mode === 'worker-pub') {
    pub = new zmq.Publisher({ sendHighWaterMark: 0 });
    await pub.bind(workerData.endpoint);
  } else if (workerData.mode === 'worker-proxy') {
    // zeromq.js shares one context between threads, so inproc:// reaches the main thread's proxy.
    pub = new zmq.Publisher({ sendHighWaterMark: 0 });
    pub.connect(workerData.inproc);
  }
  parentPort.on('message', async (m) => {
    if (m !== 'go') return;
    // Both designs read the way orchestra does (src/agent/pty-reader.ts: one reused read buffer),
    // copy each read into the batch, and send 64 KiB messages.
    let batch = Buffer.allocUnsafeSlow(65536);
    let size = 0;
    let timer;
    let sending = Promise.resolve();
    const flush = () => {
      clearTimeout(timer);
      timer = undefined;
      if (!size) return;
      const full = batch.subarray(0, size);
      batch = Buffer.allocUnsafeSlow(65536);
      size = 0;
      if (pub) sending = sending.then(() => pub.send(['output/w/', full]));
      else parentPort.postMessage(full, [full.buffer]);
    };
    const p = spawnPty(WRITER[0], WRITER[1], { cols: 120, rows: 40, encoding: null }, (view) => {
      for (let off = 0; off < view.length; ) {
        const n = view.copy(batch, size, off);
        off += n;
        size += n;
        if (size === batch.length) flush();
      }
      timer ??= setTimeout(flush, 10);
    });
    p.onExit(async () => {
      flush();
      await sending;
      if (pub) {
        await pub.send(['output/w/', Buffer.alloc(0)]);
        // Close before the thread is terminated: terminating a worker with an open zeromq socket aborts.
        pub.linger = 1000;
        pub.close();
      }
      parentPort.postMessage('done');
    });
  });
  parentPort.postMessage('ready');
} else if (process.argv[2] === '--measure') {
  // One measurement per process: zeromq.js can abort the process while a worker that used it is
  // torn down (Napi::Error thrown from native code), which must not take the whole bench with it.
  const mode = process.argv[3];
  const raw = () =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      const p = pty.spawn(WRITER[0], WRITER[1], { cols: 120, rows: 40, encoding: null });
      let bytes = 0;
      p.onData((d) => (bytes += d.length));
      p.onExit(() => {
        const cpu = process.cpuUsage(cpu0);
        resolve({ mbs: (bytes / 1e6) / ((performance.now() - t0) / 1000), cpuMsPerMb: (cpu.user + cpu.system) / 1000 / (bytes / 1e6) });
      });
    });

  const viaBus = async (mode) => {
    const endpoint = `ipc:///tmp/orch-bench-path-${process.pid}-${mode}.sock`;
    const inproc = `inproc://orch-bench-path-${process.pid}`;
    let pub;
    let proxy;
    let proxyDone;
    if (mode === 'via-main') {
      pub = new zmq.Publisher({ sendHighWaterMark: 0 });
      await pub.bind(endpoint);
    } else if (mode === 'worker-proxy') {
      const front = new zmq.XSubscriber({ receiveHighWaterMark: 0 });
      const back = new zmq.XPublisher({ sendHighWaterMark: 0 });
      await front.bind(inproc);
      await back.bind(endpoint);
      proxy = new zmq.Proxy(front, back);
      proxyDone = proxy.run();
    }
    const w = new Worker(new URL(import.meta.url), { env: { ...process.env, BENCH_WORKER: '1' }, workerData: { mode, endpoint, inproc } });
    await new Promise((r) => w.once('message', r));
    const sub = fork(new URL(import.meta.url).pathname, ['--subscriber', endpoint], { stdio: 'inherit' });
    await new Promise((r) => sub.once('message', r));
    const result = new Promise((r) => sub.on('message', r));
    let sending = Promise.resolve();
    w.on('message', (m) => {
      if (m === 'done') {
        if (pub) sending = sending.then(() => pub.send(['output/w/', Buffer.alloc(0)]));
        return;
      }
      if (pub) sending = sending.then(() => pub.send(['output/w/', Buffer.from(m.buffer, m.byteOffset, m.byteLength)]));
    });
    await new Promise((r) => setTimeout(r, 300)); // subscription propagation (no event exists for it on PUB)
    const cpu0 = process.cpuUsage();
    w.postMessage('go');
    const { bytes, ms, cpuMs } = await result;
    const cpu = process.cpuUsage(cpu0);
    if (proxy) {
      // Ends the proxy's thread (and closes its sockets); a running proxy would hold the process open.
      proxy.terminate();
      await proxyDone;
    }
    // CPU of this process (every thread: worker, main, ZeroMQ, proxy) plus the subscriber's.
    return { mbs: (bytes / 1e6) / (ms / 1000), cpuMsPerMb: ((cpu.user + cpu.system) / 1000 + cpuMs) / (bytes / 1e6) };
  };

  const figure = mode === 'raw' ? await raw() : await viaBus(mode);
  process.send(figure, () => process.exit(0));
} else {
  const measure = (mode) =>
    new Promise((resolve, reject) => {
      const child = fork(new URL(import.meta.url).pathname, ['--measure', mode], { stdio: 'inherit' });
      let got;
      child.on('message', (m) => (got = m));
      child.on('exit', (code, signal) => (got !== undefined ? resolve(got) : reject(new Error(`${mode}: measurement process ended (${signal ?? code}) without a result`))));
    });

  const modes = ['raw', 'via-main', 'worker-pub', 'worker-proxy'];
  const mbs = Object.fromEntries(modes.map((k) => [k, []]));
  const cpu = Object.fromEntries(modes.map((k) => [k, []]));
  for (let i = 0; i < RUNS; i++) {
    for (const mode of modes) {
      const f = await measure(mode);
      mbs[mode].push(f.mbs);
      cpu[mode].push(f.cpuMsPerMb);
    }
    console.log(`run ${i + 1}: ${modes.map((k) => `${k} ${mbs[k].at(-1).toFixed(1)} MB/s (${cpu[k].at(-1).toFixed(2)} CPU ms/MB)`).join(', ')}`);
  }
  const m = Object.fromEntries(modes.map((k) => [k, median(mbs[k])]));
  const c = Object.fromEntries(modes.map((k) => [k, +median(cpu[k]).toFixed(2)]));
  console.log(JSON.stringify({
    bench: 'output-path',
    bytes: TOTAL,
    runs: RUNS,
    raw_mb_s: +m.raw.toFixed(1),
    via_main_mb_s: +m['via-main'].toFixed(1),
    worker_pub_mb_s: +m['worker-pub'].toFixed(1),
    worker_proxy_mb_s: +m['worker-proxy'].toFixed(1),
    ratio: +(m['via-main'] / m.raw).toFixed(3),
    worker_pub_ratio: +(m['worker-pub'] / m.raw).toFixed(3),
    worker_proxy_ratio: +(m['worker-proxy'] / m.raw).toFixed(3),
    // CPU per MB (the reading process's threads plus the subscriber; raw: the reader alone) is
    // steadier than MB/s on a shared machine.
    cpu_ms_per_mb: { raw: c.raw, via_main: c['via-main'], worker_pub: c['worker-pub'], worker_proxy: c['worker-proxy'] },
  }));
}
