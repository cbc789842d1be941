// bench/scale's baseline: N bare worker threads (_scale-worker.mjs), each with one PTY. Prints
// `ready` once every PTY has spawned; on SIGINT ends them all, then exits.
import { Worker } from 'node:worker_threads';

const n = Number(process.argv[2]);
const [file, ...args] = JSON.parse(process.argv[3]);
const workers = [];
let spawned = 0;
let gone = 0;
for (let i = 0; i < n; i++) {
  const w = new Worker(new URL('./_scale-worker.mjs', import.meta.url), { workerData: { file, args } });
  w.on('message', (m) => {
    if (m.type === 'spawned' && ++spawned === n) process.stdout.write('ready\n');
    if (m.type === 'gone' && ++gone === n) process.exit(0);
  });
  workers.push(w);
}
process.on('SIGINT', () => {
  for (const w of workers) w.postMessage('stop');
});
