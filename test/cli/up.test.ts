/** `orchestra up NAME...`: which agents a session started with names holds. */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/errors.js';
import { selectAgents } from '../../src/cli/up.js';
import { parseConfig } from '../../src/config/load.js';

const config = parseConfig(
  'agents:\n  db:\n    command: sh\n  cache:\n    command: sh\n  api:\n    command: sh\n    depends_on: [db]\n  web:\n    command: sh\n    depends_on: [api, cache]\n  extra:\n    command: sh\n',
  join(tmpdir(), 'orchestra.yaml'),
);
const names = (only: string[]) => selectAgents(config, only).agents.map((a) => a.name);

describe('up NAME...', () => {
  it('keeps the named agents and everything they depend on, directly or not, in start order', () => {
    expect(names(['web'])).toEqual(['db', 'cache', 'api', 'web']);
    expect(names(['api', 'extra'])).toEqual(['db', 'api', 'extra']);
    expect(names([])).toEqual(['db', 'cache', 'api', 'web', 'extra']);
  });

  it('an unknown name is a usage error naming the agents', () => {
    expect(() => selectAgents(config, ['nope'])).toThrow(new UsageError(`no agent named "nope" in ${config.file} (agents: db, cache, api, web, extra)`));
  });
});
