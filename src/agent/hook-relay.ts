/**
 * The program claude's hooks run (`node hook-relay.js EVENT`, from the settings file orchestra
 * gives claude): reads the hook's JSON input from stdin, writes ONE sidecar line for it to the
 * socket in $ORCHESTRA_SIDECAR, and exits 0.
 *
 * It must never hold claude up or change what claude does: it prints nothing (claude adds a
 * UserPromptSubmit or SessionStart hook's stdout to the conversation, and exit code 2 would block
 * the prompt), it gives up after 2 s, and every failure ends it quietly with 0.
 */
import { connect } from 'node:net';
import { sidecarEvent } from './hooks.js';

/** Stdin is read up to this much: a prompt can be up to `input.max_size` (256 KiB by default). */
const MAX_INPUT = 1024 * 1024;
const GIVE_UP_MS = 2000;

const quit = () => process.exit(0);
setTimeout(quit, GIVE_UP_MS);
process.on('uncaughtException', quit);

function readInput(): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    process.stdin.on('data', (d: Buffer) => {
      // Read on to the end (claude's write must not fail), keep only the start.
      if (size < MAX_INPUT) parts.push(d);
      size += d.length;
    });
    process.stdin.on('error', () => resolve({}));
    process.stdin.on('end', () => {
      // A cut input is not JSON: the event is then mapped from its name alone.
      try {
        const v: unknown = size <= MAX_INPUT ? JSON.parse(Buffer.concat(parts).toString('utf8')) : undefined;
        resolve(typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
      } catch {
        resolve({});
      }
    });
  });
}

const socket = process.env.ORCHESTRA_SIDECAR;
const event = sidecarEvent(process.argv[2] ?? '', await readInput());
if (!socket || !event) quit();
else {
  // Once written, the line is the socket's: the relay need not wait for the worker to read it.
  const conn = connect(socket, () => conn.end(`${JSON.stringify(event)}\n`, quit));
  conn.on('error', quit);
}
