/** `mode: headless` templates in the config: output, timeout, a provider's headless args, and their errors. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { configErrors } from './config-errors.js';

const dir = mkdtempSync(join(tmpdir(), 'orch-hl-'));
const file = join(dir, 'orchestra.yaml');
const CREW = 'agents:\n  a: { command: sh }\n';
const templates = (t: string) => parseConfig(`${CREW}templates:\n${t}`, file).templates;
const errorsOf = (t: string): string[] => configErrors(() => parseConfig(`${CREW}templates:\n${t}`, file), `${dir}/`, 'D/');

describe('headless templates in the config', () => {
  it('mode: headless with a provider: its output is the provider’s, its args end with the provider’s headless args, timeout 30m by default', () => {
    const [claude, codex, gemini] = templates('  c: { provider: claude, mode: headless }\n  x: { provider: codex, mode: headless, timeout: 5m }\n  g: { provider: gemini, mode: headless, output: gemini-json, args: [--model, m] }\n');
    expect(claude).toMatchObject({ headless: { output: 'claude', timeoutMs: 1_800_000 }, agent: { command: 'claude', args: ['-p', '--output-format', 'stream-json', '--verbose'] } });
    // The preset's own args (codex's TUI flags) come first, as they do interactively.
    expect(codex).toMatchObject({ headless: { output: 'codex', timeoutMs: 300_000 }, agent: { args: ['--no-alt-screen', '--no-daemon', 'exec', '--json'] } });
    expect(gemini).toMatchObject({ headless: { output: 'gemini-json' }, agent: { args: ['--model', 'm', '--output-format', 'stream-json', '-p'] } });
  });

  it('a command of its own runs headless with the output it declares, its args as written; an interactive template has no headless settings', () => {
    const [own, plain] = templates('  h: { command: node, args: [x.mjs], mode: headless, output: ndjson, timeout: 2s }\n  i: { command: node, mode: interactive }\n');
    expect(own).toMatchObject({ headless: { output: 'ndjson', timeoutMs: 2000 }, agent: { args: ['x.mjs'] } });
    expect(plain?.headless).toBeUndefined();
  });

  it('positioned errors: an unknown mode or output, a timeout too short, output and timeout without mode: headless, headless without an output orchestra can tell', () => {
    expect(errorsOf('  a1: { command: node, mode: batch }\n  a2: { command: node, mode: headless, output: xml }\n  a3: { command: node, mode: headless, output: text, timeout: 10ms }\n')).toEqual([
      'D/orchestra.yaml:4:30: templates.a1.mode: expected one of "interactive", "headless", found "batch"',
      'D/orchestra.yaml:5:48: templates.a2.output: expected one of "claude", "codex", "gemini", "gemini-json", "text", "json", "ndjson", found "xml"',
      'D/orchestra.yaml:6:63: templates.a3.timeout: expected a duration of at least 100ms: a CLI needs time to start; a shorter timeout stops every run as it starts, found "10ms"',
    ]);
    expect(errorsOf('  b1: { command: node, output: json, timeout: 1m }\n  b2: { command: node, mode: headless }\n  b3: { provider: opencode, mode: headless }\n')).toEqual([
      'D/orchestra.yaml:4:24: templates.b1.output: output applies only to a template with mode: headless',
      'D/orchestra.yaml:4:38: templates.b1.timeout: timeout applies only to a template with mode: headless',
      'D/orchestra.yaml:5:7: templates.b2.output: missing: mode: headless needs an output (text, json, ndjson, or a CLI\'s format): orchestra knows the headless output of claude, codex, gemini, not of a command of its own (node)',
      'D/orchestra.yaml:6:7: templates.b3.output: missing: mode: headless needs an output (text, json, ndjson, or a CLI\'s format): orchestra knows the headless output of claude, codex, gemini, not of provider opencode',
    ]);
  });
});
