// bench/scale: N agents on one machine (`npm run bench -- scale [N]`, default 100). Against a
// baseline of N bare worker threads that each spawn one PTY running the same command
// (_scale-baseline.mjs: no state machine, no terminal model, no log), in the same run, for N idle
// agents (`sleep`) and N agents printing a line a second:
//   - RSS growth per agent: (RSS with N agents − RSS with 1) / (N − 1), each side measured alike;
//   - time from the process's spawn until all N agent processes run, and until all are up
//     (orchestra: `ready`, or `starting` for the ticker, which is never quiet; baseline: every PTY
//     spawned);
//   - CPU of the whole process (all threads) over BENCH_IDLE_S seconds once all are up;
//   - time from SIGINT until the process and every agent process are gone.
// Orchestra only: `ps` latency with N agents, and while BENCH_FLOOD of them flood output
// (scenario `flood`); and BENCH_MANY idle agents started with `up -d` while `ps` is asked
// every 250 ms, then `down` (scenario `many`). BENCH_SCALE picks scenarios (default: all).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SYNC_ABOVE } from '../dist/agent/output-log.js';
import { MAX_BATCH, MAX_RETIRED, SLAB } from '../dist/agent/output-pipeline.js';
import { BusSubscriber } from '../dist/bus/client.js';
import { MAX_OUTPUT_MESSAGE } from '../dist/bus/protocol.js';
import { BUILTIN } from '../dist/config/load.js';
import { ControlClient } from '../dist/bus/control-client.js';
import { median, ROOT, startOrchestra } from './_lib.mjs';

const N = Number(process.argv[2] ?? process.env.BENCH_N ?? 100);
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 20);
const FLOOD = Number(process.env.BENCH_FLOOD ?? 20);
const MANY = Number(process.env.BENCH_MANY ?? 500);
const MEMORY_N = Number(process.env.BENCH_MEMORY_N ?? 50);
const MEMORY_RATE = Number(process.env.BENCH_MEMORY_RATE ?? 1_000_000);
const MEMORY_S = Number(process.env.BENCH_MEMORY_S ?? 60);
const SCENARIOS = (process.env.BENCH_SCALE ?? 'idle,ticker,flood,many,memory').split(',');
/** After all agents are up, before anything is measured: JIT, GC and the agents' first redraws settle. */
const SETTLE_MS = Number(process.env.BENCH_SETTLE_S ?? 3) * 1000;
const PS_SAMPLES = 20;

// One line, then silence: orchestra counts an agent ready after start-up output and idle_after of quiet.
const IDLE = { command: '/bin/sh', args: ['-c', 'echo up; exec sleep 100000'], comm: 'sleep', upStates: ['ready', 'busy'] };
// A shell under a name of its own (a symlink), so its processes are told from any other shell's.
const BIN = mkdtempSync('/tmp/orch-bench-bin-');
symlinkSync('/bin/sh', join(BIN, 'scale-ticker'));
/** Never `ready` in orchestra (never quiet for idle_after): it counts as up once `starting`. */
const TICKER = { command: join(BIN, 'scale-ticker'), args: ['-c', 'while sleep 1; do echo tick; done'], comm: 'scale-ticker', upStates: ['starting', 'ready', 'busy'] };
const FLOODER = { command: 'yes', args: ['orchestra flood line'], comm: 'yes', upStates: ['starting', 'ready', 'busy'] };

// --- /proc -----------------------------------------------------------------------------------
function statFields(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}
/** CPU milliseconds (user + system, all threads) of a process so far (clock ticks at 100 Hz). */
const cpuMs = (pid) => {
  const f = statFields(pid);
  return (Number(f[11]) + Number(f[12])) * 10;
};
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
function alive(pid) {
  try {
    return statFields(pid)[0] !== 'Z';
  } catch {
    return false;
  }
}
/** Direct children of a process (of any of its threads). */
function children(pid) {
  const out = [];
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ')) if (c) out.push(Number(c));
    }
  } catch {
    // the process is gone
  }
  return out;
}
function comm(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}
/** Children that run one of `comms` (after exec: not the fork, not the perl that closes descriptors). */
const running = (pid, comms) => children(pid).filter((c) => comms.has(comm(c)));

async function until(pred, timeoutMs, what, everyMs = 10) {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = pred();
    if (v) return v;
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// --- one side ------------------------------------------------------------------------------------
function agentsYaml(specs) {
  return specs.map((s, i) => `  a${i}:\n    command: ${s.command}\n    args: ${JSON.stringify(s.args)}\n`).join('');
}

/** Starts one side; resolves once all its agents are up, with the process and its timings. */
async function launch(side, specs) {
  const t0 = performance.now();
  let proc;
  let exited;
  let up;
  let control;
  if (side === 'baseline') {
    const s = specs[0];
    proc = spawn(process.execPath, [join(ROOT, 'bench/_scale-baseline.mjs'), String(specs.length), JSON.stringify([s.command, ...s.args])], { stdio: ['ignore', 'pipe', 'inherit'] });
    exited = new Promise((res) => proc.on('exit', res));
    up = new Promise((res) => proc.stdout.on('data', (d) => String(d).includes('ready') && res()));
  } else {
    const o = startOrchestra(agentsYaml(specs));
    proc = o.proc;
    exited = o.exited;
    control = join(o.stateDir, 'control.sock');
    const sub = new BusSubscriber(o.endpoint, { kinds: ['state'] });
    up = (async () => {
      const upNow = new Set();
      for await (const { msg } of sub) {
        if (specs[Number(msg.agent.slice(1))].upStates.includes(msg.to)) upNow.add(msg.agent);
        else upNow.delete(msg.agent);
        if (upNow.size === specs.length) break;
      }
      sub.close();
    })();
  }
  const comms = new Set(specs.map((s) => s.comm));
  await until(() => running(proc.pid, comms).length === specs.length, 600_000, `${specs.length} agent processes`);
  const runningS = (performance.now() - t0) / 1000;
  await Promise.race([up, sleep(600_000, undefined, { ref: false }).then(() => Promise.reject(new Error(`${side}: agents not up after 600 s`)))]);
  const upS = (performance.now() - t0) / 1000;
  return { proc, exited, control: control && `ipc://${control}`, runningS, upS };
}

/** SIGINT, then the time until the process and every agent process are gone. */
async function interrupt(run) {
  const pids = children(run.proc.pid);
  const t0 = performance.now();
  run.proc.kill('SIGINT');
  await run.exited;
  await until(() => !pids.some(alive), 120_000, 'the agent processes to end', 2);
  return (performance.now() - t0) / 1000;
}

async function psLatencies(endpoint, samples, gapMs) {
  const client = new ControlClient(endpoint);
  const ms = [];
  let failed = 0;
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    try {
      await client.request('ps', {}, 10_000);
      ms.push(performance.now() - t0);
    } catch {
      failed++;
    }
    await sleep(gapMs);
  }
  await client.close();
  return { ...latencyStats(ms), failed };
}
const latencyStats = (ms) => ({ median_ms: ms.length ? +median(ms).toFixed(1) : null, max_ms: ms.length ? +Math.max(...ms).toFixed(1) : null, samples: ms.length });

/** RSS (MiB) of a side with one agent, after the same settling time as the N-agent run. */
async function rssWithOne(side, spec) {
  const run = await launch(side, [spec]);
  await sleep(SETTLE_MS);
  const rss = rssMiB(run.proc.pid);
  await interrupt(run);
  return rss;
}

async function measure(side, spec, n) {
  const rss1 = await rssWithOne(side, spec);
  const run = await launch(side, Array(n).fill(spec));
  await sleep(SETTLE_MS);
  const rssN = rssMiB(run.proc.pid);
  const c0 = cpuMs(run.proc.pid);
  await sleep(IDLE_S * 1000);
  const idleCpuPct = ((cpuMs(run.proc.pid) - c0) / (IDLE_S * 1000)) * 100;
  const rssAfter = rssMiB(run.proc.pid);
  const ps = run.control ? await psLatencies(run.control, PS_SAMPLES, 100) : undefined;
  const sigintS = await interrupt(run);
  const r = {
    rss_1_mib: +rss1.toFixed(1),
    rss_n_mib: +rssN.toFixed(1),
    rss_after_idle_mib: +rssAfter.toFixed(1),
    rss_per_agent_mib: +((rssN - rss1) / (n - 1)).toFixed(2),
    running_s: +run.runningS.toFixed(2),
    up_s: +run.upS.toFixed(2),
    cpu_pct: +idleCpuPct.toFixed(2),
    sigint_s: +sigintS.toFixed(3),
    ...(ps ? { ps } : {}),
  };
  console.log(`${side} ×${n} ${spec.comm}: ${JSON.stringify(r)}`);
  return r;
}

async function compare(spec) {
  const baseline = await measure('baseline', spec, N);
  const orchestra = await measure('orchestra', spec, N);
  return {
    baseline,
    orchestra,
    ratio: +(baseline.rss_per_agent_mib / orchestra.rss_per_agent_mib).toFixed(3),
    running_ratio: +(orchestra.running_s / baseline.running_s).toFixed(2),
  };
}

/** N agents of which FLOOD write as fast as they can: `ps` latency meanwhile, and the supervisor's RSS. */
async function flood() {
  const specs = [...Array(FLOOD).fill(FLOODER), ...Array(Math.max(0, N - FLOOD)).fill(IDLE)];
  const run = await launch('orchestra', specs);
  await sleep(SETTLE_MS);
  const ps = await psLatencies(run.control, PS_SAMPLES, 250);
  const r = { agents: specs.length, flooding: FLOOD, ps, rss_mib: +rssMiB(run.proc.pid).toFixed(1), sigint_s: +(await interrupt(run)).toFixed(3) };
  console.log(`flood: ${JSON.stringify(r)}`);
  return r;
}

/** MANY idle agents with `up -d`: `ps` every 250 ms while they start, then `down`. */
async function many() {
  const dir = mkdtempSync(`${process.env.BENCH_STATE_ROOT ?? '/tmp'}/orch-bench-`);
  const file = join(dir, 'orchestra.yaml');
  const stateDir = join(dir, 's');
  writeFileSync(file, `session: bench\nstate_dir: ${stateDir}\nagents:\n${agentsYaml(Array(MANY).fill(IDLE))}`);
  const cli = (args) => spawn(process.execPath, [join(ROOT, 'bin/orchestra.js'), ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  const t0 = performance.now();
  const upD = cli(['up', '-d', file, '--wait-timeout', '300s']);
  const returned = new Promise((res) => upD.on('exit', (code) => res({ code, s: (performance.now() - t0) / 1000 })));
  let done = false;
  const ms = [];
  let failed = 0;
  const sampler = (async () => {
    const control = join(stateDir, 'control.sock');
    await until(() => existsSync(control), 60_000, 'the control socket');
    const client = new ControlClient(`ipc://${control}`);
    while (!done) {
      const s0 = performance.now();
      try {
        await client.request('ps', {}, 5_000);
        ms.push(performance.now() - s0);
      } catch {
        failed++;
      }
      await sleep(250);
    }
    await client.close();
  })();
  const up = await returned;
  const { pid } = JSON.parse(readFileSync(join(stateDir, 'supervisor.json'), 'utf8'));
  let runningS = null;
  try {
    await until(() => running(pid, new Set(['sleep'])).length === MANY, 300_000, `${MANY} sleeps`, 50);
    runningS = (performance.now() - t0) / 1000;
  } catch (err) {
    console.log(`many: ${err.message}: ${running(pid, new Set(['sleep'])).length} running`);
  }
  done = true;
  await sampler;
  const pids = children(pid);
  const d0 = performance.now();
  const down = cli(['down', '-f', file]);
  const downCode = await new Promise((res) => down.on('exit', res));
  const downReturnedS = (performance.now() - d0) / 1000;
  await until(() => !alive(pid) && !pids.some(alive), 120_000, 'every agent to end', 5);
  const r = {
    agents: MANY,
    up_d_exit: up.code,
    up_d_returned_s: +up.s.toFixed(2),
    running_s: runningS && +runningS.toFixed(2),
    ps_while_starting: { ...latencyStats(ms), failed },
    down_exit: downCode,
    down_returned_s: +downReturnedS.toFixed(2),
    all_gone_s: +((performance.now() - d0) / 1000).toFixed(2),
  };
  console.log(`many: ${JSON.stringify(r)}`);
  return r;
}

const MiB = 1024 * 1024;
/**
 * What the supervisor may hold beyond its idle RSS while `n` agents write and `subscribers` keep up,
 * from the limits as configured (defaults): per agent, the ring, the output slabs (the one being
 * filled and the retired ones kept for reuse), the batch in flight to the main thread, the log's
 * queue before writes turn synchronous, and the terminal model's cells ((scrollback + rows) × cols,
 * 12 bytes each in xterm's buffer); shared, the publisher's queue and each subscriber's ZeroMQ
 * pipe (high-water mark × the largest output message).
 */
function memoryBound(n, subscribers) {
  const perAgent = {
    ring: BUILTIN.log.ringSize,
    slabs: SLAB * (1 + MAX_RETIRED),
    batch: MAX_BATCH,
    log_queue: SYNC_ABOVE,
    terminal_model: (BUILTIN.log.scrollback + BUILTIN.rows) * BUILTIN.cols * 12,
  };
  const shared = { bus_queue: BUILTIN.bus.queueLimit, subscriber_pipes: subscribers * BUILTIN.bus.highWaterMark * MAX_OUTPUT_MESSAGE };
  const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
  const mib = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, +(v / MiB).toFixed(2)]));
  return { per_agent_mib: mib(perAgent), shared_mib: mib(shared), above_idle_mib: +((n * sum(perAgent) + sum(shared)) / MiB).toFixed(1) };
}

/**
 * MEMORY_N agents each write MEMORY_RATE bytes a second for MEMORY_S seconds, all at once; one
 * subscriber counts every output byte per agent. The supervisor's RSS is sampled every 250 ms from
 * the start of the writing until the subscriber has every byte (or 60 s after the writing ended).
 */
async function memory() {
  const dir = mkdtempSync(`${process.env.BENCH_STATE_ROOT ?? '/tmp'}/orch-bench-`);
  const go = join(dir, 'go');
  const spec = { command: 'perl', args: [join(ROOT, 'bench/_memory-writer.pl'), go, String(MEMORY_RATE), String(MEMORY_S)] };
  const written = 3 + Math.floor(MEMORY_RATE / 10) * Math.floor(MEMORY_S * 10); // "up\n", then the flood
  const o = startOrchestra(agentsYaml(Array(MEMORY_N).fill(spec)));
  // One subscriber for both: orchestra starts the agents once it has subscribed, so it misses nothing.
  const sub = new BusSubscriber(o.endpoint, { kinds: ['state', 'output', 'drops'] });
  const received = new Map();
  const ready = new Set();
  let dropsReported = 0;
  let allUp;
  const up = new Promise((res) => (allUp = res));
  let allIn;
  const complete = new Promise((res) => (allIn = res));
  const reading = (async () => {
    for await (const { msg } of sub) {
      if (msg.kind === 'state') {
        if (msg.to === 'ready') ready.add(msg.agent);
        if (ready.size === MEMORY_N) allUp();
      } else if (msg.kind === 'drops') {
        dropsReported += msg.droppedBytes;
      } else if (msg.kind === 'output') {
        const n = (received.get(msg.agent) ?? 0) + msg.data.length;
        received.set(msg.agent, n);
        if (n === written && [...received.values()].filter((v) => v === written).length === MEMORY_N) allIn();
      }
    }
  })();
  await Promise.race([up, sleep(600_000, undefined, { ref: false }).then(() => Promise.reject(new Error(`memory: agents not ready after 600 s`)))]);
  await sleep(SETTLE_MS);
  const rssIdle = rssMiB(o.proc.pid);
  let peak = rssIdle;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(o.proc.pid))), 250);
  const t0 = performance.now();
  writeFileSync(go, '');
  const inTime = await Promise.race([complete.then(() => true), sleep((MEMORY_S + 60) * 1000).then(() => false)]);
  const allInS = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const rssEnd = rssMiB(o.proc.pid);
  const sigintS = await interrupt({ proc: o.proc, exited: o.exited });
  sub.close();
  await reading;
  const got = Array.from({ length: MEMORY_N }, (_, i) => received.get(`a${i}`) ?? 0);
  const bound = memoryBound(MEMORY_N, 1);
  const r = {
    agents: MEMORY_N,
    rate_bytes_s: MEMORY_RATE,
    seconds: MEMORY_S,
    written_per_agent: written,
    received_per_agent_min: Math.min(...got),
    received_per_agent_max: Math.max(...got),
    agents_complete: got.filter((g) => g === written).length,
    lost_bytes: got.reduce((a, g) => a + (written - g), 0),
    missed_by_subscriber_bytes: sub.missedBytes,
    drops_reported_bytes: dropsReported,
    all_received_s: inTime ? +allInS.toFixed(2) : null,
    rss_idle_mib: +rssIdle.toFixed(1),
    rss_peak_mib: +peak.toFixed(1),
    rss_end_mib: +rssEnd.toFixed(1),
    rss_peak_above_idle_mib: +(peak - rssIdle).toFixed(1),
    bound,
    within_bound: peak - rssIdle <= bound.above_idle_mib,
    sigint_s: +sigintS.toFixed(3),
  };
  // The logs hold every byte written (MEMORY_N × up to the rotated size): not left in /tmp.
  for (const d of [dir, dirname(o.stateDir)]) rmSync(d, { recursive: true, force: true });
  console.log(`memory: ${JSON.stringify(r)}`);
  return r;
}

const result = { bench: 'scale', n: N, idle_s: IDLE_S, at: new Date().toISOString() };
if (SCENARIOS.includes('idle')) result.idle = await compare(IDLE);
if (SCENARIOS.includes('ticker')) result.ticker = await compare(TICKER);
if (SCENARIOS.includes('flood')) result.flood = await flood();
if (SCENARIOS.includes('many')) result.many = await many();
if (SCENARIOS.includes('memory')) result.memory = await memory();
if (result.idle) result.ratio = result.idle.ratio;
console.log(JSON.stringify(result));
