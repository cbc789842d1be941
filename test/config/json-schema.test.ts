/**
 * The JSON Schema (generated from the zod schema) against the configs we ship and against the
 * loader: what the loader refuses for a wrong shape, the schema refuses too.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { configJsonSchema } from '../../src/config/json-schema.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/issues.js';

const ROOT = join(import.meta.dirname, '../..');
const SHIPPED = join(ROOT, 'schema/orchestra.schema.json');
const schema = configJsonSchema();
const check = new Ajv2020({ strict: false, allErrors: true }).compile(schema);

describe('config JSON Schema', () => {
  it('the shipped schema/orchestra.schema.json is the one generated from the zod schema (regenerate: node bin/orchestra.js schema > schema/orchestra.schema.json)', () => {
    expect(JSON.parse(readFileSync(SHIPPED, 'utf8'))).toEqual(schema);
  });

  for (const name of readdirSync(join(ROOT, 'config')).filter((n) => n.endsWith('.yaml'))) {
    it(`config/${name} starts with the yaml-language-server line and is valid under the schema`, () => {
      const text = readFileSync(join(ROOT, 'config', name), 'utf8');
      expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../schema/orchestra.schema.json');
      expect(check(parse(text)), JSON.stringify(check.errors)).toBe(true);
    });
  }

  it('the shorthands the loader takes are in the schema: restart: always, activity: screen, a single signature pattern', () => {
    const ok = { agents: { a: { command: 'sh', restart: 'always', activity: 'screen', blocked: { signatures: { permission: 'Allow\\?' } } } }, 'x-defaults': { anything: 1 } };
    expect(check(ok), JSON.stringify(check.errors)).toBe(true);
  });

  const broken: [string, string][] = [
    ['an unknown restart policy', 'agents:\n  a:\n    command: sh\n    restart: sometimes\n'],
    ['an unknown key', 'agents:\n  a:\n    command: sh\n    restrat: always\n'],
    ['an unknown top-level key', 'agent:\n  a:\n    command: sh\nagents:\n  b:\n    command: sh\n'],
    ['args as a string', 'agents:\n  a:\n    command: sh\n    args: -c\n'],
    ['an empty command', 'agents:\n  a:\n    command: ""\n'],
    ['cols out of range', 'agents:\n  a:\n    command: sh\n    cols: 5\n'],
    ['no agents key', 'session: x\n'],
    ['a bad session name', 'session: "no spaces"\nagents:\n  a:\n    command: sh\n'],
    ['env values that are lists', 'agents:\n  a:\n    command: sh\n    env: { A: [1] }\n'],
    ['an unknown strategy', 'supervision: { strategy: all_for_one }\nagents:\n  a:\n    command: sh\n'],
  ];
  for (const [what, text] of broken) {
    it(`the schema rejects what validate rejects: ${what}`, () => {
      expect(() => parseConfig(text, join(ROOT, 'orchestra.yaml'))).toThrow(ConfigError);
      expect(check(parse(text))).toBe(false);
    });
  }
});
