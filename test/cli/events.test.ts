import { describe, expect, it } from 'vitest';
import type { HeadlessBody, MessageOf, TaskEvent } from '../../src/bus/protocol.js';
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

const run = (body: HeadlessBody): MessageOf<'headless'> => ({ v: 1, run: 'r', agent: 'coder-t7', seq: 1, ts, ...body });

describe('events: one line per headless run message', () => {
  it.each([
    [run({ kind: 'headless', task: 't7', event: 'started', template: 'coder', pid: 42, worktree: null }), '06:00:01.250 coder-t7 headless started from template coder (task t7) pid 42'],
    [run({ kind: 'headless', task: 't7', event: 'stream', data: { type: 'result', result: 'hi' } }), '06:00:01.250 coder-t7 headless {"type":"result","result":"hi"}'],
    [run({ kind: 'headless', task: null, event: 'skipped', why: 'not a JSON object', excerpt: 'warming up' }), '06:00:01.250 coder-t7 headless SKIPPED LINE: not a JSON object: "warming up"'],
    [
      run({ kind: 'headless', task: 't7', event: 'ended', template: 'coder', worktree: null, result: { ok: false, text: '', durationMs: 1500, exitCode: null, signal: 'SIGTERM', reason: 'timed out after 1000ms' } }),
      '06:00:01.250 coder-t7 headless ended (task t7): failed: timed out after 1000ms in 1s',
    ],
  ])('%#', (msg, line) => {
    expect(toLine(msg, 0)).toBe(line);
  });
});
