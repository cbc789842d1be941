/** `orchestra doctor` through the real CLI, on a PATH of stub CLIs and a fake HOME (no real agent CLI needed). */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './harness.js';

const bin = mkdtempSync(join(tmpdir(), 'orch-doctor-bin-'));
for (const [name, version] of Object.entries({ claude: '2.1.332 (Claude Code)', codex: 'codex-cli 0.1.0' })) {
  writeFileSync(join(bin, name), `#!/bin/sh\necho "${version}"\n`);
  chmodSync(join(bin, name), 0o755);
}
const home = mkdtempSync(join(tmpdir(), 'orch-doctor-home-'));
mkdirSync(join(home, '.codex'));
writeFileSync(join(home, '.codex/auth.json'), '{"OPENAI_API_KEY":"sk-test"}');

/** Only the stubs on PATH (and node, which runs the CLI by its absolute path), no key from the real environment. */
const env = { PATH: bin, HOME: home, ANTHROPIC_API_KEY: '', CLAUDE_CODE_OAUTH_TOKEN: '', OPENAI_API_KEY: '', GEMINI_API_KEY: '', GOOGLE_API_KEY: '', CLAUDE_CONFIG_DIR: '', CODEX_HOME: '', GEMINI_CLI_HOME: '', XDG_DATA_HOME: '' };

describe('orchestra doctor', () => {
  it('prints each agent CLI: where it is, its version, whether the preset was checked against it, the evidence of a login', async () => {
    const r = await runCli(['doctor'], { env: { ...env, GEMINI_API_KEY: 'g' } });
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout.trimEnd().split('\n').map((l) => l.split(/ {2,}/))).toEqual([
      ['PROVIDER', 'INSTALLED', 'VERSION', 'CHECKED', 'AUTH'],
      ['aider', 'no', '-', 'no', 'no'],
      ['claude', join(bin, 'claude'), '2.1.332', 'yes', 'no'],
      ['codex', join(bin, 'codex'), '0.1.0', 'no', 'yes (~/.codex/auth.json)'],
      ['gemini', 'no', '-', 'no', 'yes (GEMINI_API_KEY)'],
      ['opencode', 'no', '-', 'no', 'yes (GEMINI_API_KEY)'],
    ]);
  });

  it('--json gives the same as a list of objects', async () => {
    const r = await runCli(['doctor', '--json'], { env });
    expect([r.code, r.stderr]).toEqual([0, '']);
    const rows = JSON.parse(r.stdout) as unknown[];
    expect(rows).toHaveLength(5);
    expect(rows[1]).toEqual({ provider: 'claude', installed: join(bin, 'claude'), version: '2.1.332', checked: true, auth: null });
    expect(rows[2]).toEqual({ provider: 'codex', installed: join(bin, 'codex'), version: '0.1.0', checked: false, auth: '~/.codex/auth.json' });
  });
});
