/**
 * `orchestra logs` without an agent: every agent's output, each line prefixed with its name, as
 * `docker compose logs` does. The catch-up goes agent by agent (the ring buffers keep bytes, not
 * their times); with -f the live output of all agents follows interleaved as it comes.
 */
import { statSync } from 'node:fs';
import { TextDecoder } from 'node:util';
import type { AgentConfig } from '../config/types.js';
import { loadConfigFiles } from '../config/load.js';
import { follow } from './follow.js';
import { lastLines, readTail } from './logs.js';
import { withSession } from './ops.js';
import { COLOURS } from './prefix-printer.js';
import { sanitizeForPrefix } from './sanitize.js';
import { ask, notRunning, runningInfo } from './session-client.js';

export interface AllLogsOptions {
  readonly follow: boolean;
  /** Last N lines of each agent's catch-up. */
  readonly lines?: number;
  /** Last N bytes of each agent's catch-up (default: its whole ring buffer). */
  readonly bytes?: number;
  /** Only agents with output in the last `sinceMs`. */
  readonly sinceMs?: number;
  /** Live lines start with the time of the output that ended them. */
  readonly timestamps: boolean;
  readonly colour: boolean;
}

/** Cuts each agent's bytes into prefixed lines; a line's end may come in a later chunk. */
export class PrefixedLines {
  private readonly lanes = new Map<string, { prefix: string; decoder: TextDecoder; partial: string }>();

  constructor(names: readonly string[], colour: boolean) {
    const width = Math.max(0, ...names.map((n) => n.length));
    names.forEach((name, i) => {
      const label = `${name.padEnd(width)} | `;
      const prefix = colour ? `\x1b[${COLOURS[i % COLOURS.length]}m${label}\x1b[0m` : label;
      this.lanes.set(name, { prefix, decoder: new TextDecoder('utf-8'), partial: '' });
    });
  }

  /** The complete lines `data` ends, each prefixed (and stamped with `ts`, when given). */
  push(agent: string, data: Uint8Array, ts?: number): string {
    const l = this.lanes.get(agent);
    if (!l) return '';
    const lines = (l.partial + l.decoder.decode(data, { stream: true })).split('\n');
    l.partial = lines.pop() ?? '';
    const stamp = ts === undefined ? '' : `${new Date(ts).toISOString()} `;
    return lines.map((text) => `${l.prefix}${stamp}${sanitizeForPrefix(text)}\n`).join('');
  }

  /** Every unfinished line, at the end. */
  end(): string {
    let out = '';
    for (const l of this.lanes.values()) if (l.partial) out += `${l.prefix}${sanitizeForPrefix(l.partial)}\n`;
    return out;
  }
}

/** When the agent last wrote output: its log file's modification time (0: never). */
function lastOutput(a: AgentConfig): number {
  try {
    return statSync(a.log.file).mtimeMs;
  } catch {
    return 0;
  }
}

export async function logsAll(files: readonly string[], o: AllLogsOptions, out: NodeJS.WritableStream): Promise<number> {
  const config = loadConfigFiles(files);
  const names = config.agents.map((a) => a.name);
  const lines = new PrefixedLines(names, o.colour);
  const since = o.sinceMs === undefined ? 0 : Date.now() - o.sinceMs;
  const shown = config.agents.filter((a) => lastOutput(a) >= since && lastOutput(a) > 0);
  const want = (a: AgentConfig) => o.bytes ?? a.log.ringSize;
  const print = (agent: string, data: Uint8Array, ts?: number) => out.write(lines.push(agent, data, ts));
  const catchUp = (agent: string, data: Uint8Array) => print(agent, o.lines === undefined ? data : lastLines(Buffer.from(data), o.lines));
  if (!runningInfo(config)) {
    if (o.follow) throw notRunning(config);
    // Nothing runs: the log files still have the output of the last run.
    for (const a of shown) catchUp(a.name, readTail(a.log.file, want(a)));
    out.write(lines.end());
    return 0;
  }
  return withSession(files, async (s) => {
    const read = async () => new Map(await Promise.all(shown.map(async (a) => [a.name, await ask(s.client, 'logs', { agent: a.name, bytes: want(a) }, `logs ${a.name}`)] as const)));
    if (!o.follow) {
      for (const [agent, ring] of await read()) catchUp(agent, ring.data);
      out.write(lines.end());
      return 0;
    }
    const f = await follow(s, names, read, (rings, agent) => rings.get(agent)?.seq ?? 0);
    for (const [agent, ring] of f.first) catchUp(agent, ring.data);
    f.live((r) => {
      if (r.msg.kind !== 'output') return;
      if (r.gap > 0) process.stderr.write(`\norchestra: ${r.gap} output message(s) of ${r.msg.agent} missed (subscriber too slow)\n`);
      print(r.msg.agent, r.msg.data, o.timestamps ? r.msg.ts : undefined);
    });
    const interrupted = new Promise<void>((res) => {
      process.once('SIGINT', () => res());
      process.once('SIGTERM', () => res());
    });
    await Promise.race([f.supervisorGone, interrupted]);
    f.close();
    out.write(lines.end());
    return 0;
  });
}
