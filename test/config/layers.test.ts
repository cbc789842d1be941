/** Several config files merged like compose's `-f a -f b`, with every error placed in its own file. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/issues.js';
import { mergeLayers } from '../../src/config/layers.js';
import { loadConfigFiles } from '../../src/config/load.js';

function files(texts: Record<string, string>): string[] {
  const dir = mkdtempSync('/tmp/orch-layers-');
  return Object.entries(texts).map(([name, text]) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  });
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('no ConfigError');
}

describe('config layers', () => {
  it('later wins per key, mappings merge, lists replace', () => {
    expect(mergeLayers({ a: { x: 1, y: [1, 2] }, b: 1 }, { a: { y: [3], z: 2 }, c: 3 })).toEqual({ a: { x: 1, y: [3], z: 2 }, b: 1, c: 3 });
  });

  it('an override file changes one agent, adds another, replaces a list, and the first file stays the config identity', () => {
    const [base, over] = files({
      'base.yaml': 'session: s1\nagents:\n  a:\n    command: sh\n    args: [-c, "echo base"]\n    env: { A: "1", B: "2" }\n',
      'over.yaml': 'agents:\n  a:\n    args: [-c, "echo over"]\n    env: { B: "3" }\n  b:\n    command: cat\n',
    });
    const c = loadConfigFiles([base!, over!]);
    expect(c.file).toBe(base);
    expect(c.session).toBe('s1');
    expect(c.agents.map((a) => [a.name, a.command, a.args, a.env])).toEqual([
      ['a', 'sh', ['-c', 'echo over'], { A: '1', B: '3' }],
      ['b', 'cat', [], {}],
    ]);
  });

  it('each error names the file (and position) of the value it is about', () => {
    const [base, over] = files({
      'base.yaml': 'agents:\n  a:\n    command: sh\n    restart: sometimes\n',
      'over.yaml': 'agents:\n  a:\n    cols: 5\n  b:\n    depends_on: [nobody]\n    command: sh\n',
    });
    // (The messages are the loader's own; what matters here is the file, line and column.)
    const [first, second, ...rest] = errorOf(() => loadConfigFiles([base!, over!])).split('\n');
    expect(first).toMatch(`${base}:4:14: agents.a.restart: `);
    expect(second).toMatch(`${over}:3:11: agents.a.cols: `);
    expect(rest).toEqual([]);
    // Past the schema: the loader's own checks are placed in the right file too.
    const [base2, over2] = files({ 'base.yaml': 'agents:\n  a:\n    command: sh\n', 'over.yaml': 'agents:\n  b:\n    command: sh\n    depends_on: [nobody]\n' });
    expect(errorOf(() => loadConfigFiles([base2!, over2!]))).toMatch(`${over2}:4:18: agents.b.depends_on[0]: `);
  });

  it('a YAML error in the override names the override', () => {
    const [base, over] = files({ 'base.yaml': 'agents:\n  a:\n    command: sh\n', 'over.yaml': 'agents:\n  a: [\n' });
    expect(errorOf(() => loadConfigFiles([base!, over!]))).toMatch(new RegExp(`^${over}:\\d+:\\d+: the "\\[" opened here is not closed`));
  });
});
