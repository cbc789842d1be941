// bench/scale-imports' worker: loads the modules it is given (and draws a line on a terminal model
// if asked), says so, then waits.
import { parentPort, workerData } from 'node:worker_threads';

for (const m of workerData.mods) await import(m);
if (workerData.model) {
  const { TerminalModel } = await import('../dist/agent/terminal-model.js');
  const model = new TerminalModel(120, 40, () => undefined, () => undefined, 1000);
  model.write(Buffer.from('up\r\n'));
  globalThis.model = model;
}
parentPort.postMessage('loaded');
parentPort.on('message', () => undefined);
