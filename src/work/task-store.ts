/**
 * The task queue on disk (`STATE_DIR/tasks.json`), so queued work survives a supervisor restart.
 * Written whole to a temporary file, flushed, then renamed over the old one: a crash leaves the
 * old queue or the new one, never half of one. A file that is not a queue is moved aside (and
 * said so) rather than stopping the supervisor or being overwritten.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { PersistedQueue, Task } from './task-queue.js';

const FORMAT = 1;

const int = z.number().int();
const task = z.strictObject({
  id: z.string().min(1),
  target: z.union([z.strictObject({ template: z.string().min(1) }), z.strictObject({ pool: z.string().min(1) })], { error: 'expected {template: NAME} or {pool: NAME}' }),
  prompt: z.string(),
  priority: int,
  key: z.string().optional(),
  vars: z.record(z.string(), z.string()),
  attempts: int.min(1),
  attempt: int.min(0),
  order: int.min(1),
  addedAt: int,
  state: z.enum(['queued', 'started']),
  notBefore: int.optional(),
  lastError: z.string().optional(),
  agent: z.string().optional(),
  startedAt: int.optional(),
});
const file = z.strictObject({ format: z.literal(FORMAT, { error: `expected format: ${FORMAT}` }), nextOrder: int.min(1), tasks: z.array(task) });

// One record, two descriptions (the queue's type, the file's schema): each must fit the other.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameTask: Same<z.output<typeof task>, Task> = true;
void sameTask;

export const EMPTY_QUEUE: PersistedQueue = { nextOrder: 1, tasks: [] };

/** Where a session keeps its queue. */
export function tasksFile(stateDir: string): string {
  return join(stateDir, 'tasks.json');
}

export interface LoadedQueue {
  readonly queue: PersistedQueue;
  /** Set when the file was not a queue: what was wrong and where it was moved. */
  readonly warning?: string;
}

/**
 * The saved queue (empty when there is none). A file that is not one is moved aside to
 * `FILE.corrupt-TIME` and the queue starts empty, with a warning saying so; a file that cannot
 * be read or moved is an error (starting empty would overwrite it on the next save).
 */
export function loadTasks(path: string, now: number): LoadedQueue {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { queue: EMPTY_QUEUE };
    throw new Error(`cannot read the task queue ${path}: ${(err as Error).message}`);
  }
  const problem = check(text);
  if (typeof problem !== 'string') return { queue: problem };
  const aside = `${path}.corrupt-${new Date(now).toISOString().replace(/[:.]/g, '-')}`;
  try {
    renameSync(path, aside);
  } catch (err) {
    throw new Error(`the task queue ${path} is not one (${problem}) and cannot be moved aside: ${(err as Error).message}`);
  }
  return { queue: EMPTY_QUEUE, warning: `the task queue ${path} is not one (${problem}); moved it to ${aside} and started with an empty queue` };
}

/** The queue in `text`, or what is wrong with it (where, what was expected). */
function check(text: string): PersistedQueue | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const at = /position (\d+)/.exec(message)?.[1];
    if (at === undefined) return `not JSON: ${message}`;
    const before = text.slice(0, Number(at)).split('\n');
    return `not JSON at line ${before.length} column ${(before.at(-1)?.length ?? 0) + 1}: ${message.replace(/ in JSON at position \d+.*$/, '')}`;
  }
  const r = file.safeParse(json);
  if (r.success) return { nextOrder: r.data.nextOrder, tasks: r.data.tasks };
  return r.error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : 'the file'}: ${i.message}`)
    .join('; ');
}

/** Saves the queue atomically (temporary file, fsync, rename), readable by its owner only. */
export function saveTasks(path: string, queue: PersistedQueue): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify({ format: FORMAT, ...queue })}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
