/** `orchestra task add|cancel` and `orchestra tasks` (the queue's status snapshot): the task queue of a running session (docs/work.md#tasks). */
import type { Results } from '../bus/control-protocol.js';
import type { Target } from '../work/task-queue.js';
import { UsageError } from './errors.js';
import { formatDuration, withSession } from './ops.js';
import { ask } from './session-client.js';

export interface TaskAddOptions {
  readonly template?: string | undefined;
  readonly pool?: string | undefined;
  readonly priority?: number | undefined;
  readonly key?: string | undefined;
  readonly vars: Readonly<Record<string, string>>;
  readonly attempts?: number | undefined;
}

/** `--priority` and `--attempts`: whole numbers. */
export function parseInteger(flag: string): (text: string) => number {
  return (text) => {
    if (!/^-?\d+$/.test(text)) throw new UsageError(`${flag} expects a whole number, got "${text}"`);
    return Number(text);
  };
}

/** Prints the task's id on stdout (for scripts); a refused task exits 1 with the reason. */
export async function taskAdd(files: readonly string[], prompt: string, o: TaskAddOptions, out: NodeJS.WritableStream): Promise<number> {
  if ((o.template === undefined) === (o.pool === undefined)) throw new UsageError('task add needs exactly one of --template T (an agent spawned per task) and --pool P (sent to a ready agent of the pool)');
  if (prompt.trim() === '') throw new UsageError('task add needs the task: PROMPT');
  return withSession(files, async ({ client }) => {
    const args = { template: o.template, pool: o.pool, prompt, priority: o.priority, key: o.key, vars: { ...o.vars }, attempts: o.attempts };
    const r = await ask(client, 'task.add', args, 'task add');
    if (r.outcome === 'refused') {
      process.stderr.write(`orchestra: task ${r.id} refused: ${r.reason}\n`);
      return 1;
    }
    out.write(`${r.id}\n`);
    return 0;
  });
}

export async function taskCancel(files: readonly string[], id: string, out: NodeJS.WritableStream): Promise<number> {
  return withSession(files, async ({ client }) => {
    const r = await ask(client, 'task.cancel', { id }, `task cancel ${id}`);
    if (!r.cancelled) {
      process.stderr.write(`orchestra: ${r.reason}\n`);
      return 1;
    }
    out.write(`${id}: cancelled (was ${r.was === 'started' ? 'running' : 'queued'})\n`);
    return 0;
  });
}

export async function tasks(files: readonly string[], json: boolean, recent: number, out: NodeJS.WritableStream): Promise<number> {
  return withSession(files, async ({ client }) => {
    const r = await ask(client, 'task.list', { recent }, 'tasks');
    out.write(json ? `${JSON.stringify(r)}\n` : statusText(r));
    return 0;
  });
}

/** Tasks often take less than a second: those show in ms. */
const took = (ms: number) => (ms < 1000 ? `${Math.round(ms)}ms` : formatDuration(ms));
const target = (t: Target) => ('template' in t ? `template ${t.template}` : `pool ${t.pool}`);
const oneLine = (text: string, max = 60) => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

/** The snapshot for people: counts, pauses, running, waiting (with why), recent results. */
export function statusText(s: Results['task.list'], now = Date.now()): string {
  const c = s.counts;
  const lines = [
    `${s.active.length} running, ${s.queued.length} queued; ${c.invocations} started, ${c.successes} done, ${c.failures} failed${c.meanDurationMs === null ? '' : `, mean ${took(c.meanDurationMs)}`}`,
  ];
  for (const p of s.paused) lines.push(`paused: ${p.provider} until ${new Date(p.until).toISOString()} (${p.reason})`);
  if (s.active.length > 0) lines.push('', 'RUNNING', ...s.active.map((t) => `  ${t.id}  ${target(t.target)}  ${t.agent ?? '-'}  attempt ${t.attempt}/${t.attempts}  ${took(now - (t.startedAt ?? now))}  ${oneLine(t.prompt)}`));
  if (s.queued.length > 0) lines.push('', 'QUEUED', ...s.queued.map((t) => `  ${t.id}  ${target(t.target)}  priority ${t.priority}  ${oneLine(t.prompt)}${t.waiting ? `\n      waiting: ${t.waiting}` : ''}`));
  if (s.recent.length > 0) {
    lines.push(
      '',
      'RECENT',
      ...s.recent.map((o) => {
        const what = o.outcome === 'done' ? (o.result ? JSON.stringify(o.result) : '') : (o.reason ?? '');
        return `  ${o.id}  ${o.outcome}  ${target(o.target)}  ${o.agent ?? '-'}${o.durationMs === undefined ? '' : `  ${took(o.durationMs)}`}  ${oneLine(what, 80)}`;
      }),
    );
  }
  return `${lines.map((l) => l.trimEnd()).join('\n')}\n`;
}
