/** Issue 21 item 1: compose interpolation, `.env`, `env_file:` and `~` (they passed through literally and validated). */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseDotenv } from '../../src/config/dotenv.js';
import { interpolate } from '../../src/config/interpolate.js';
import { loadConfig } from '../../src/config/load.js';
import { CLI } from '../e2e/harness.js';
import { configErrors } from './config-errors.js';

const vars = (env: Record<string, string>) => (name: string) => env[name];

/** Writes `files` (name → text) into a new directory and loads its orchestra.yaml. */
function load(files: Record<string, string>): ReturnType<typeof loadConfig> {
  return loadConfig(join(crew(files), 'orchestra.yaml'));
}

function crew(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'orch-interp-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function errorsOf(files: Record<string, string>): string[] {
  const dir = crew(files);
  return configErrors(() => loadConfig(join(dir, 'orchestra.yaml')), `${dir}/`, '');
}

const set: string[] = [];
function setEnv(env: Record<string, string>): void {
  for (const [k, v] of Object.entries(env)) {
    process.env[k] = v;
    set.push(k);
  }
}
afterEach(() => {
  for (const k of set.splice(0)) delete process.env[k];
});

describe('interpolate (one string)', () => {
  const env = vars({ A: 'a', EMPTY: '' });
  it.each([
    ['${A}', 'a'],
    ['$A/x', 'a/x'],
    ['${A:-d}', 'a'],
    ['${EMPTY:-d}', 'd'],
    ['${EMPTY-d}', ''],
    ['${NOPE-d}', 'd'],
    ['${NOPE:-${A}-${EMPTY:-x}}', 'a-x'],
    ['${A:+set}', 'set'],
    ['${NOPE:+set}', ''],
    ['$$A costs $$5', '$A costs $5'],
    // A `$` that starts no interpolation stays: regular expressions end with one.
    ['^\\w*> ?$', '^\\w*> ?$'],
    ['a $ b $1', 'a $ b $1'],
    ['${NOPE:-}', ''],
  ])('%s -> %s', (text, value) => {
    expect(interpolate(text, env)).toEqual({ value });
  });

  it.each([
    ['${NOPE}', 'variable NOPE is not set (give a default with ${NOPE:-default}, or write $$ for a literal $)'],
    ['$NOPE', 'variable NOPE is not set (give a default with ${NOPE:-default}, or write $$ for a literal $)'],
    ['${EMPTY:?needs a token}', 'variable EMPTY is unset or empty: needs a token'],
    ['${NOPE?needs ${A}}', 'variable NOPE is unset: needs a'],
    ['${A', '"${A" is not closed with "}"'],
    ['${1A}', 'invalid "${1A}": expected ${NAME}, ${NAME:-default}, ${NAME:?message}, $NAME, or $$ for a literal $'],
    ['${A:x}', 'invalid "${A:x}": expected ${NAME}, ${NAME:-default}, ${NAME:?message}, $NAME, or $$ for a literal $'],
  ])('%s is an error: %s', (text, error) => {
    expect(interpolate(text, env)).toEqual({ error });
  });

  it('a default that is not used is not expanded (its unset variables are no error)', () => {
    expect(interpolate('${A:-${NOPE}}', env)).toEqual({ value: 'a' });
  });
});

describe('interpolation in the config (regression: ${HOME} was passed through literally and validate said ok)', () => {
  it('expands every string value; an unquoted value where a number or boolean is due is one, any other stays text', () => {
    setEnv({ ORCH_T_ARG: 'hello', ORCH_T_COLS: '90', ORCH_T_TRUE: 'true' });
    const a = load({
      'orchestra.yaml':
        'agents:\n  a:\n    command: ${ORCH_T_SH:-sh}\n    args:\n      - "[${ORCH_T_ARG}]"\n      - "$$HOME"\n      - ${ORCH_T_COLS}\n      - $ORCH_T_TRUE\n    cols: ${ORCH_T_COLS}\n    env: { X: $ORCH_T_COLS }\n    input: { escape: $ORCH_T_TRUE }\n',
    }).agents[0];
    expect([a?.command, a?.args, a?.cols, a?.env, a?.input.escape]).toEqual(['sh', ['[hello]', '$HOME', '90', 'true'], 90, { X: '90' }, true]);
    expect(() => load({ 'orchestra.yaml': 'agents:\n  a: { command: sh, cols: "${ORCH_T_COLS}" }\n' })).toThrow('agents.a.cols: expected a whole number of columns, found "90"');
  });

  it('${…} inside a [ ] list or { } mapping is quoted (YAML reads { as a mapping there): the message says so', () => {
    expect(() => load({ 'orchestra.yaml': 'agents:\n  a: { command: sh, args: [${ORCH_T_COLS}] }\n' })).toThrow(
      'orchestra.yaml:2:29: expected "," between the items of a [ ] list or { } mapping (quote a value that holds {, }, [, ] or ",", as "${VAR}")',
    );
  });

  it('an unset variable without a default is an error at the value, naming the variable, with the other problems', () => {
    expect(errorsOf({ 'orchestra.yaml': 'agents:\n  a:\n    command: sh\n    args: ["${ORCH_T_UNSET}"]\n    cols: ${ORCH_T_UNSET:?set the width}\n    rows: x\n' })).toEqual([
      'orchestra.yaml:4:12: agents.a.args[0]: variable ORCH_T_UNSET is not set (give a default with ${ORCH_T_UNSET:-default}, or write $$ for a literal $)',
      'orchestra.yaml:5:11: agents.a.cols: variable ORCH_T_UNSET is unset or empty: set the width',
      'orchestra.yaml:6:11: agents.a.rows: expected a whole number of rows, found "x"',
    ]);
  });

  it('keys are not interpolated, nor resume templates (expanded per run with the agent\'s environment)', () => {
    const a = load({
      'orchestra.yaml': 'agents:\n  a:\n    command: sh\n    env: { "$X": "1" }\n    resume: { start: [--id, "{id}"], again: [-r, "{id}"], transcript: "${ORCH_T_UNSET:-~/.t}/{id}.jsonl" }\n',
    }).agents[0];
    expect(a?.env).toEqual({ $X: '1' });
    expect(a?.resume?.transcript?.files).toBe('${ORCH_T_UNSET:-~/.t}/{id}.jsonl');
  });

  it('.env beside the config (compose format) fills variables; the process environment wins over it', () => {
    setEnv({ ORCH_T_WIN: 'process' });
    const dotenv = '# comment\nexport ORCH_T_A=from-dotenv # inline comment\nORCH_T_WIN=dotenv\nORCH_T_Q="two\\nlines ${ORCH_T_A}"\nORCH_T_S=\'${literal}\'\n';
    const a = load({ '.env': dotenv, 'orchestra.yaml': 'agents:\n  a:\n    command: sh\n    args: ["${ORCH_T_A}", "${ORCH_T_WIN}", "${ORCH_T_Q}", "${ORCH_T_S}"]\n' }).agents[0];
    expect(a?.args).toEqual(['from-dotenv', 'process', 'two\nlines from-dotenv', '${literal}']);
    // .env is for interpolation only, as in compose: its values do not reach the agents.
    expect(a?.env).toEqual({});
  });

  it('a broken .env line is an error at its line, with the config\'s problems', () => {
    expect(errorsOf({ '.env': 'OK=1\nnot a line\n-X=1\nQ="open\n', 'orchestra.yaml': 'agents:\n  a: { command: sh, rows: x }\n' })).toEqual([
      'orchestra.yaml:2:27: agents.a.rows: expected a whole number of rows, found "x"',
      '.env:2:5: expected "=" after not',
      '.env:3:1: expected NAME=value (a name of letters, digits and "_", not starting with a digit)',
      '.env:4:3: the value opened with " here is never closed: it runs to the end of the file',
    ]);
  });

  it('env_file: its values reach the agent, env: wins, a list is read in order; a missing file is an error at its path', () => {
    const a = load({
      'a.env': 'A=1\nB=from-a\nC=from-a\n',
      'b.env': 'C=from-b\n',
      'orchestra.yaml': 'defaults:\n  env_file: a.env\nagents:\n  a:\n    command: sh\n    env: { B: own }\n  b:\n    command: sh\n    env_file: [a.env, b.env]\n',
    }).agents;
    expect(a.map((x) => x.env)).toEqual([
      { A: '1', B: 'own', C: 'from-a' },
      { A: '1', B: 'from-a', C: 'from-b' },
    ]);
    const dir = crew({ 'orchestra.yaml': 'agents:\n  a:\n    command: sh\n    env_file: [nope.env]\n' });
    expect(() => loadConfig(join(dir, 'orchestra.yaml'))).toThrow(`orchestra.yaml:4:16: agents.a.env_file[0]: expected an existing file (resolved to ${join(dir, 'nope.env')}), found "nope.env"`);
  });

  it('~ in cwd, state_dir and env_file is the home directory', () => {
    const home = crew({ 'h.env': 'H=1\n' });
    setEnv({ HOME: home });
    const cfg = load({ 'orchestra.yaml': 'state_dir: ~/st\nagents:\n  a: { command: sh, cwd: "~", env_file: ~/h.env }\n' });
    expect([cfg.stateDir, cfg.agents[0]?.cwd, cfg.agents[0]?.env]).toEqual([join(home, 'st'), home, { H: '1' }]);
    expect(homedir()).not.toBe('');
  });

  it('dotenv values may use the names defined above them (a byte order mark and CRLF lines are fine)', () => {
    expect(parseDotenv('\uFEFFA=x\r\nB=${A}y\nC\n', '.env', vars({ C: 'from-env' })).values).toEqual(
      new Map([
        ['A', 'x'],
        ['B', 'xy'],
        ['C', 'from-env'],
      ]),
    );
  });

  it('orchestra validate: an unset variable exits 2 with the positioned message', () => {
    const dir = crew({ 'orchestra.yaml': 'agents:\n  a:\n    command: ${ORCH_T_UNSET}\n' });
    const r = spawnSync(process.execPath, [CLI, 'validate'], { encoding: 'utf8', cwd: dir, env: { ...process.env, NO_COLOR: '1' } });
    expect([r.status, r.stderr]).toEqual([2, 'orchestra.yaml:3:14: agents.a.command: variable ORCH_T_UNSET is not set (give a default with ${ORCH_T_UNSET:-default}, or write $$ for a literal $)\n']);
  });
});
