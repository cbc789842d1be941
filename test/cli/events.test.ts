import { describe, expect, it } from 'vitest';
import type { MessageOf, TaskEvent } from '../../src/bus/protocol.js';
import { toLine } from '../../src/cli/events.js';

const ts = Date.UTC(2026, 11, 1, 6, 0, 1, 250);
const task = (agent: string, body: TaskEvent): MessageOf<'task'> => ({ v: 1, run: 'r', agent, seq: 1, ts, kind: 'task', ...body });
const about = { id: 't7', target: { template: 'coder' }, key: 'issue-12' } as const;

describe('events: one line per task message', () => {
  it.each([
    [task('', { ...about, event: 'queued', priority: 0, attempts: 3, position: 2 }), '06:00:01.250 - task t7 [issue-12] queued for template coder (priority 0, position 2)'],
    [task('', { id: 't8', target: { pool: 'crew' }, event: 'refused', why: 'full', reason: 'the queue is full: 2 tasks queued (at most 2)' }), '06:00:01.250 - task t8 refused (full): the queue is full: 2 tasks queued (at most 2)'],
    [task('coder-t7', { ...about, event: 'started', attempt: 1 }), '06:00:01.250 coder-t7 task t7 [issue-12] started (attempt 1)'],
    [task('coder-t7', { ...about, event: 'done', attempt: 1, durationMs: 65_000, result: { text: 'ok' } }), '06:00:01.250 coder-t7 task t7 [issue-12] done in 1m05s: {"text":"ok"}'],
    [task('coder-t7', { ...about, event: 'requeued', attempt: 1, durationMs: 10, reason: 'exit code 1', delayMs: 10_000 }), '06:00:01.250 coder-t7 task t7 [issue-12] requeued after attempt 1, retry in 10s: exit code 1'],
    [task('coder-t7-3', { ...about, event: 'failed', attempt: 3, durationMs: 10, reason: 'exit code 1 (attempt 3 of 3)' }), '06:00:01.250 coder-t7-3 task t7 [issue-12] failed after attempt 3: exit code 1 (attempt 3 of 3)'],
    [task('w1', { ...about, event: 'cancelled', was: 'started', reason: 'cancelled on request' }), '06:00:01.250 w1 task t7 [issue-12] cancelled (was started): cancelled on request'],
  ])('%#', (msg, line) => {
    expect(toLine(msg, 0)).toBe(line);
  });
});
