/**
 * orchestra's own log: one pino logger, JSON lines in the state directory, and short readable
 * lines on stderr when stderr is a terminal. Workers forward records here (no transport threads).
 * The file is a LogFile: rotated, and a full disk is reported instead of thrown.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { LogFile, type LogFileEvents } from './log-file.js';

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** Formats pino's JSON records as `orchestra: warn: [agent] message`. */
function humanStderr(): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          const rec = JSON.parse(line) as { level: number; msg?: string; agent?: string };
          const who = rec.agent ? `[${rec.agent}] ` : '';
          process.stderr.write(`orchestra: ${LEVEL_NAMES[rec.level] ?? rec.level}: ${who}${rec.msg ?? ''}\n`);
        } catch {
          process.stderr.write(`${line}\n`);
        }
      }
      done();
    },
  });
}

export interface LoggerOptions {
  /** Also show warnings and errors on stderr, readably. */
  readonly stderr: boolean;
  readonly level?: string;
  /** Rotation of the file, as for agents' output logs (0: never rotate). */
  readonly maxSize: number;
  readonly keep: number;
  /** What to do when the file cannot be written (a full disk): the logger itself never throws. */
  readonly events?: LogFileEvents;
}

/** The logger, and its file (for `failed`). Writing through it never throws, whatever the disk does. */
export function createLogger(file: string, opts: LoggerOptions): { logger: pino.Logger; file: LogFile } {
  const dest = new LogFile(file, opts.maxSize, opts.keep, opts.events ?? { failed: () => undefined, resumed: () => undefined });
  const streams: pino.StreamEntry[] = [{ level: 'debug', stream: dest }];
  if (opts.stderr) streams.push({ level: 'warn', stream: humanStderr() });
  return { logger: pino({ level: opts.level ?? 'debug', base: { pid: process.pid } }, pino.multistream(streams)), file: dest };
}
