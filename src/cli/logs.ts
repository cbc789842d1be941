/** `orchestra logs [-f] [-n LINES | --bytes SIZE] [--strip] AGENT`: recent output, then (with -f) live. */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { agentFiles, BUILTIN, loadConfigFiles } from '../config/load.js';
import { UsageError } from './errors.js';
import { follow } from './follow.js';
import { withSession } from './ops.js';
import { Sanitizer } from './sanitize.js';
import { ask, checkAgent, notRunning, runningInfo } from './session-client.js';

export interface LogsOptions {
  readonly follow: boolean;
  /** Last N lines of the catch-up. */
  readonly lines?: number;
  /** Last N bytes of the catch-up (default: the whole ring buffer). */
  readonly bytes?: number;
  readonly strip: boolean;
  /** The rendered screen instead of the raw output: `text`, or `ansi` with colours. */
  readonly screen?: 'text' | 'ansi';
}

/** The last `n` lines of `data` (a final line without newline counts as one). */
export function lastLines(data: Buffer, n: number): Buffer {
  if (n <= 0) return data.subarray(data.length);
  let end = data.length;
  if (end > 0 && data[end - 1] === 0x0a) end--;
  let pos = end;
  for (let i = 0; i < n; i++) {
    const nl = data.lastIndexOf(0x0a, pos - 1);
    if (nl < 0) return data;
    pos = nl;
    if (pos === 0 && i < n - 1) return data;
  }
  return data.subarray(pos + 1);
}

/** Text filter for one stream: raw bytes, or plain text with a UTF-8 decoder that keeps split characters. */
function writer(out: NodeJS.WritableStream, strip: boolean): (data: Uint8Array) => void {
  if (!strip) return (data) => out.write(data);
  const decoder = new TextDecoder('utf-8');
  // One sanitizer for the stream: a sequence split between two reads is still removed whole.
  const plain = new Sanitizer(false);
  return (data) => out.write(plain.push(decoder.decode(data, { stream: true })));
}

export function readTail(file: string, bytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const size = statSync(file).size;
    const n = Math.min(size, bytes);
    const buf = Buffer.alloc(n);
    readSync(fd, buf, 0, n, size - n);
    return buf;
  } finally {
    closeSync(fd);
  }
}

export async function logs(files: readonly string[], agent: string, o: LogsOptions, out: NodeJS.WritableStream): Promise<number> {
  const config = loadConfigFiles(files);
  checkAgent(config, agent);
  // An agent spawned from a template is not in the file; its log file stays after it is reaped.
  const spec = config.agents.find((a) => a.name === agent);
  const logFile = spec?.log.file ?? agentFiles(config.stateDir, agent).log;
  const want = o.bytes ?? spec?.log.ringSize ?? BUILTIN.log.ringSize;
  const cut = (data: Buffer) => (o.lines !== undefined ? lastLines(data, o.lines) : data);
  const write = writer(out, o.strip);
  const fromFile = () => {
    if (!spec && !existsSync(logFile)) throw new UsageError(`no agent named "${agent}" in ${config.file}, and no log file of an agent of that name (${logFile})`, 2);
    write(cut(readTail(logFile, want)));
    return 0;
  };
  if (!runningInfo(config)) {
    if (o.follow || o.screen) throw notRunning(config);
    // Nothing runs: the log file still has the output of the last run.
    return fromFile();
  }
  return withSession(files, async (s) => {
    if (!spec && !o.follow && !o.screen && !(await ask(s.client, 'ps', {}, 'ps')).agents.some((a) => a.name === agent)) return fromFile();
    if (o.screen) {
      const screen = await ask(s.client, 'screen', { agent, format: o.screen, scrollback: o.lines ?? 0 }, `logs --screen ${agent}`);
      out.write(`${screen.text}\n`);
      return 0;
    }
    if (!o.follow) {
      const ring = await ask(s.client, 'logs', { agent, bytes: want }, `logs ${agent}`);
      write(cut(Buffer.from(ring.data)));
      return 0;
    }
    const f = await follow(s, [agent], () => ask(s.client, 'logs', { agent, bytes: want }, `logs ${agent}`), (ring) => ring.seq);
    write(cut(Buffer.from(f.first.data)));
    f.live((r) => {
      if (r.gap > 0 && r.msg.kind === 'output') process.stderr.write(`\norchestra: ${r.gap} output message(s) of ${agent} missed (subscriber too slow)\n`);
      if (r.msg.kind === 'output') write(r.msg.data);
    });
    const interrupted = new Promise<void>((res) => {
      process.once('SIGINT', () => res());
      process.once('SIGTERM', () => res());
    });
    await Promise.race([f.supervisorGone, interrupted]);
    f.close();
    return 0;
  });
}

export function parseLines(v: string): number {
  if (!/^\d+$/.test(v)) throw new UsageError(`-n expects a whole number, got "${v}"`);
  return Number(v);
}
