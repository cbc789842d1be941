import { describe, expect, it } from 'vitest';
import { TASK_REQUESTS } from '../../src/bus/control-protocol.js';

const issues = (cmd: keyof typeof TASK_REQUESTS, args: unknown) => {
  const r = TASK_REQUESTS[cmd].safeParse(args);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('task.* request schemas', () => {
  it('task.add fills in its defaults', () => {
    expect(TASK_REQUESTS['task.add'].parse({ template: 'coder', prompt: 'fix #12' })).toEqual({ template: 'coder', prompt: 'fix #12', priority: 0, vars: {} });
    expect(TASK_REQUESTS['task.add'].parse({ pool: 'crew', prompt: 'p', priority: -5, key: 'k', vars: { issue: '12' }, attempts: 3 })).toEqual({ pool: 'crew', prompt: 'p', priority: -5, key: 'k', vars: { issue: '12' }, attempts: 3 });
  });

  it('task.add takes exactly one of template and pool', () => {
    const want = [': expected exactly one of template (spawn an agent per task) and pool (send to a ready agent of the pool)'];
    expect(issues('task.add', { prompt: 'p' })).toEqual(want);
    expect(issues('task.add', { template: 't', pool: 'p', prompt: 'p' })).toEqual(want);
  });

  it('task.add names each bad field', () => {
    expect(issues('task.add', { template: 't', prompt: 1, attempts: 0, vars: { a: 1 }, colour: 'red' })).toEqual([
      'prompt: expected args.prompt: the task (string)',
      'vars.a: Invalid input: expected string, received number',
      'attempts: expected args.attempts: an integer from 1 to 100',
      ': Unrecognized key: "colour"',
    ]);
  });

  it('task.list and task.cancel', () => {
    expect(TASK_REQUESTS['task.list'].parse({})).toEqual({ recent: 20 });
    expect(issues('task.cancel', {})).toEqual(['id: expected args.id: a task id']);
    expect(TASK_REQUESTS['task.cancel'].parse({ id: 't3' })).toEqual({ id: 't3' });
  });
});
