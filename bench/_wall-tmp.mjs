import { BusSubscriber } from '../dist/bus/client.js';
import { startOrchestra } from './_lib.mjs';
import * as pty from 'node-pty';
const TOTAL = 128 * 1024 * 1024;
const W = ["/bin/sh", ["-c", `yes 'orchestra throughput line 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ' | head -c ${TOTAL}`]];
async function base() { return new Promise((res) => { const t0 = performance.now(); const p = pty.spawn(W[0], W[1], { encoding: null }); let b = 0; p.onData((d) => (b += d.length)); p.onExit(() => res(b / 1e6 / ((performance.now() - t0) / 1000))); }); }
async function orch() {
  const o = startOrchestra(`  writer:\n    command: /bin/sh\n    args: ${JSON.stringify(W[1])}\n    restart: no\n`);
  const sub = new BusSubscriber(o.endpoint, { agents: ['writer'], kinds: ['state', 'exit'] });
  let t0 = 0;
  for (;;) { const { msg } = await sub.next(); if (msg.kind === 'state' && msg.to === 'starting') t0 = performance.now(); if (msg.kind === 'exit') break; }
  const r = TOTAL / 1e6 / ((performance.now() - t0) / 1000);
  o.proc.kill('SIGTERM'); await o.exited; sub.close(); return r;
}
const b = await base(); const x = await orch(); const b2 = await base();
console.log(process.env.LABEL, 'base', b.toFixed(1), b2.toFixed(1), 'orch (state/exit only subscriber)', x.toFixed(1));
