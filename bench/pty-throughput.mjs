// bench/pty-throughput: one agent writes TOTAL bytes of text lines through its PTY as fast as the
// kernel allows. Figure: MB/s delivered to a bus subscriber in another process (this one), against
// the baseline of raw node-pty reading the same writer on the main thread, in the same run.
import { readFileSync } from 'node:fs';
import * as pty from 'node-pty';
import { BusSubscriber } from '../dist/bus/client.js';
import { median, startOrchestra } from './_lib.mjs';

const TOTAL = Number(process.env.BENCH_BYTES ?? 256 * 1024 * 1024);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const LINE = 'orchestra throughput line 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ';
// `yes | head -c` writes with blocking write(2): the writer never busy-waits, on either side.
const WRITER = ['/bin/sh', ['-c', `yes '${LINE}' | head -c ${TOTAL}`]];

/** Fields of /proc/PID/stat after the command name (field 3 onwards, so index = field - 3). */
function statFields(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU milliseconds (user + system, all threads) a process has used so far, from /proc. */
function processCpuMs(pid) {
  const f = statFields(pid);
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // clock ticks at 100 Hz
}

/** Minor page faults of a process so far (first touches of fresh memory, mostly). */
function minorFaults(pid) {
  return Number(statFields(pid)[7]);
}

/**
 * CPU milliseconds of the children a process has reaped so far (cutime + cstime). The writer's
 * shell reaps `yes` and `head`, and is itself reaped by node-pty in the reading process, so this
 * is the writer's CPU, kernel work on its writes included.
 */
function reapedCpuMs(pid) {
  const f = statFields(pid);
  return ((Number(f[13]) + Number(f[14])) * 1000) / 100;
}

function baseline() {
  return new Promise((resolve) => {
    const c0 = process.cpuUsage();
    const w0 = reapedCpuMs(process.pid);
    const f0 = minorFaults(process.pid);
    const t0 = performance.now();
    const p = pty.spawn(WRITER[0], WRITER[1], { cols: 120, rows: 40, encoding: null });
    let bytes = 0;
    p.onData((d) => (bytes += d.length));
    p.onExit(() => {
      const c = process.cpuUsage(c0);
      // node-pty reports the exit after reaping the shell, so its time is counted by now.
      resolve({ bytes, ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000, writerCpuMs: reapedCpuMs(process.pid) - w0, faults: minorFaults(process.pid) - f0 });
    });
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
  let supCpu0 = 0;
  let supFaults0 = 0;
  let writerCpu0 = 0;
  let subCpu0;
  for (;;) {
    const { msg, gap } = await sub.next();
    gaps += gap;
    if (msg.kind === 'state' && msg.to === 'starting' && !t0) {
      t0 = performance.now();
      supCpu0 = processCpuMs(o.proc.pid);
      supFaults0 = minorFaults(o.proc.pid);
      writerCpu0 = reapedCpuMs(o.proc.pid);
      subCpu0 = process.cpuUsage();
    }
    if (msg.kind === 'output') {
      bytes += msg.data.length;
      messages++;
    }
    if (msg.kind === 'drops') dropped += msg.dropped;
    if (msg.kind === 'exit') break;
  }
  const ms = performance.now() - t0;
  const sub1 = process.cpuUsage(subCpu0);
  // Supervisor (all threads: worker, main, ZeroMQ, V8's helpers, log writes) and this subscriber.
  const supervisorCpuMs = processCpuMs(o.proc.pid) - supCpu0;
  const faults = minorFaults(o.proc.pid) - supFaults0;
  const subscriberCpuMs = (sub1.user + sub1.system) / 1000;
  // The exit is published after the worker's node-pty reaped the shell.
  const writerCpuMs = reapedCpuMs(o.proc.pid) - writerCpu0;
  o.proc.kill('SIGTERM');
  await o.exited;
  sub.close();
  return { bytes, ms, gaps, dropped, messages, cpuMs: supervisorCpuMs + subscriberCpuMs, supervisorCpuMs, subscriberCpuMs, writerCpuMs, faults };
}

/** A run's MB/s, and each of `fields` (totals over the run) divided by the MB it moved. */
function perMb(run, fields) {
  const mb = run.bytes / 1e6;
  return { mbS: mb / (run.ms / 1000), ...Object.fromEntries(fields.map((f) => [f, run[f] / mb])) };
}

const base = [];
const orch = [];
for (let i = 0; i < RUNS; i++) {
  // Alternate, so drift in machine load affects both sides alike.
  const b = await baseline();
  const o = await viaOrchestra();
  const bm = perMb(b, ['cpuMs', 'writerCpuMs', 'faults']);
  const om = perMb(o, ['cpuMs', 'supervisorCpuMs', 'subscriberCpuMs', 'writerCpuMs', 'faults']);
  base.push(bm);
  orch.push(om);
  console.log(`run ${i + 1}: raw node-pty ${bm.mbS.toFixed(1)} MB/s (${b.bytes} B); orchestra -> bus subscriber ${om.mbS.toFixed(1)} MB/s (${o.bytes} B in ${o.messages} msgs, seq gaps ${o.gaps}, dropped ${o.dropped}); CPU ms/MB raw ${bm.cpuMs.toFixed(2)}, orchestra ${om.cpuMs.toFixed(2)} (supervisor ${om.supervisorCpuMs.toFixed(2)}, subscriber ${om.subscriberCpuMs.toFixed(2)}); writer CPU ms/MB ${bm.writerCpuMs.toFixed(2)} and ${om.writerCpuMs.toFixed(2)}; page faults per MB raw ${bm.faults.toFixed(0)}, supervisor ${om.faults.toFixed(0)}`);
}
/** Median of one field over the runs of one side. */
const med = (runs, field) => median(runs.map((r) => r[field]));
const result = {
  bench: 'pty-throughput',
  bytes: TOTAL,
  runs: RUNS,
  baseline_mb_s: +med(base, 'mbS').toFixed(1),
  orchestra_mb_s: +med(orch, 'mbS').toFixed(1),
  ratio: +(med(orch, 'mbS') / med(base, 'mbS')).toFixed(3),
  // Each run measures raw and orchestra back to back: the median of those pairs' ratios is less
  // sensitive to the machine's load drifting between runs.
  pair_ratio_median: +median(orch.map((o, i) => o.mbS / base[i].mbS)).toFixed(3),
  // CPU per MB is steadier than MB/s on a shared machine: the reader alone vs supervisor + subscriber.
  baseline_cpu_ms_per_mb: +med(base, 'cpuMs').toFixed(2),
  orchestra_cpu_ms_per_mb: +med(orch, 'cpuMs').toFixed(2),
  cpu_ratio: +(med(orch, 'cpuMs') / med(base, 'cpuMs')).toFixed(2),
  // The two parts of orchestra's figure: the supervisor process, and the subscriber (this process).
  orchestra_supervisor_cpu_ms_per_mb: +med(orch, 'supervisorCpuMs').toFixed(2),
  orchestra_subscriber_cpu_ms_per_mb: +med(orch, 'subscriberCpuMs').toFixed(2),
  // The writer (`yes | head`, with the kernel's work on its writes) while read by each side: on a
  // small machine a slower reader makes the writer costlier per MB too (docs/benchmarks.md).
  baseline_writer_cpu_ms_per_mb: +med(base, 'writerCpuMs').toFixed(2),
  orchestra_writer_cpu_ms_per_mb: +med(orch, 'writerCpuMs').toFixed(2),
  // Minor page faults per MB (first touches of fresh memory, ~3 µs each here): the raw reader's
  // process against the supervisor's.
  baseline_faults_per_mb: +med(base, 'faults').toFixed(0),
  orchestra_supervisor_faults_per_mb: +med(orch, 'faults').toFixed(0),
};
console.log(JSON.stringify(result));
