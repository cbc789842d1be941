// bench/pty-throughput: one agent writes TOTAL bytes of text lines through its PTY as fast as the
// kernel allows. Figure: MB/s delivered to a bus subscriber in another process (this one), against
// the baseline of raw node-pty reading the same writer on the main thread, in the same run.
import * as pty from 'node-pty';
import { BusSubscriber } from '../dist/bus/client.js';
import { median, startOrchestra } from './_lib.mjs';

const TOTAL = Number(process.env.BENCH_BYTES ?? 256 * 1024 * 1024);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const LINE = 'orchestra throughput line 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ';
// `yes | head -c` writes with blocking write(2): the writer never busy-waits, on either side.
const WRITER = ['/bin/sh', ['-c', `yes '${LINE}' | head -c ${TOTAL}`]];

function baseline() {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = pty.spawn(WRITER[0], WRITER[1], { cols: 120, rows: 40, encoding: null });
    let bytes = 0;
    p.onData((d) => (bytes += d.length));
    p.onExit(() => resolve({ bytes, ms: performance.now() - t0 }));
  });
}

async function viaOrchestra() {
  const yaml = `  writer:\n    command: ${WRITER[0]}\n    args: ${JSON.stringify(WRITER[1])}\n    restart: no\n    log: { max_size: 64MiB, keep: 1 }\n`;
  const o = startOrchestra(yaml);
  const sub = new BusSubscriber(o.endpoint, { agents: ['writer'], kinds: ['output', 'state', 'exit', 'drops'] });
  let bytes = 0;
  let gaps = 0;
  let dropped = 0;
  let t0 = 0;
  let messages = 0;
  for (;;) {
    const { msg, gap } = await sub.next();
    gaps += gap;
    if (msg.kind === 'state' && msg.to === 'starting' && !t0) t0 = performance.now();
    if (msg.kind === 'output') {
      bytes += msg.data.length;
      messages++;
    }
    if (msg.kind === 'drops') dropped += msg.dropped;
    if (msg.kind === 'exit') break;
  }
  const ms = performance.now() - t0;
  o.proc.kill('SIGTERM');
  await o.exited;
  sub.close();
  return { bytes, ms, gaps, dropped, messages };
}

const base = [];
const orch = [];
for (let i = 0; i < RUNS; i++) {
  // Alternate, so drift in machine load affects both sides alike.
  const b = await baseline();
  const o = await viaOrchestra();
  base.push((b.bytes / 1e6) / (b.ms / 1000));
  orch.push((o.bytes / 1e6) / (o.ms / 1000));
  console.log(`run ${i + 1}: raw node-pty ${base.at(-1).toFixed(1)} MB/s (${b.bytes} B); orchestra -> bus subscriber ${orch.at(-1).toFixed(1)} MB/s (${o.bytes} B in ${o.messages} msgs, seq gaps ${o.gaps}, dropped ${o.dropped})`);
}
const result = {
  bench: 'pty-throughput',
  bytes: TOTAL,
  runs: RUNS,
  baseline_mb_s: +median(base).toFixed(1),
  orchestra_mb_s: +median(orch).toFixed(1),
  ratio: +(median(orch) / median(base)).toFixed(3),
};
console.log(JSON.stringify(result));
