// bench/scale-imports: where an agent's MiB go. For each step, K worker threads load what the
// agent worker loads up to that step (cumulative), in a fresh process; the figure is the RSS growth
// per worker (the process's RSS SETTLE_MS after they loaded, minus its RSS before), against the
// baseline of K bare workers in the same run. The steps follow src/agent/agent-worker.ts's imports.
import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './_lib.mjs';

const K = Number(process.env.BENCH_K ?? 20);
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 12_000);
const dist = (p) => join(ROOT, 'dist', p);
const OWN = ['agent/output-pipeline.js', 'agent/input-queue.js', 'agent/pty-actor.js', 'host/resume.js', 'agent/sidecar.js', 'bus/protocol.js', 'machines/screen-verdict.js', 'machines/screen-activity.js', 'agent/output-log.js', 'agent/hooks.js', 'agent/terminal-model.js'].map(dist);
const STEPS = [
  ['bare worker thread', []],
  ['+ node-pty', ['node-pty']],
  ['+ xstate', ['xstate']],
  ['+ msgpackr', ['msgpackr']],
  ["+ orchestra's worker modules", OWN],
  ['+ @xterm/headless', ['@xterm/headless']],
  ['+ a terminal model with a line drawn', [], true],
  ['+ uuid (before: the session id)', ['uuid']],
  ['+ zod (before: config/schema for one list)', ['zod']],
];

const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;

async function child(mods, model) {
  const r0 = rss();
  const ws = [];
  await new Promise((res, rej) => {
    let n = 0;
    for (let i = 0; i < K; i++) {
      const w = new Worker(new URL('./_scale-imports-worker.mjs', import.meta.url), { workerData: { mods, model } });
      w.on('message', () => ++n === K && res());
      w.on('error', rej);
      ws.push(w);
    }
  });
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  process.stdout.write(JSON.stringify((rss() - r0) / K));
  process.exit(0);
}

if (process.argv[2] === '--child') {
  const { mods, model } = JSON.parse(process.argv[3]);
  await child(mods, model);
} else {
  const rows = [];
  const mods = [];
  let model = false;
  for (const [name, add, withModel] of STEPS) {
    mods.push(...add.map((m) => (m.startsWith('/') ? m : import.meta.resolve(m))));
    model ||= withModel === true;
    const mib = Number(execFileSync(process.execPath, [new URL(import.meta.url).pathname, '--child', JSON.stringify({ mods, model })], { encoding: 'utf8' }));
    const prev = rows.at(-1)?.mib ?? 0;
    rows.push({ step: name, mib: +mib.toFixed(2), adds: +(rows.length ? mib - prev : mib).toFixed(2) });
    console.log(`${name.padEnd(44)} ${mib.toFixed(2).padStart(6)} MiB per worker (${rows.length > 1 ? `+${(mib - prev).toFixed(2)}` : 'baseline'})`);
  }
  console.log(JSON.stringify({ bench: 'scale-imports', k: K, settle_ms: SETTLE_MS, steps: rows }));
}
