/** `orchestra provider list|show`: the shipped presets, read through the real CLI. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli, runtimeCommand } from './harness.js';

describe('orchestra provider', () => {
  it('list prints each preset with the CLI versions it was checked against', async () => {
    const r = await runCli(['provider', 'list']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    const rows = r.stdout.trimEnd().split('\n').map((l) => l.split(/ {2,}/));
    expect(rows.map((cols) => cols.slice(0, 2))).toEqual([
      ['NAME', 'CHECKED'],
      ['aider', '-'],
      ['claude', '2.1.197, 2.1.332'],
      ['codex', '0.169.0, 0.171.0'],
      ['gemini', '0.61.0'],
      ['opencode', '1.18.33'],
      ['shell', '-'],
    ]);
    expect(rows[2]?.[2]).toMatch(/Claude Code/);
  });

  it('show prints the preset file as it is, to copy', async () => {
    const r = await runCli(['provider', 'show', 'gemini']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toBe(readFileSync(join(ROOT, 'providers/gemini.yaml'), 'utf8'));
  });

  it('show of an unknown preset exits 2 naming the known ones', async () => {
    const r = await runCli(['provider', 'show', 'cursor']);
    expect([r.code, r.stdout]).toEqual([2, '']);
    expect(r.stderr).toBe('orchestra: unknown provider "cursor"; known: aider, claude, codex, gemini, opencode, shell\n');
  });

  it('finds the presets from dist/ under Deno too, from any working directory', () => {
    const [cmd, args] = runtimeCommand('deno', ['provider', 'show', 'shell']);
    const r = spawnSync(cmd, args, { cwd: '/', encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(ROOT, 'providers/shell.yaml'), 'utf8'));
  });
});
