import { readFileSync, readdirSync } from 'node:fs';
import * as pty from 'node-pty';
import { BusSubscriber } from '../dist/bus/client.js';
import { startOrchestra } from './_lib.mjs';
const TOTAL = 128 * 1024 * 1024;
const W = ["/bin/sh", ["-c", `yes 'orchestra throughput line 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ' | head -c ${TOTAL}`]];
const threads = (pid) => readdirSync(`/proc/${pid}/task`).map((t) => { const st = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8'); const f = st.slice(st.lastIndexOf(')') + 2).split(' '); return { t, u: Number(f[11]) * 10, s: Number(f[12]) * 10 }; });
{ const c0 = process.cpuUsage(); const t0 = performance.now(); await new Promise((res) => { const p = pty.spawn(W[0], W[1], { encoding: null }); p.onData(() => {}); p.onExit(res); }); const c = process.cpuUsage(c0); console.log(`baseline: ${(performance.now() - t0).toFixed(0)}ms wall, reader cpu user ${(c.user / 1000).toFixed(0)} sys ${(c.system / 1000).toFixed(0)}`); }
{
  const o = startOrchestra(`  writer:\n    command: /bin/sh\n    args: ${JSON.stringify(W[1])}\n    restart: no\n`);
  const sub = new BusSubscriber(o.endpoint, { agents: ['writer'] });
  let t0 = 0; let c0;
  for (;;) { const { msg } = await sub.next(); if (msg.kind === 'state' && msg.to === 'starting') { t0 = performance.now(); c0 = process.cpuUsage(); } if (msg.kind === 'exit') break; }
  const c = process.cpuUsage(c0);
  console.log(`orchestra: ${(performance.now() - t0).toFixed(0)}ms wall, subscriber cpu user ${(c.user / 1000).toFixed(0)} sys ${(c.system / 1000).toFixed(0)}`);
  for (const th of threads(o.proc.pid).filter((x) => x.u + x.s > 30)) console.log(`  supervisor thread ${th.t}: user ${th.u} sys ${th.s}`);
  o.proc.kill('SIGTERM'); await o.exited; sub.close();
}
