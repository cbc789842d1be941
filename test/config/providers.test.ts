/** Provider presets: the shipped files, how `provider:` merges them, and how a broken one is reported. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { loadPreset, presetNames, PROVIDERS_DIR } from '../../src/config/providers.js';
import { configErrors } from './config-errors.js';

const dir = mkdtempSync(join(tmpdir(), 'orch-providers-'));
const file = join(dir, 'orchestra.yaml');

/** A providers directory of its own, holding `files` (name → YAML). */
function providersDir(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'orch-presets-'));
  mkdirSync(d, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, `${name}.yaml`), text);
  return d;
}

const errorsOf = (text: string, providers?: string): string[] =>
  configErrors(() => parseConfig(text, file, providers === undefined ? {} : { providersDir: providers }), `${file}:`, 'F:');

const FAKE = [
  'name: fake',
  'description: a preset for tests',
  "checked: ['1.0']",
  'command: fake-cli',
  'args: [--preset]',
  'env: { FROM: preset, PRESET: "1" }',
  'ready: { pattern: "fake> $", timeout: 5s }',
  'input: { submit_delay: 200ms, escape: false }',
  'blocked: { hold: 1s, signatures: { login: "Sign in", quota: "limit" } }',
  '',
].join('\n');

describe('provider presets', () => {
  it('are read from the package\'s providers/ directory (from src/ and dist/ alike)', () => {
    expect(PROVIDERS_DIR.replace(/\/$/, '')).toBe(resolve(import.meta.dirname, '../../providers'));
    expect(presetNames()).toEqual(['aider', 'claude', 'codex', 'gemini', 'opencode', 'shell']);
  });

  it('every shipped preset validates as an agent entry and names itself', () => {
    for (const name of presetNames()) {
      const preset = loadPreset(name);
      expect(preset?.name).toBe(name);
      expect(preset?.description.length).toBeGreaterThan(0);
      const agent = parseConfig(`agents:\n  a: { provider: ${name} }\n`, file).agents[0];
      expect(agent?.provider).toBe(name);
      expect(agent?.command).toBe(preset?.fields.command);
      expect(agent?.readyPattern).toBeDefined();
    }
  });

  it('the settings part of each preset file, pasted under an agent, is that agent (a preset can be copied)', () => {
    for (const name of presetNames()) {
      const text = loadPreset(name)?.text ?? '';
      const settings = text.slice(text.indexOf('# The agent settings, from here on'));
      const pasted = parseConfig(`agents:\n  a:\n${settings.replace(/^/gm, '    ')}\n`, file).agents[0];
      const named = parseConfig(`agents:\n  a: { provider: ${name} }\n`, file).agents[0];
      expect({ ...pasted, provider: name }).toEqual(named);
    }
  });

  it('each real CLI preset names the version its signatures were checked against', () => {
    const checked = Object.fromEntries(presetNames().map((n) => [n, loadPreset(n)?.checked]));
    expect(checked).toEqual({ aider: [], claude: ['2.1.197', '2.1.332'], codex: ['0.169.0', '0.171.0'], gemini: ['0.61.0'], opencode: ['1.18.33'], shell: [] });
  });

  it('carry what the real CLIs showed: idle boxes, blocked screens, the input dialect', () => {
    const agents = parseConfig('agents:\n  c: { provider: claude }\n  x: { provider: codex }\n  g: { provider: gemini }\n  o: { provider: opencode }\n', file).agents;
    const [c, x, g, o] = agents;
    const matches = (patterns: readonly { kind: string; pattern: string }[] | undefined, screen: string) =>
      (patterns ?? []).filter((s) => new RegExp(s.pattern, 'm').test(screen)).map((s) => s.kind);
    expect(new RegExp(c?.readyPattern ?? '^$', 'm').test('  ? for shortcuts')).toBe(true);
    expect(matches(c?.blocked.signatures, 'Quick safety check: Is this a project you created or one you trust?')).toEqual(['trust']);
    expect(matches(c?.blocked.signatures, 'Do you want to use this API key?')).toEqual(['login']);
    expect(matches(c?.blocked.signatures, 'Unable to connect to Anthropic services')).toEqual(['error']);
    expect(c?.stop.keys).toBe('/exit\r');
    expect(new RegExp(x?.readyPattern ?? '^$', 'm').test('› Ask Codex to do anything')).toBe(true);
    expect(x?.args).toEqual(['--no-alt-screen', '--no-daemon']);
    expect(matches(x?.blocked.signatures, 'Sign in with ChatGPT')).toEqual(['login']);
    expect(matches(x?.blocked.signatures, 'Trust this folder?\nPress enter to continue')).toEqual(['trust']);
    // "Press enter to continue" is on codex's login screens too: alone it names no dialog.
    expect(matches(x?.blocked.signatures, 'Press enter to continue')).toEqual([]);
    expect(x?.blocked.holdMs).toBeGreaterThan(260);
    expect(new RegExp(g?.readyPattern ?? '^$', 'm').test('> Type your message or @path/to/file')).toBe(true);
    expect(matches(g?.blocked.signatures, 'Do you trust the files in this folder?')).toEqual(['trust']);
    expect(matches(g?.blocked.signatures, 'How would you like to authenticate for this project?')).toEqual(['login']);
    expect(matches(g?.blocked.signatures, 'Enter Gemini API Key')).toEqual(['login']);
    expect([g?.env.COLORTERM, g?.input.submitDelayMs, g?.input.escape]).toEqual(['truecolor', 200, false]);
    expect(new RegExp(o?.readyPattern ?? '^$', 'm').test('Ask anything… "Fix a TODO in the codebase"')).toBe(true);
  });

  describe('merge order: built-in < defaults < preset < the agent', () => {
    const providers = providersDir({ fake: FAKE });

    it('the preset fills what the agent leaves out, over defaults', () => {
      const a = parseConfig(
        'defaults:\n  idle_after: 1s\n  args: [--defaults]\n  env: { FROM: defaults, DEFAULTS: "1" }\n  input: { submit_delay: 10ms, chunk: 1KiB }\nagents:\n  a: { provider: fake }\n',
        file,
        { providersDir: providers },
      ).agents[0];
      expect(a?.command).toBe('fake-cli');
      expect(a?.args).toEqual(['--preset']);
      expect(a?.env).toEqual({ FROM: 'preset', DEFAULTS: '1', PRESET: '1' });
      expect(a?.idleAfterMs).toBe(1000);
      // One level deep: the preset's input keys win, defaults' other input keys stay.
      expect([a?.input.submitDelayMs, a?.input.escape, a?.input.chunk]).toEqual([200, false, 1024]);
      expect([a?.readyPattern, a?.readyTimeoutMs]).toEqual(['fake> $', 5000]);
      expect(a?.blocked).toEqual({ holdMs: 1000, afterMs: 600_000, then: 'none', signatures: [{ kind: 'login', pattern: 'Sign in' }, { kind: 'quota', pattern: 'limit' }] });
    });

    it("the agent's own settings win over the preset's, key by key", () => {
      const a = parseConfig(
        'agents:\n  a:\n    provider: fake\n    command: /opt/fake\n    env: { FROM: agent }\n    ready: { timeout: 9s }\n    input: { escape: true }\n    blocked: { after: 1m, signatures: { quota: [], error: boom } }\n',
        file,
        { providersDir: providers },
      ).agents[0];
      expect([a?.command, a?.args]).toEqual(['/opt/fake', ['--preset']]);
      expect(a?.env).toEqual({ FROM: 'agent', PRESET: '1' });
      expect([a?.readyPattern, a?.readyTimeoutMs]).toEqual(['fake> $', 9000]);
      expect([a?.input.submitDelayMs, a?.input.escape]).toEqual([200, true]);
      expect(a?.blocked).toEqual({ holdMs: 1000, afterMs: 60_000, then: 'none', signatures: [{ kind: 'login', pattern: 'Sign in' }, { kind: 'error', pattern: 'boom' }] });
    });

    it('`provider:` under defaults gives every agent the preset; an agent names another or none', () => {
      const cfg = parseConfig(
        'defaults:\n  provider: fake\nagents:\n  a: {}\n  b: { provider: shell }\n',
        file,
        { providersDir: providersDir({ fake: FAKE, shell: 'name: shell\ndescription: sh\nchecked: []\ncommand: sh\n' }) },
      );
      expect(cfg.agents.map((a) => [a.name, a.provider, a.command])).toEqual([
        ['a', 'fake', 'fake-cli'],
        ['b', 'shell', 'sh'],
      ]);
    });
  });

  it('an unknown provider is an error at its line:col, listing the known ones', () => {
    expect(errorsOf('agents:\n  a:\n    provider: claud\n')).toEqual([
      'F:3:15: agents.a.provider: expected a known provider (aider, claude, codex, gemini, opencode, shell), found "claud"',
    ]);
    expect(errorsOf('defaults: { provider: cursor }\nagents:\n  a: {}\n')).toEqual([
      'F:1:23: defaults.provider: expected a known provider (aider, claude, codex, gemini, opencode, shell), found "cursor"',
    ]);
  });

  it('a broken preset file is reported at its own file:line:col', () => {
    const providers = providersDir({
      bad: 'name: bad\ndescription: broken\nchecked: [1.0]\ncommand: x\nblocked:\n  signatures: { trust: "(" }\nprovider: claude\n',
      renamed: 'name: other\ndescription: misnamed\nchecked: []\ncommand: x\n',
    });
    const bad = join(providers, 'bad.yaml');
    expect(errorsOf('agents:\n  a: { provider: bad }\n  b: { provider: renamed }\n  c: { provider: bad }\n', providers)).toEqual([
      `${bad}:3:11: checked[0]: expected a version string (quote it), found number 1`,
      `${bad}:6:24: blocked.signatures.trust: expected a valid regular expression (Invalid regular expression: /(/m: Unterminated group), found "("`,
      `${bad}:7:1: provider: unknown key "provider"`,
      `${join(providers, 'renamed.yaml')}:1:7: name: expected "renamed", the file's name, found "other"`,
    ]);
  });
});
