/** Issue 21 item 6: merge keys, aliases, syntax errors in the user's words with both ends, duplicate keys. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { CLI } from '../e2e/harness.js';
import { configErrors } from './config-errors.js';

const dir = mkdtempSync(join(tmpdir(), 'orch-yaml-'));
const file = join(dir, 'orchestra.yaml');

const errorsOf = (text: string): string[] => configErrors(() => parseConfig(text, file), `${file}:`, 'F:');

describe('merge keys and aliases', () => {
  it('regression: `<<: *defaults` was refused as an unknown key; it merges, and the agent\'s own keys win', () => {
    const cfg = parseConfig('x-d: &d { command: sh, restart: always, env: { A: "1" } }\nagents:\n  a: { <<: *d, cols: 90 }\n  b:\n    <<: *d\n    restart: "no"\n', file);
    expect(cfg.agents.map((a) => [a.name, a.command, a.restart.policy, a.cols, a.env])).toEqual([
      ['a', 'sh', 'always', 90, { A: '1' }],
      ['b', 'sh', 'no', 120, { A: '1' }],
    ]);
  });

  it('a mistake in a merged-in anchor is reported where it is written, for each agent that merges it', () => {
    expect(errorsOf('x-d: &d\n  command: sh\n  comand: x\nagents:\n  a:\n    <<: *d\n  b:\n    <<: [*d]\n')).toEqual([
      'F:3:3: agents.a.comand: unknown key "comand" (did you mean "command"?)',
      'F:3:3: agents.b.comand: unknown key "comand" (did you mean "command"?)',
    ]);
  });

  it('regression: an anchor used ~100 times crashed with "Excessive alias count" and a stack frame', () => {
    const text = `x-e: &e { A: "1" }\nagents:\n${Array.from({ length: 300 }, (_, i) => `  a${i}: { command: sh, env: *e }\n`).join('')}`;
    expect(parseConfig(text, file).agents).toHaveLength(300);
  });

  it('aliases that expand the file beyond reason (anchors nested in anchors) are an error at the biggest alias', () => {
    const levels = Array.from({ length: 7 }, (_, i) => `  l${i + 1}: &l${i + 1} [${Array.from({ length: 10 }, () => `*l${i}`).join(', ')}]\n`).join('');
    const text = `x-bomb:\n  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n${levels}agents:\n  a: { command: sh }\n`;
    expect(errorsOf(text)).toEqual([
      'F:9:12: x-bomb.l7[0]: alias *l6 is one of the aliases that together expand the file to more than 1000000 values (anchors nested in anchors multiply); write the values out, or use fewer aliases',
    ]);
  });

  it('an alias without an anchor, and one inside its own anchor, are errors at the alias', () => {
    expect(errorsOf('agents:\n  a: *nope\n')).toEqual(['F:2:6: agents.a: alias *nope has no anchor &nope before it']);
    expect(errorsOf('x-a: &x [*x]\nagents:\n  a: { command: sh }\n')).toEqual(['F:1:10: x-a[0]: alias *x is inside the anchor &x it refers to (a value cannot contain itself)']);
  });
});

describe('syntax errors in the user\'s words', () => {
  it('regression: an unclosed quote on line 3 was reported at the end of the file; now where it opened, naming where the file ends', () => {
    expect(errorsOf('agents:\n  a:\n    command: "sh\n    args: [x]\n  b:\n    command: sh\n')).toEqual([
      'F:3:14: the string opened with " here is never closed: it runs to the end of the file (line 7, column 1)',
    ]);
  });

  it.each([
    ['agents:\n  a: command: sh\n', 'F:2:6: a value on the same line as its key cannot be another "key: value"; put the inner mapping on the lines below, indented, or quote the value'],
    ['agents:\n  a: { command: sh }\n---\nx: 1\n', 'F:3:1: a second YAML document starts here ("---"), running to line 5, column 1; a config file holds one document'],
    ['agents:\n  a: { command: sh, args: [x }\n', 'F:2:27: the "[" opened here is not closed with "]" before line 2, column 30 (or the lines inside it are indented less than its key)'],
    ['agents:\n\ta: { command: sh }\n', 'F:2:1: a tab indents this line; YAML is indented with spaces only'],
    ['agents:\n  a:\n    command: sh\n   args: [x]\n', 'F:4:1: this key is indented differently from the keys before it in the same mapping'],
    ['agents:\n  a: { command: "s\\q" }\n', 'F:2:19: \\q is not an escape in a "double-quoted" string; write \\\\ for a backslash, or use \'single quotes\''],
    ['agents:\n  a: { command: @sh }\n', 'F:2:17: a value cannot start with @ unless it is quoted'],
    ['agents:\n  a:\n    command: sh\n    args: [a, b]]\n', 'F:4:17: unexpected "]" here'],
    ['agents:\n  a:\n    command: sh\n  - x\n', 'F:4:1: a list item ("- ") cannot stand here; indent it under the key it belongs to'],
  ])('%j', (text, message) => {
    expect(errorsOf(text)).toEqual([message]);
  });

  it('a duplicate key names the key and where it was first defined', () => {
    expect(errorsOf('agents:\n  a:\n    command: sh\n    rows: x\n    command: bash\n')).toEqual([
      'F:4:11: agents.a.rows: expected a whole number of rows, found "x"',
      'F:5:5: agents.a.command: duplicate key "command": first defined at line 3, column 5',
    ]);
  });

  it('orchestra validate: exit 2, the message, no stack trace', () => {
    writeFileSync(file, 'agents:\n  a: command: sh\n');
    const r = spawnSync(process.execPath, [CLI, 'validate', 'orchestra.yaml'], { encoding: 'utf8', cwd: dir });
    expect([r.status, r.stderr]).toEqual([2, 'orchestra.yaml:2:6: a value on the same line as its key cannot be another "key: value"; put the inner mapping on the lines below, indented, or quote the value\n']);
  });
});
