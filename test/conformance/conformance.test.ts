/**
 * The conformance kit: every recorded session of a real agent CLI (test/conformance/PROVIDER/VERSION/
 * *.cast, asciicast v2) is replayed through the terminal model, the provider's preset and the agent
 * chart, and must produce the states annotated beside it (*.states.json). No CLI is needed.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Cast, type Expected, presetAgent, readCast, replay } from './replay.js';

const ROOT = import.meta.dirname;

interface Recording {
  readonly provider: string;
  readonly version: string;
  readonly name: string;
  readonly cast: string;
  readonly states: string;
}

function recordings(): Recording[] {
  const out: Recording[] = [];
  for (const provider of readdirSync(ROOT, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    const pdir = join(ROOT, provider.name);
    for (const version of readdirSync(pdir, { withFileTypes: true }).filter((d) => d.isDirectory())) {
      const vdir = join(pdir, version.name);
      for (const f of readdirSync(vdir).filter((x) => x.endsWith('.cast'))) {
        const states = join(vdir, f.replace(/\.cast$/, '.states.json'));
        if (existsSync(states)) out.push({ provider: provider.name, version: version.name, name: f.replace(/\.cast$/, ''), cast: join(vdir, f), states });
      }
    }
  }
  return out;
}

function expectations(file: string): Expected[] {
  return JSON.parse(readFileSync(file, 'utf8')) as Expected[];
}

describe('conformance: recorded sessions of real agent CLIs', () => {
  it('covers claude, codex, gemini and opencode', () => {
    expect(new Set(recordings().map((r) => r.provider))).toEqual(new Set(['claude', 'codex', 'gemini', 'opencode']));
  });

  for (const r of recordings()) {
    it(`${r.provider} ${r.version} ${r.name}`, async () => {
      const states = expectations(r.states);
      const ended = states.find((s) => s.exit);
      const exit = ended?.exit ? { exit: { at: ended.from ?? ended.at, code: ended.exit.code, signal: ended.exit.signal } } : {};
      const got = await replay(readCast(r.cast), presetAgent(r.provider), states.map((s) => s.at), exit);
      expect(states.map((s, i) => `${s.at}s ${got.states[i]}`)).toEqual(states.map((s) => `${s.at}s ${s.state}`));
      // A CLI that exits by itself on an error screen: the exit says what the screen said.
      if (ended?.exitScreen !== undefined) expect(got.exitScreen).toBe(ended.exitScreen);
    });
  }
});

describe('the replay itself (a synthetic session)', () => {
  const cast: Cast = {
    width: 80,
    height: 10,
    events: [
      [0.1, 'o', 'Welcome to Claude Code\r\n'],
      [0.5, 'o', '\x1b[2J\x1b[HQuick safety check: Is this a project you created or one you trust?\r\n❯ 1. Yes, proceed\r\n'],
      [3.0, 'i', '\r'],
      [3.1, 'o', '\x1b[2J\x1b[H> \r\n  ? for shortcuts\r\n'],
      // An input box drawn for a moment over a dialog decides nothing.
      [5.0, 'o', '\x1b[2J\x1b[HDo you want to proceed?\r\n❯ 1. Yes\r\n'],
      [5.1, 'o', '\x1b[2J\x1b[H> \r\n  ? for shortcuts\r\n'],
      [5.15, 'o', '\x1b[2J\x1b[HDo you want to proceed?\r\n❯ 1. Yes\r\n'],
    ],
  };

  it('a trust dialog is blocked.trust once it has held; the idle box after it is ready; a permission prompt is blocked.permission', async () => {
    const got = await replay(cast, presetAgent('claude'), [0.3, 0.7, 1.0, 2.9, 3.5, 5.12, 5.6]);
    // claude's preset has a busy and a ready signature: the screen alone decides between them.
    expect(got.states).toEqual(['starting', 'starting', 'blocked.trust', 'blocked.trust', 'ready', 'ready', 'blocked.permission']);
  });
});
