/** Issue 21 items 5, 7 and 8: every problem at once, names and the `x-` rule, and messages that say what to write. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/issues.js';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { CLI } from '../e2e/harness.js';
import { configErrors } from './config-errors.js';

const dir = mkdtempSync(join(tmpdir(), 'orch-report-'));
const file = join(dir, 'orchestra.yaml');

const errorsOf = (text: string): string[] => configErrors(() => parseConfig(text, file), `${file}:`, 'F:');

function validate(text: string): { status: number | null; stderr: string } {
  const d = mkdtempSync(join(tmpdir(), 'orch-report-cli-'));
  writeFileSync(join(d, 'orchestra.yaml'), text);
  return spawnSync(process.execPath, [CLI, 'validate'], { encoding: 'utf8', cwd: d, env: { ...process.env, NO_COLOR: '1' } });
}

describe('every problem at once (item 5)', () => {
  const text = [
    `state_dir: /tmp/${'x'.repeat(100)}`,
    'agents:',
    '  a: { args: [x], rows: q }',
    '  b: { command: sh, depends_on: [b, zz, c], cwd: nope }',
    '  c: { command: sh, depends_on: [b] }',
    '  d: { command: sh, depends_on: [e] }',
    '  e: { command: sh, depends_on: [d], cols: wide }',
    '  "bad/name": { command: 4 }',
    '',
  ].join('\n');

  it('regression: missing command, unknown and self depends_on, every cycle, names, cwd and state_dir were checked only once the schema pass was clean', () => {
    expect(errorsOf(text)).toEqual([
      `F:1:12: state_dir: expected a state directory path of at most 80 characters (Unix socket paths are short); "/tmp/${'x'.repeat(100)}" is 105`,
      'F:3:6: agents.a.command: missing required key',
      'F:3:25: agents.a.rows: expected a whole number of rows, found "q"',
      'F:4:34: agents.b.depends_on[0]: an agent cannot depend on itself, found "b"',
      'F:4:37: agents.b.depends_on[1]: expected the name of an agent in this file, found "zz"',
      'F:4:41: agents.b.depends_on[2]: dependency cycle: b -> c -> b',
      `F:4:50: agents.b.cwd: expected an existing directory (resolved to ${join(dir, 'nope')}), found "nope"`,
      'F:6:34: agents.d.depends_on[0]: dependency cycle: d -> e -> d',
      'F:7:44: agents.e.cols: expected a whole number of columns, found "wide"',
      'F:8:3: agents.bad/name: agent names use letters, digits, "-" and "_" (max 64) and start with a letter or digit',
      'F:8:26: agents.bad/name.command: expected a command (string), found number 4',
    ]);
  });

  it('a value the schema refuses is not reported again by a later check (command: 3 is not also missing)', () => {
    expect(errorsOf('agents:\n  a: { command: 3, cwd: 7 }\n  b: 5\n  c: { command: sh, depends_on: [b] }\n')).toEqual([
      'F:2:17: agents.a.command: expected a command (string), found number 3',
      'F:2:25: agents.a.cwd: expected a directory path, found number 7',
      'F:3:6: agents.b: expected a mapping of agent settings, found number 5',
    ]);
  });

  it('a refinement of a mapping still runs when a value inside it is refused', () => {
    expect(errorsOf('agents:\n  a:\n    command: sh\n    resume: { start: ["{id}"], again: [], capture: { files: f, id: i, started: 5 } }\n')).toEqual([
      'F:4:23: agents.a.resume.start[0]: expected no {id} in start with capture: the CLI chooses the id, known only after the run started, found "{id}"',
      'F:4:80: agents.a.resume.capture.started: expected a field of a JSON line (a dotted path, as payload.id), found number 5',
    ]);
  });

  it('orchestra validate lists them all and exits 2', () => {
    const r = validate('agents:\n  a: { rows: x }\n  b: { command: sh, depends_on: [b] }\n');
    expect([r.status, r.stderr]).toEqual([
      2,
      'orchestra.yaml:2:6: agents.a.command: missing required key\norchestra.yaml:2:14: agents.a.rows: expected a whole number of rows, found "x"\norchestra.yaml:3:34: agents.b.depends_on[0]: an agent cannot depend on itself, found "b"\n',
    ]);
  });
});

describe('names and the x- rule (item 7)', () => {
  it('regression: an agent named x-ray vanished and env keys starting with x- never reached the agent; x- is for top-level keys only', () => {
    const cfg = parseConfig('x-notes: { anything: [1] }\nagents:\n  x-ray: { command: sh, env: { x-foo: "1" } }\n', file);
    expect(cfg.agents.map((a) => [a.name, a.env])).toEqual([['x-ray', { 'x-foo': '1' }]]);
  });

  it('"FOO=BAR" as an env key and "BAD NAME" as an agent name are errors', () => {
    expect(errorsOf('agents:\n  a: { command: sh, env: { "FOO=BAR": "2" } }\n  "BAD NAME": { command: sh }\n')).toEqual([
      'F:2:28: agents.a.env.FOO=BAR: expected a variable name without "=" (write NAME: value, not NAME=value)',
      'F:3:3: agents.BAD NAME: agent names use letters, digits, "-" and "_" (max 64) and start with a letter or digit',
    ]);
  });

  it('regression: Latin-1 bytes became U+FFFD; now an error at the first bad byte', () => {
    const latin1 = join(dir, 'latin1.yaml');
    writeFileSync(latin1, Buffer.concat([Buffer.from('agents:\n  a:\n    command: sh\n    env: { NAME: "Jos'), Buffer.from([0xe9]), Buffer.from('" }\n')]));
    expect(() => loadConfig(latin1)).toThrow(new ConfigError([{ file: latin1, line: 4, col: 22, path: '', message: '' }]).message.replace(/: $/, ''));
    const r = spawnSync(process.execPath, [CLI, 'validate', 'latin1.yaml'], { encoding: 'utf8', cwd: dir });
    expect([r.status, r.stderr]).toEqual([2, 'latin1.yaml:4:22: not UTF-8: byte 0xE9 (is the file saved as Latin-1 or another legacy encoding? save it as UTF-8)\n']);
  });
});

describe('messages that say what to write (item 8)', () => {
  it('unknown keys suggest the nearest valid key: a typo, a missing letter, camelCase or another separator', () => {
    expect(errorsOf('agent:\n  a: { command: sh }\nagents:\n  a:\n    command: sh\n    restrat: always\n    dependsOn: [b]\n    Depends-On: [b]\n    frobnicate: 1\n')).toEqual([
      'F:1:1: agent: unknown key "agent" (did you mean "agents"?)',
      'F:6:5: agents.a.restrat: unknown key "restrat" (did you mean "restart"?)',
      'F:7:5: agents.a.dependsOn: unknown key "dependsOn" (did you mean "depends_on"?)',
      'F:8:5: agents.a.Depends-On: unknown key "Depends-On" (did you mean "depends_on"?)',
      'F:9:5: agents.a.frobnicate: unknown key "frobnicate"',
    ]);
    expect(errorsOf('agents:\n  a:\n    command: sh\n    restart: { polcy: always, backof: { inital: 1s } }\n')).toEqual([
      'F:4:16: agents.a.restart.polcy: unknown key "polcy" (did you mean "policy"?)',
      'F:4:31: agents.a.restart.backof: unknown key "backof" (did you mean "backoff"?)',
    ]);
  });

  it('version: "1", restart: false, agents: {} and depends_on under defaults say what to write instead', () => {
    expect(errorsOf('version: "1"\nagents:\n  a: { command: sh, restart: false }\n')).toEqual([
      'F:1:10: version: expected version 1, a number (write version: 1, without quotes), found "1"',
      'F:3:30: agents.a.restart: expected one of "no", "on-failure", "always" (to never restart, write restart: "no"), found boolean false',
    ]);
    expect(errorsOf('agents: {}\n')).toEqual(['F:1:9: agents: expected at least one agent, as in `agents: { worker: { command: claude } }`']);
    expect(errorsOf('defaults:\n  depends_on: [a]\nagents:\n  a: { command: sh }\n  b: { command: sh }\n')).toEqual([
      'F:2:3: defaults.depends_on: depends_on cannot be a default (every agent would wait for itself): list it under each agent that waits for another',
    ]);
  });

  it('orchestra validate: a suggestion, exit 2', () => {
    expect(validate('agents:\n  a: { command: sh, restrat: always }\n')).toMatchObject({ status: 2, stderr: 'orchestra.yaml:2:21: agents.a.restrat: unknown key "restrat" (did you mean "restart"?)\n' });
  });
});
