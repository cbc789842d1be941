/** Task settings in the config: `pool:` on crew agents, `pools:`, `tasks:`, and concurrency, rate and attempts on templates. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { configErrors } from './config-errors.js';

const dir = mkdtempSync(join(tmpdir(), 'orch-tasks-cfg-'));
const file = join(dir, 'orchestra.yaml');

const errorsOf = (text: string): string[] => configErrors(() => parseConfig(text, file), `${dir}/`, 'D/');

describe('task settings in the config', () => {
  it('resolves pools, the queue settings and a template\'s limits; defaults where unset', () => {
    const cfg = parseConfig(
      'agents:\n  r1: { command: sh, pool: reviewers }\n  r2: { command: sh }\n' +
        'pools:\n  reviewers: { concurrency: 1, attempts: 2 }\n' +
        'templates:\n  coder: { command: sh, concurrency: 3, rate: { per_second: 0.5 }, attempts: 3 }\n  plain: { command: sh }\n' +
        'tasks: { depth: 50, backoff: { initial: 1s, jitter: 0 }, quota_wait: 5m }\n',
      file,
    );
    expect(cfg.agents.map((a) => [a.name, a.pool])).toEqual([['r1', 'reviewers'], ['r2', undefined]]);
    expect(cfg.pools).toEqual([{ name: 'reviewers', concurrency: 1, rate: undefined, attempts: 2 }]);
    expect(cfg.templates.map((t) => [t.name, t.concurrency, t.rate, t.attempts])).toEqual([
      ['coder', 3, { perSecond: 0.5, burst: 1 }, 3],
      ['plain', undefined, undefined, 1],
    ]);
    expect(cfg.tasks).toEqual({ depth: 50, backoff: { initialMs: 1000, factor: 2, maxMs: 600_000, jitter: 0 }, quotaWaitMs: 300_000, keepRecent: 50 });
    // The task limits are the template's, not its agent's settings.
    expect(cfg.templates[0]?.agent).not.toHaveProperty('concurrency');
  });

  it('bad task settings are each reported at their position', () => {
    expect(
      errorsOf(
        'agents:\n  r1: { command: sh, pool: "a b" }\n' +
          'templates:\n  t: { command: sh, concurrency: 0, rate: { per_second: 0 }, attempts: 101, pool: x }\n' +
          'tasks: { depth: 0, quota_wait: soon }\n',
      ),
    ).toEqual([
      'D/orchestra.yaml:2:28: agents.r1.pool: expected a pool name of letters, digits, "-" and "_" (max 64), found "a b"',
      'D/orchestra.yaml:4:34: templates.t.concurrency: expected a whole number of tasks >= 1, found number 0',
      'D/orchestra.yaml:4:57: templates.t.rate.per_second: expected starts per second (a number > 0; 0.5 is one every 2s), found number 0',
      'D/orchestra.yaml:4:72: templates.t.attempts: expected a whole number from 1 to 100, found number 101',
      'D/orchestra.yaml:4:77: templates.t.pool: unknown key "pool"',
      'D/orchestra.yaml:5:17: tasks.depth: expected a whole number of tasks >= 1, found number 0',
      'D/orchestra.yaml:5:32: tasks.quota_wait: expected a duration such as "500ms", "2s" or "5m", found "soon"',
    ]);
  });

  it('a pool in pools: that no agent names is an error naming the pools there are', () => {
    expect(errorsOf('agents:\n  r1: { command: sh, pool: crew }\npools:\n  ghosts: { concurrency: 2 }\n')).toEqual([
      'D/orchestra.yaml:4:3: pools.ghosts: expected a pool an agent names with pool: (crew)',
    ]);
  });
});
