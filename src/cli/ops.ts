/** Commands that operate a running crew through its control socket: ps, send, keys, stop/start/restart, down. */
import { readFileSync } from 'node:fs';
import type { AgentStatus, InputResult } from '../bus/control-protocol.js';
import { alive } from '../host/session.js';
import { UsageError } from './errors.js';
import { loadConfigFiles } from '../config/load.js';
import { ask, checkAgent, connect, runningInfo, type Running } from './session-client.js';

/** Runs `fn` with a connection to the running supervisor and always closes it. */
export async function withSession<T>(files: readonly string[], fn: (s: Running) => Promise<T>): Promise<T> {
  const s = connect(files);
  try {
    return await fn(s);
  } finally {
    await s.client.close();
  }
}

export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`;
}

/** EXIT: the code or signal of a run that ended by itself, else how it ended (`stopped`, `spawn failed`, `ready timeout`…). */
function exitColumn(e: AgentStatus['lastExit']): string {
  if (!e) return '-';
  if (e.cause !== 'exit') return e.cause.replace('-', ' ');
  return e.signal ?? (e.code === null ? '-' : String(e.code));
}

/** States in which nothing runs: ps says why. */
const HALTED: ReadonlySet<AgentStatus['state']> = new Set(['stopped', 'exited', 'restarting', 'dead']);

/** WHY: for an agent that does not run (or waits for a dependency), the reason of its state, and how its last run ended when that reason does not say it. */
function whyColumn(a: AgentStatus): string {
  // Blocked with no dialog on screen: blocked on a dependency, which the reason names.
  const waits = HALTED.has(a.state) || (a.state === 'blocked' && !a.blocked);
  if (!waits || !a.reason) return '-';
  const ended = a.lastExit?.reason;
  return a.state === 'dead' && ended && !a.reason.includes(ended) ? `${a.reason} (last run: ${ended})` : a.reason;
}

export function psTable(agents: readonly AgentStatus[], now = Date.now()): string {
  const rows = [['NAME', 'STATE', 'PID', 'UPTIME', 'RESTARTS', 'LAST-OUTPUT', 'EXIT', 'QUEUED', 'ROLE', 'WHY']];
  for (const a of agents) {
    rows.push([
      a.name,
      a.blocked ? `blocked (${a.blocked.on}, ${formatDuration(now - a.blocked.since)})` : a.state,
      a.pid === null ? '-' : String(a.pid),
      a.startedAt === null ? '-' : formatDuration(now - a.startedAt),
      String(a.restarts),
      a.lastOutputAt === null ? '-' : `${formatDuration(now - a.lastOutputAt)} ago`,
      exitColumn(a.lastExit),
      String(a.queued),
      a.role,
      whyColumn(a),
    ]);
  }
  return formatTable(rows);
}

/** Rows as aligned columns (the last one not padded), the first row the header. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

export async function ps(files: readonly string[], json: boolean, out: NodeJS.WritableStream): Promise<number> {
  if (json) {
    // A script reads JSON either way: nothing running is an empty crew, not an error text.
    const config = loadConfigFiles(files);
    if (!runningInfo(config)) {
      out.write(`${JSON.stringify({ session: config.session, pid: null, run: null, agents: [] })}\n`);
      return 0;
    }
  }
  return withSession(files, async ({ client }) => {
    const r = await ask(client, 'ps', {}, 'ps');
    out.write(json ? `${JSON.stringify(r)}\n` : psTable(r.agents));
    return 0;
  });
}

export interface SendOptions {
  readonly now: boolean;
  readonly timeoutMs: number;
  readonly id?: string;
}

/** An input's outcome as `send` prints it: exit 0 only if it reached the agent. */
export function reportInput(agent: string, what: string, r: InputResult, out: NodeJS.WritableStream): number {
  // `confirmed`: the agent itself reported the prompt (hooks); `delivered`: typed and submitted.
  if (r.outcome === 'delivered' || r.outcome === 'confirmed') {
    out.write(`${agent}: ${what} ${r.id}: ${r.outcome}\n`);
    return 0;
  }
  process.stderr.write(`orchestra: ${what} to ${agent} (id ${r.id}): ${r.outcome}: ${r.reason}\n`);
  return 1;
}

/** `text` of "-" reads standard input (multi-line and long texts). */
export async function send(files: readonly string[], agent: string, text: string, o: SendOptions, out: NodeJS.WritableStream): Promise<number> {
  // From standard input, one final newline is the end of the input, not part of the text.
  const body = text === '-' ? readFileSync(0, 'utf8').replace(/\r?\n$/, '') : text;
  return withSession(files, async ({ config, client }) => {
    checkAgent(config, agent);
    const args = { agent, text: body, mode: o.now ? ('now' as const) : ('wait-idle' as const), timeout_ms: o.timeoutMs, id: o.id };
    // The send's own timeout bounds the wait to be typed; an agent with hooks then has 10 s to
    // confirm it (docs/hooks.md): the reply can come that much later.
    const r = await ask(client, 'send', args, `send to ${agent}`, o.timeoutMs + 30_000);
    return reportInput(agent, 'send', r, out);
  });
}

export async function key(files: readonly string[], agent: string, which: 'interrupt' | 'escape', out: NodeJS.WritableStream): Promise<number> {
  return withSession(files, async ({ config, client }) => {
    checkAgent(config, agent);
    const r = await ask(client, which, { agent }, `${which} ${agent}`);
    return reportInput(agent, which, r, out);
  });
}

/** stop / start / restart of the named agents (none named: all, stopped dependents first), one after the other. */
export async function lifecycle(files: readonly string[], cmd: 'stop' | 'start' | 'restart', named: readonly string[], out: NodeJS.WritableStream): Promise<number> {
  return withSession(files, async ({ config, client }) => {
    for (const a of named) checkAgent(config, a);
    // All: the session's agents (`up NAME` may have started only some), in start order.
    const all = named.length > 0 ? [] : (await ask(client, 'ps', {}, 'ps')).agents.map((a) => a.name);
    const agents = named.length > 0 ? named : cmd === 'stop' ? all.reverse() : all;
    for (const agent of agents) {
      const r = await ask(client, cmd, { agent }, `${cmd} ${agent}`, 180_000);
      out.write(`${agent}: ${r.state}\n`);
    }
    return 0;
  });
}

/** OS fact: the supervisor process is gone. Polled, bounded. */
async function waitExit(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** Stops every agent in reverse dependency order; returns once the supervisor has exited. */
export async function down(files: readonly string[], out: NodeJS.WritableStream): Promise<number> {
  const config = loadConfigFiles(files);
  // Idempotent, like `docker compose down`: the wanted end state is already there.
  if (!runningInfo(config)) {
    out.write(`session "${config.session}" is not running: nothing to stop\n`);
    return 0;
  }
  return withSession(files, async ({ config, info, client }) => {
    await ask(client, 'down', {}, 'down', 600_000);
    if (!(await waitExit(info.pid, 30_000))) throw new UsageError(`every agent is stopped, but the supervisor (pid ${info.pid}) has not exited`, 1);
    out.write(`session "${config.session}" is down\n`);
    return 0;
  });
}
