/** Provider detection on a machine made for the test: stub CLIs on a PATH of their own and a fake HOME. */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPreset, type Preset } from '../../src/config/providers.js';
import { authEvidence, cliVersion, detect, diagnose } from '../../src/host/detect.js';

/** A directory of executables, each a shell script with `body`. */
function binDir(stubs: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'orch-detect-bin-'));
  for (const [name, body] of Object.entries(stubs)) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  return dir;
}

/** A home directory holding `files` (path relative to it → content). */
function home(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'orch-detect-home-'));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

function preset(name: string): Preset {
  const p = loadPreset(name);
  if (p === undefined) throw new Error(`no preset ${name}`);
  return p;
}

describe('detect', () => {
  it('finds the command on PATH, not elsewhere', () => {
    const bin = binDir({ claude: 'echo 2.1.332' });
    expect(detect(preset('claude'), { PATH: bin, HOME: home() }, '/').path).toBe(join(bin, 'claude'));
    expect(detect(preset('claude'), { PATH: binDir({}), HOME: home() }, '/').path).toBeUndefined();
  });

  it('a login is a variable that is set, or a credential file with something in it', () => {
    const claude = preset('claude');
    expect(authEvidence(claude, { HOME: home() })).toBeUndefined();
    expect(authEvidence(claude, { HOME: home(), ANTHROPIC_API_KEY: '' })).toBeUndefined();
    expect(authEvidence(claude, { HOME: home(), ANTHROPIC_API_KEY: 'sk-x' })).toBe('ANTHROPIC_API_KEY');
    expect(authEvidence(claude, { HOME: home({ '.claude/.credentials.json': '{"claudeAiOauth":{}}' }) })).toBe('~/.claude/.credentials.json');
    // What a logout leaves behind is not a login.
    expect(authEvidence(claude, { HOME: home({ '.claude/.credentials.json': '{}' }) })).toBeUndefined();
    expect(authEvidence(claude, { HOME: home({ '.claude/.credentials.json': '' }) })).toBeUndefined();
  });

  it('credential files move with the variables the CLIs read (CLAUDE_CONFIG_DIR, CODEX_HOME, GEMINI_CLI_HOME, XDG_DATA_HOME)', () => {
    const elsewhere = home({ 'c/.credentials.json': '{"a":1}', 'x/auth.json': '{"a":1}', 'g/.gemini/oauth_creds.json': '{"a":1}', 'd/opencode/auth.json': '{"a":1}' });
    const env = { HOME: home(), CLAUDE_CONFIG_DIR: join(elsewhere, 'c'), CODEX_HOME: join(elsewhere, 'x'), GEMINI_CLI_HOME: join(elsewhere, 'g'), XDG_DATA_HOME: join(elsewhere, 'd') };
    expect(['claude', 'codex', 'gemini', 'opencode'].map((n) => authEvidence(preset(n), env))).toEqual([
      join(elsewhere, 'c/.credentials.json'),
      join(elsewhere, 'x/auth.json'),
      join(elsewhere, 'g/.gemini/oauth_creds.json'),
      join(elsewhere, 'd/opencode/auth.json'),
    ]);
  });

  it('codex is not logged in by OPENAI_API_KEY alone (codex login status says so), only by its auth.json', () => {
    expect(authEvidence(preset('codex'), { HOME: home(), OPENAI_API_KEY: 'sk-x' })).toBeUndefined();
    expect(authEvidence(preset('codex'), { HOME: home({ '.codex/auth.json': '{"OPENAI_API_KEY":"sk-x"}' }) })).toBe('~/.codex/auth.json');
  });
});

describe('versions', () => {
  it('reads the first version number, from stdout, or from stderr when stdout has none', async () => {
    const bin = binDir({
      claude: 'echo "2.1.332 (Claude Code)"',
      codex: 'echo "WARNING: 1.2.3 is not this" >&2; echo "codex-cli 0.169.0"',
      gemini: 'echo "0.61.0-preview.1" >&2; exit 1',
      aider: 'echo "no version here"',
    });
    const versions = await Promise.all(['claude', 'codex', 'gemini', 'aider'].map((n) => cliVersion(join(bin, n), { PATH: bin })));
    expect(versions).toEqual(['2.1.332', '0.169.0', '0.61.0-preview.1', undefined]);
  });

  it('a CLI that never answers --version is given up on after 5 s, not waited for', async () => {
    const bin = binDir({ claude: 'exec /bin/sleep 30' });
    const started = Date.now();
    expect(await cliVersion(join(bin, 'claude'), { PATH: bin })).toBeUndefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(5000);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("diagnose says whether the version is one the preset's signatures were checked against", async () => {
    const bin = binDir({ claude: 'echo "2.1.332 (Claude Code)"', codex: 'echo "codex-cli 0.1.0"' });
    const env = { PATH: bin, HOME: home(), ANTHROPIC_API_KEY: 'k' };
    expect(await diagnose(preset('claude'), env, '/')).toEqual({ provider: 'claude', path: join(bin, 'claude'), version: '2.1.332', checked: true, auth: 'ANTHROPIC_API_KEY' });
    expect(await diagnose(preset('codex'), env, '/')).toEqual({ provider: 'codex', path: join(bin, 'codex'), version: '0.1.0', checked: false, auth: undefined });
    expect(await diagnose(preset('gemini'), env, '/')).toEqual({ provider: 'gemini', path: undefined, version: undefined, checked: false, auth: undefined });
  });
});
