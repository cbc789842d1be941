/**
 * orchestra's own log: one pino logger, JSON lines in the state directory, and short readable
 * lines on stderr when stderr is a terminal. Workers forward records here (no transport threads).
 */
import { Writable } from 'node:stream';
import pino from 'pino';

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

export function createLogger(file: string, opts: { stderr: boolean; level?: string }): pino.Logger {
  const streams: pino.StreamEntry[] = [{ level: 'debug', stream: pino.destination({ dest: file, mkdir: true, sync: true }) }];
  if (opts.stderr) streams.push({ level: 'warn', stream: humanStderr() });
  return pino({ level: opts.level ?? 'debug', base: { pid: process.pid } }, pino.multistream(streams));
}
