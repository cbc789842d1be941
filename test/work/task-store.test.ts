import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_QUEUE_OPTIONS, TaskQueue } from '../../src/work/task-queue.js';
import { EMPTY_QUEUE, loadTasks, saveTasks, tasksFile } from '../../src/work/task-store.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'orchestra-tasks-'));
  file = tasksFile(join(dir, 'state'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const now = Date.UTC(2026, 11, 1, 6, 0);

describe('task store', () => {
  it('round-trips the queue: queued and started tasks, keys, vars, backoff, the next id', () => {
    const q = new TaskQueue({ ...DEFAULT_QUEUE_OPTIONS, random: () => 0.5 });
    q.add({ target: { template: 'coder' }, prompt: 'fix it\nplease ✓', priority: 2, key: 'issue-1', vars: { issue: '1' }, attempts: 3 }, now);
    q.add({ target: { pool: 'crew' }, prompt: 'review', priority: -1 }, now + 1);
    q.add({ target: { template: 'coder' }, prompt: 'flaky', attempts: 2 }, now + 2);
    q.start('t1', 'coder-t1', now + 3);
    q.start('t3', 'coder-t3', now + 3);
    q.fail('t3', now + 4, 'exit code 1');
    saveTasks(file, q.persisted());
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const loaded = loadTasks(file, now + 5);
    expect(loaded).toEqual({ queue: q.persisted() });
    const r = TaskQueue.restore(loaded.queue);
    expect(r.waiting().map((t) => [t.id, t.attempt, t.notBefore])).toEqual([
      ['t2', 0, undefined],
      ['t3', 1, q.get('t3')?.notBefore],
      ['t1', 1, undefined],
    ]);
    expect(r.add({ target: { pool: 'crew' }, prompt: 'x' }, now + 6).body.id).toBe('t4');
  });

  it('no file is an empty queue', () => {
    expect(loadTasks(file, now)).toEqual({ queue: EMPTY_QUEUE });
  });

  it('a save replaces the file whole and leaves no temporary file behind', () => {
    const q = new TaskQueue();
    q.add({ target: { template: 'coder' }, prompt: 'a' }, now);
    saveTasks(file, q.persisted());
    q.add({ target: { template: 'coder' }, prompt: 'b' }, now);
    saveTasks(file, q.persisted());
    expect(loadTasks(file, now).queue.tasks.map((t) => t.prompt)).toEqual(['a', 'b']);
    expect(readdirSync(join(dir, 'state'))).toEqual(['tasks.json']);
  });

  it('a corrupt file (not JSON) is moved aside with a warning saying where it broke, and the queue starts empty', () => {
    saveTasks(file, new TaskQueue().persisted());
    writeFileSync(file, '{"format": 1,\n  "nextOrder": 3,\n  "tasks": [ {"id": "t1",, } ]\n}\n');
    const loaded = loadTasks(file, now);
    const aside = `${file}.corrupt-2026-12-01T06-00-00-000Z`;
    expect(loaded.queue).toEqual(EMPTY_QUEUE);
    expect(loaded.warning).toMatch(new RegExp(`^the task queue ${file} is not one \\(not JSON at line 3 column 26: .+\\); moved it to ${aside} and started with an empty queue$`));
    expect(existsSync(file)).toBe(false);
    expect(readFileSync(aside, 'utf8')).toContain('"id": "t1",,');
  });

  it('a file of the wrong shape is moved aside too, naming the fields', () => {
    const bad = { format: 1, nextOrder: 2, tasks: [{ id: 't1', target: { template: 'coder' }, prompt: 'a', priority: 'high', vars: {}, attempts: 1, attempt: 0, order: 1, addedAt: now, state: 'running' }] };
    saveTasks(file, EMPTY_QUEUE);
    writeFileSync(file, JSON.stringify(bad));
    const w = loadTasks(file, now).warning;
    expect(w).toContain('tasks.0.priority: ');
    expect(w).toContain('tasks.0.state: ');
    expect(w).toContain('moved it to');
    writeFileSync(file, JSON.stringify({ format: 2, nextOrder: 1, tasks: [] }));
    expect(loadTasks(file, now).warning).toContain('(format: expected format: 1)');
  });

  it('a file that cannot be read is an error, not an empty queue that would overwrite it', () => {
    saveTasks(file, EMPTY_QUEUE);
    rmSync(file);
    // A directory where the file should be: unreadable as a file.
    saveTasks(join(file, 'x'), EMPTY_QUEUE);
    expect(() => loadTasks(file, now)).toThrow(`cannot read the task queue ${file}: EISDIR`);
  });
});
