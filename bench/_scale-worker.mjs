// bench/scale's baseline agent: a bare worker thread that spawns one PTY running the command and
// reads it (no state machine, no terminal model, no log). Ends its PTY when told to stop.
import { parentPort, workerData } from 'node:worker_threads';
import * as pty from 'node-pty';

const { file, args } = workerData;
const term = pty.spawn(file, args, { name: 'xterm-256color', cols: 120, rows: 40, encoding: null });
let bytes = 0;
term.onData((d) => (bytes += d.length));
term.onExit(() => parentPort.postMessage({ type: 'gone', bytes }));
parentPort.postMessage({ type: 'spawned', pid: term.pid });
parentPort.on('message', () => term.kill('SIGHUP'));
