// bench/input-latency: time from a `send --now` control request to the agent's echo of the text
// arriving at a bus subscriber, p50/p99 over SENDS sends, with 1 agent and with BUSY more agents
// printing all the time. Baseline: the same write done directly with node-pty (main thread, the
// same busy writers read alongside), time to the echo, in the same run.
import { join } from 'node:path';
import * as pty from 'node-pty';
import { BusSubscriber } from '../dist/bus/client.js';
import { ControlClient } from '../dist/bus/control-client.js';
import { ROOT, startOrchestra } from './_lib.mjs';

const SENDS = Number(process.env.BENCH_SENDS ?? 1000);
const WARMUP = 50;
const BUSY = Number(process.env.BENCH_BUSY ?? 20);
const FIX = join(ROOT, 'test/fixtures');
const ECHO = [process.execPath, [join(FIX, 'echo-raw.mjs')]];
// A busy agent: a 200-byte line every 10 ms (20 KB/s, 100 messages/s each).
const TICKER = [process.execPath, [join(FIX, 'ticker.mjs'), '10', '200']];

function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
const stats = (xs) => ({ p50: +percentile(xs, 50).toFixed(3), p99: +percentile(xs, 99).toFixed(3), mean: +(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(3) });

/** Resolves when `token` has appeared in the text fed to `feed`. */
function echoWaiter() {
  let text = '';
  let want;
  return {
    feed(chunk) {
      text += chunk;
      if (want && text.includes(want.token)) {
        const w = want;
        want = undefined;
        text = '';
        w.resolve(performance.now());
      } else if (text.length > 4096) text = text.slice(-256);
    },
    wait(token) {
      text = '';
      return new Promise((resolve) => (want = { token, resolve }));
    },
  };
}

async function baseline(busy) {
  const echo = pty.spawn(ECHO[0], ECHO[1], { cols: 120, rows: 40 });
  const tickers = Array.from({ length: busy }, () => pty.spawn(TICKER[0], TICKER[1], { cols: 120, rows: 40 }));
  let busyBytes = 0;
  for (const t of tickers) t.onData((d) => (busyBytes += d.length));
  const w = echoWaiter();
  await new Promise((res) => {
    const d = echo.onData((s) => s.includes('echo ready') && (d.dispose(), res()));
  });
  echo.onData((s) => w.feed(s));
  const times = [];
  for (let i = 0; i < WARMUP + SENDS; i++) {
    const token = `tok${i}x`;
    const t0 = performance.now();
    const arrived = w.wait(token);
    echo.write(token);
    const t1 = await arrived;
    if (i >= WARMUP) times.push(t1 - t0);
  }
  echo.kill();
  for (const t of tickers) t.kill();
  return { ...stats(times), busyBytes };
}

async function viaOrchestra(busy) {
  let yaml = `  echo:\n    command: ${ECHO[0]}\n    args: ${JSON.stringify(ECHO[1])}\n    ready: { pattern: "echo ready" }\n    input: { submit_delay: 1ms }\n`;
  for (let i = 0; i < busy; i++) yaml += `  busy${i}:\n    command: ${TICKER[0]}\n    args: ${JSON.stringify(TICKER[1])}\n`;
  const o = startOrchestra(yaml);
  const sub = new BusSubscriber(o.endpoint, { kinds: ['output', 'state'] });
  const w = echoWaiter();
  let busyBytes = 0;
  let ready;
  const readyP = new Promise((res) => (ready = res));
  void (async () => {
    for await (const r of sub) {
      if (r.msg.kind === 'state' && r.msg.agent === 'echo' && r.msg.to === 'ready') ready();
      if (r.msg.kind !== 'output') continue;
      if (r.msg.agent === 'echo') w.feed(Buffer.from(r.msg.data).toString());
      else busyBytes += r.msg.data.length;
    }
  })();
  await readyP;
  const client = new ControlClient(`ipc://${o.stateDir}/control.sock`);
  const times = [];
  let failed = 0;
  for (let i = 0; i < WARMUP + SENDS; i++) {
    const token = `tok${i}x`;
    const t0 = performance.now();
    const arrived = w.wait(token);
    const reply = client.request('send', { agent: 'echo', text: token, mode: 'now' });
    const t1 = await arrived;
    if ((await reply).outcome !== 'delivered') failed++;
    if (i >= WARMUP) times.push(t1 - t0);
  }
  await client.close();
  o.proc.kill('SIGTERM');
  await o.exited;
  sub.close();
  return { ...stats(times), busyBytes, failed };
}

const result = { sends: SENDS, busy_agents: BUSY };
for (const busy of [0, BUSY]) {
  const label = busy === 0 ? 'one_agent' : `${busy}_busy`;
  const raw = await baseline(busy);
  process.stderr.write(`raw node-pty, ${busy} busy: p50 ${raw.p50} ms, p99 ${raw.p99} ms\n`);
  const orch = await viaOrchestra(busy);
  process.stderr.write(`orchestra send --now, ${busy} busy: p50 ${orch.p50} ms, p99 ${orch.p99} ms (failed ${orch.failed})\n`);
  result[label] = { raw, orchestra: orch, ratio_p50: +(raw.p50 / orch.p50).toFixed(3), ratio_p99: +(raw.p99 / orch.p99).toFixed(3) };
}
// Higher is better: baseline latency ÷ orchestra latency.
result.ratio = result[`${BUSY}_busy`].ratio_p50;
console.log(JSON.stringify(result));
