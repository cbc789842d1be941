/**
 * `orchestra events`: a monitor on the terminal. Subscribes to the bus (by agent and kind), prints one
 * line per message — human or JSON — and runs until Ctrl-C, across supervisor restarts.
 */
import { endpoints } from '../host/session.js';
import { BusSubscriber, type Received } from '../bus/client.js';
import { KINDS, type Kind, type Message, type MessageOf } from '../bus/protocol.js';
import { loadConfigFiles } from '../config/load.js';
import { UsageError } from './errors.js';
import { formatDuration } from './ops.js';
import { sanitizeForPrefix } from './sanitize.js';
import { ask, checkAgent, runningInfo } from './session-client.js';
import { ControlClient } from '../bus/control-client.js';

export interface EventsOptions {
  readonly agents: readonly string[];
  readonly kinds: readonly Kind[];
  readonly json: boolean;
  /** Kept sidecar events to print first (per agent). */
  readonly catchUp: number;
  /** Print the catch-up and exit. */
  readonly once: boolean;
}

/** Default kinds: everything but raw output (use --kind output for it). */
export const DEFAULT_KINDS: readonly Kind[] = KINDS.filter((k) => k !== 'output');

export function parseKinds(values: readonly string[]): Kind[] {
  const kinds = values.flatMap((v) => v.split(',')).map((k) => k.trim()).filter(Boolean);
  for (const k of kinds) if (!(KINDS as readonly string[]).includes(k)) throw new UsageError(`--kind expects one of ${KINDS.join(', ')}, got "${k}"`);
  return kinds as Kind[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A message as one JSON object: bytes as UTF-8 text when they are valid UTF-8, else base64. */
export function toJson(topic: string, gap: number, msg: Message): string {
  const out: Record<string, unknown> = { topic, gap, ...msg };
  if (msg.kind === 'output') {
    delete out.data;
    try {
      out.data = utf8.decode(msg.data);
    } catch {
      out.data_base64 = Buffer.from(msg.data).toString('base64');
    }
  }
  return JSON.stringify(out);
}

function clock(ts: number): string {
  return new Date(ts).toISOString().slice(11, 23);
}

export function toLine(msg: Message, gap: number): string {
  // A task not running on an agent (queued, refused, cancelled while queued) has agent "".
  const who = msg.kind === 'supervisor' ? 'supervisor' : msg.agent || '-';
  const head = `${clock(msg.ts)} ${who} ${msg.kind}${msg.replay ? ' (current)' : ''}`;
  const missed = gap > 0 ? ` [missed ${gap}]` : '';
  let body: string;
  switch (msg.kind) {
    case 'state':
      body = `${msg.from ?? 'new'} -> ${msg.to}${msg.blocked ? ` on ${msg.blocked.on}` : ''} (${msg.reason})${msg.pid ? ` pid ${msg.pid}` : ''}`;
      break;
    case 'alert':
      body = `blocked on ${msg.on} for ${formatDuration(msg.forMs)}${msg.then === 'none' ? '' : `; ${msg.then}`}: ${msg.evidence[0] ?? ''}`;
      break;
    case 'exit':
      body = `${msg.signal ?? `code ${msg.code}`} (cause ${msg.cause}, ran ${formatDuration(msg.runMs)})`;
      break;
    case 'restart':
      body = msg.action === 'restart' ? `restart in ${msg.delayMs}ms (attempt ${msg.attempt}, ${msg.budgetLeft} left): ${msg.reason}` : `give up (${msg.why}): ${msg.reason}`;
      break;
    case 'input':
      body = `${msg.request} ${msg.id} ${msg.outcome}: ${msg.reason}`;
      break;
    case 'sidecar':
      body = msg.ok ? `${msg.type} ${JSON.stringify(msg.event)}` : `INVALID LINE (${msg.bytes} bytes): ${msg.error}: ${JSON.stringify(msg.excerpt)}`;
      break;
    case 'drops':
      body = `${msg.dropped} output messages (${msg.droppedBytes} bytes) dropped by the publisher`;
      break;
    case 'supervisor':
      body = `${msg.event} (pid ${msg.pid}, session ${msg.session}, agents ${msg.agents.join(', ')})`;
      break;
    case 'task':
      body = taskLine(msg);
      break;
    case 'agent':
      body = agentLine(msg);
      break;
    case 'headless':
      body = headlessLine(msg);
      break;
    case 'output': {
      const text = sanitizeForPrefix(Buffer.from(msg.data).toString('utf8')).replace(/\n/g, '\\n');
      body = `${msg.data.length} bytes: ${text.length > 200 ? `${text.slice(0, 200)}…` : text}`;
      break;
    }
  }
  return `${head} ${body}${missed}`;
}

function taskLine(msg: MessageOf<'task'>): string {
  const id = `${msg.id}${msg.key === undefined ? '' : ` [${msg.key}]`}`;
  switch (msg.event) {
    case 'queued':
      return `${id} queued for ${'template' in msg.target ? `template ${msg.target.template}` : `pool ${msg.target.pool}`} (priority ${msg.priority}, position ${msg.position})`;
    case 'refused':
      return `${id} refused (${msg.why}): ${msg.reason}`;
    case 'started':
      return `${id} started (attempt ${msg.attempt})`;
    case 'done':
      return `${id} done in ${formatDuration(msg.durationMs)}${msg.result ? `: ${JSON.stringify(msg.result).slice(0, 200)}` : ''}`;
    case 'requeued':
      return `${id} requeued after attempt ${msg.attempt}, retry in ${formatDuration(msg.delayMs)}: ${msg.reason}`;
    case 'failed':
      return `${id} failed after attempt ${msg.attempt}: ${msg.reason}`;
    case 'cancelled':
      return `${id} cancelled (was ${msg.was}): ${msg.reason}`;
  }
}

/** An ephemeral agent's life, one line per event. */
function agentLine(msg: MessageOf<'agent'>): string {
  const wt = msg.event !== 'ended' && msg.worktree ? ` worktree ${msg.worktree.path} (branch ${msg.worktree.branch}${msg.worktree.outcome ? `: ${msg.worktree.outcome}` : ''})` : '';
  if (msg.event !== 'ended') return `${msg.event} from template ${msg.template}${wt}`;
  const exit = msg.exit ? ` (${msg.exit.signal ?? `code ${msg.exit.code}`})` : '';
  return `ended: ${msg.how}${exit}${msg.result ? ` result ${JSON.stringify(msg.result)}` : ''}`;
}

/** A headless run's life and stream, one line per message. */
function headlessLine(msg: MessageOf<'headless'>): string {
  const task = msg.task === null ? '' : ` (task ${msg.task})`;
  switch (msg.event) {
    case 'started':
      return `started from template ${msg.template}${task}${msg.pid === null ? '' : ` pid ${msg.pid}`}`;
    case 'stream':
      return JSON.stringify(msg.data).slice(0, 200);
    case 'skipped':
      return `SKIPPED LINE: ${msg.why}: ${JSON.stringify(msg.excerpt)}`;
    case 'ended': {
      const r = msg.result;
      return `ended${task}: ${r.ok ? 'ok' : `failed: ${r.reason ?? ''}`} in ${formatDuration(r.durationMs)}${r.text ? `: ${JSON.stringify(r.text.slice(0, 200))}` : ''}`;
    }
  }
}

export async function events(files: readonly string[], o: EventsOptions, out: NodeJS.WritableStream): Promise<number> {
  const config = loadConfigFiles(files);
  for (const a of o.agents) checkAgent(config, a);
  const kinds = o.kinds.length > 0 ? o.kinds : DEFAULT_KINDS;
  const print = (topic: string, gap: number, msg: Message) => out.write(`${o.json ? toJson(topic, gap, msg) : toLine(msg, gap)}\n`);
  const info = runningInfo(config);
  const endpoint = info?.publish ?? endpoints(config).publish;
  // Subscribe first: nothing published after the catch-up is read can be missed.
  const sub = o.once ? undefined : new BusSubscriber(endpoint, { kinds, agents: o.agents.length > 0 ? o.agents : undefined });
  let caughtUpTo = new Map<string, number>();
  if (o.catchUp > 0 && kinds.includes('sidecar') && info) {
    const client = new ControlClient(info.control);
    try {
      const agents = o.agents.length > 0 ? o.agents : [undefined];
      const kept = (await Promise.all(agents.map((agent) => ask(client, 'events', { agent, n: o.catchUp }, 'events')))).flatMap((r) => r.events);
      for (const m of kept.sort((a, b) => a.ts - b.ts)) {
        const topic = `sidecar/${m.agent}/`;
        print(topic, 0, m);
        caughtUpTo.set(topic, Math.max(caughtUpTo.get(topic) ?? 0, m.seq));
      }
    } finally {
      await client.close();
    }
  }
  if (!sub) return 0;
  if (!info) process.stderr.write(`orchestra: session "${config.session}" is not running; waiting for it on ${endpoint}\n`);
  const stop = new Promise<void>((res) => {
    process.once('SIGINT', () => res());
    process.once('SIGTERM', () => res());
  });
  const pump = (async () => {
    for await (const r of sub as AsyncIterable<Received>) {
      if (r.newRun) caughtUpTo = new Map();
      if (r.msg.seq <= (caughtUpTo.get(r.topic) ?? 0)) continue;
      print(r.topic, r.gap, r.msg);
    }
  })();
  await Promise.race([stop, pump]);
  sub.close();
  return 0;
}
