import { describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../src/bus/control-protocol.js';
import { psTable } from '../../src/cli/ops.js';

const agent = (over: Partial<AgentStatus>): AgentStatus => ({
  name: 'a',
  state: 'ready',
  pid: 10,
  startedAt: 0,
  restarts: 0,
  lastOutputAt: null,
  reason: 'quiet for 2000ms',
  lastExit: null,
  queued: 0,
  role: 'crew',
  ...over,
});
const exit = (cause: NonNullable<AgentStatus['lastExit']>['cause'], code: number | null, signal: string | null, reason: string) => ({ code, signal, at: 0, cause, reason });

/** The EXIT and WHY cells of one agent's row (the table is aligned on its header). */
function cells(a: AgentStatus): [string, string] {
  const [header = '', row = ''] = psTable([a], 0).split('\n');
  return [row.slice(header.indexOf('EXIT'), header.indexOf('QUEUED')).trim(), row.slice(header.indexOf('WHY')).trim()];
}

/** One column's cell of one agent's row. */
function cell(a: AgentStatus, column: string, next: string): string {
  const [header = '', row = ''] = psTable([a], 0).split('\n');
  return row.slice(header.indexOf(column), header.indexOf(next)).trim();
}

describe('ps table', () => {
  it('EXIT: the code or signal of a run that ended by itself, else how it ended; WHY only for an agent that does not run', () => {
    expect(cells(agent({ lastExit: exit('exit', 1, null, 'exit code 1') }))).toEqual(['1', '-']);
    expect(cells(agent({ state: 'restarting', pid: null, reason: 'restart in 1000ms', lastExit: exit('exit', null, 'SIGKILL', 'killed by SIGKILL') }))).toEqual(['SIGKILL', 'restart in 1000ms']);
    expect(cells(agent({ state: 'stopped', pid: null, reason: 'stop requested', lastExit: exit('stopped', null, null, 'stop requested') }))).toEqual(['stopped', 'stop requested']);
    expect(cells(agent({ state: 'exited', pid: null, reason: 'ready timeout', lastExit: exit('ready-timeout', null, 'SIGTERM', 'ready timeout') }))).toEqual(['ready timeout', 'ready timeout']);
    expect(cells(agent({ lastExit: exit('worker-crash', null, null, 'worker thread crashed') }))[0]).toBe('worker crash');
    expect(cells(agent({ state: 'pending', pid: null, reason: null }))).toEqual(['-', '-']);
  });

  it('regression: a spawn failure showed EXIT null; a dead agent says why, with the run\'s end when the decision does not quote it', () => {
    const spawnFailed = exit('spawn-failed', null, null, 'spawn failed: command not found: x');
    expect(cells(agent({ state: 'dead', pid: null, reason: 'spawn failed; not retrying a command that cannot start', lastExit: spawnFailed }))).toEqual([
      'spawn failed',
      'spawn failed; not retrying a command that cannot start (last run: spawn failed: command not found: x)',
    ]);
    const crashed = exit('exit', 3, null, 'exit code 3');
    expect(cells(agent({ state: 'dead', pid: null, reason: 'exit code 3; restart budget exhausted', lastExit: crashed }))).toEqual(['3', 'exit code 3; restart budget exhausted']);
  });

  it('ROLE: a crew agent from the config, or an ephemeral one spawned from a template', () => {
    expect(cell(agent({}), 'ROLE', 'WHY')).toBe('crew');
    expect(cell(agent({ name: 'job-t1', role: 'ephemeral' }), 'ROLE', 'WHY')).toBe('ephemeral');
  });
});
