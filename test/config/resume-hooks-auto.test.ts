/** The keys of issue 17 items 3-5 on the config side: resume, restart.resume, hooks, provider: auto and providers.order. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type LoadOptions, parseConfig } from '../../src/config/load.js';
import type { Detector, Presence } from '../../src/host/detect.js';
import { configErrors } from './config-errors.js';

const file = join(mkdtempSync(join(tmpdir(), 'orch-auto-')), 'orchestra.yaml');

const errorsOf = (text: string, opts: LoadOptions = {}): string[] => configErrors(() => parseConfig(text, file, opts), `${file}:`, 'F:');

/** A machine where each named provider is installed and/or logged in, and the env each detection saw. */
function machine(state: Record<string, { installed?: boolean; auth?: string }>): { detect: Detector; seen: Presence[]; envs: Record<string, string | undefined>[] } {
  const seen: Presence[] = [];
  const envs: Record<string, string | undefined>[] = [];
  const detect: Detector = (preset, env) => {
    const s = state[preset.name] ?? {};
    const presence = { provider: preset.name, path: s.installed === true ? `/bin/${preset.name}` : undefined, auth: s.auth };
    seen.push(presence);
    envs.push({ ...env });
    return presence;
  };
  return { detect, seen, envs };
}

describe('resume', () => {
  const state = (name: string) => expect.stringMatching(new RegExp(`/resume/${name}\\.json$`));

  it("claude's preset starts a conversation with an id and resumes it, where claude keeps its transcript", () => {
    const [a] = parseConfig('agents:\n  a: { provider: claude }\n', file).agents;
    expect(a?.resume).toEqual({
      start: ['--session-id', '{id}'],
      again: ['--resume', '{id}'],
      transcript: { files: '${CLAUDE_CONFIG_DIR:-~/.claude}/projects/{cwd_slug}/{id}.jsonl', header: {}, message: undefined, removeEmpty: false },
      capture: undefined,
      state: state('a'),
    });
  });

  it("gemini's preset gives the id and looks inside gemini's session files for a message; codex's captures the id codex chose", () => {
    const [g, x] = parseConfig('agents:\n  g: { provider: gemini }\n  x: { provider: codex }\n', file).agents;
    expect(g?.resume).toEqual({
      start: ['--session-id', '{id}'],
      again: ['--resume', '{id}'],
      transcript: { files: '${GEMINI_CLI_HOME:-~}/.gemini/tmp/*/chats/session-*.jsonl', header: { sessionId: '{id}' }, message: { type: ['user', 'gemini'] }, removeEmpty: true },
      capture: undefined,
      state: state('g'),
    });
    expect(x?.resume).toEqual({
      start: [],
      again: ['resume', '{id}'],
      transcript: undefined,
      capture: { files: '${CODEX_HOME:-~/.codex}/sessions/*/*/*/rollout-*.jsonl', header: { type: 'session_meta', 'payload.cwd': '{cwd}' }, id: 'payload.id', started: 'payload.timestamp' },
      state: state('x'),
    });
    // `codex resume ID` after codex's own flags: the subcommand takes them (verified with 0.171.0).
    expect(x?.args).toEqual(['--no-alt-screen', '--no-daemon']);
  });

  it('restart.resume: false opts out (and restart: always keeps the preset\'s resume)', () => {
    const cfg = parseConfig('agents:\n  off: { provider: claude, restart: { resume: false } }\n  on: { provider: claude, restart: always }\n  x: { provider: codex, restart: { resume: false } }\n', file);
    expect(cfg.agents.map((a) => [a.name, a.resume?.again])).toEqual([
      ['off', undefined],
      ['on', ['--resume', '{id}']],
      ['x', undefined],
    ]);
  });

  it("an agent of its own says resume, transcript optional; it replaces a preset's as a whole", () => {
    const cfg = parseConfig('agents:\n  a: { command: my-cli, resume: { start: [--new, "{id}"], again: [--continue, "{id}"] } }\n  c: { provider: claude, resume: { start: [], again: [-c] } }\n', file);
    expect(cfg.agents.map((a) => a.resume)).toEqual([
      { start: ['--new', '{id}'], again: ['--continue', '{id}'], transcript: undefined, capture: undefined, state: state('a') },
      { start: [], again: ['-c'], transcript: undefined, capture: undefined, state: state('c') },
    ]);
  });

  it('a resume without again, or with an unknown key, is an error at its line:col', () => {
    expect(errorsOf('agents:\n  a:\n    command: x\n    resume: { start: [a], transcript: 1, id: x }\n')).toEqual([
      'F:4:13: agents.a.resume.again: missing required key',
      'F:4:39: agents.a.resume.transcript: expected a path template (string) or a mapping with files:, found number 1',
      'F:4:42: agents.a.resume.id: unknown key "id"',
    ]);
    expect(errorsOf('agents:\n  a: { command: x, restart: { resume: "no" } }\n')).toEqual(['F:2:39: agents.a.restart.resume: expected true or false, found "no"']);
    expect(errorsOf('agents:\n  a: { command: x, resume: { start: [], again: [], transcript: { header: {}, message: { type: user } } } }\n')).toEqual([
      'F:2:64: agents.a.resume.transcript.files: missing required key',
      'F:2:95: agents.a.resume.transcript.message.type: expected a list of values, found "user"',
    ]);
  });

  it('capture: the CLI chooses the id, so start cannot use {id}, and it is either capture or transcript', () => {
    expect(errorsOf('agents:\n  a:\n    command: x\n    resume:\n      start: [--id, "{id}"]\n      again: [resume, "{id}"]\n      transcript: /t\n      capture: { files: /f, id: id }\n')).toEqual([
      'F:5:21: agents.a.resume.start[1]: expected no {id} in start with capture: the CLI chooses the id, known only after the run started, found "{id}"',
      'F:8:16: agents.a.resume.capture: expected either transcript (an id orchestra gives) or capture (an id the CLI chooses), not both, found a mapping',
    ]);
    expect(errorsOf('agents:\n  a: { command: x, resume: { start: [], again: [], capture: { files: /f } } }\n')).toEqual(['F:2:61: agents.a.resume.capture.id: missing required key']);
  });

  it("two agents that capture in one directory are refused: codex's files cannot tell whose conversation is whose", () => {
    const dir = dirname(file);
    expect(errorsOf(`agents:\n  a: { provider: codex }\n  b: { provider: codex, cwd: ${dir}/. }\n  c: { provider: codex, restart: { resume: false } }\n  g1: { provider: gemini }\n  g2: { provider: gemini }\n`)).toEqual([
      `F:3:6: agents.b: expected a working directory of its own: it resumes by capture (resume.capture) in ${dir}, as agents.a does, and their CLI's files cannot tell their conversations apart; give one of them another cwd, or restart: { resume: false }`,
    ]);
  });
});

describe('hooks', () => {
  it("claude's preset installs claude hooks; others none", () => {
    const agents = parseConfig('agents:\n  c: { provider: claude }\n  x: { provider: codex }\n', file).agents;
    expect(agents.map((a) => a.hooks)).toEqual(['claude', undefined]);
  });

  it('an unknown hook dialect is an error at its line:col', () => {
    expect(errorsOf('agents:\n  a:\n    command: x\n    hooks: codex\n')).toEqual(['F:4:12: agents.a.hooks: expected one of "claude", found "codex"']);
  });
});

describe('provider: auto', () => {
  it('takes the first provider of the default order (claude, codex, gemini) that is installed and logged in', () => {
    const m = machine({ claude: { installed: true }, codex: { installed: true, auth: '~/.codex/auth.json' }, gemini: { installed: true, auth: 'GEMINI_API_KEY' } });
    const [a] = parseConfig('agents:\n  a: { provider: auto }\n', file, { detect: m.detect }).agents;
    expect([a?.provider, a?.command, a?.args]).toEqual(['codex', 'codex', ['--no-alt-screen', '--no-daemon']]);
    expect(m.seen.map((p) => p.provider)).toEqual(['claude', 'codex']);
  });

  it('follows providers.order, and applies under defaults to each agent with the env it will get', () => {
    const m = machine({ claude: { installed: true, auth: 'ANTHROPIC_API_KEY' }, gemini: { installed: true, auth: 'GEMINI_API_KEY' } });
    const cfg = parseConfig('providers: { order: [gemini, claude] }\ndefaults: { provider: auto, env: { A: d } }\nagents:\n  a: { env: { A: own } }\n  b: { provider: shell }\n', file, { detect: m.detect });
    expect(cfg.agents.map((a) => [a.name, a.provider, a.command])).toEqual([
      ['a', 'gemini', 'gemini'],
      ['b', 'shell', 'sh'],
    ]);
    expect(m.envs.map((e) => [e.A, e.PATH])).toEqual([['own', process.env.PATH]]);
  });

  it('none installed and logged in: an error at the `provider: auto` line, why each candidate was skipped', () => {
    const m = machine({ claude: { installed: true }, gemini: { installed: false, auth: 'GEMINI_API_KEY' } });
    expect(errorsOf('agents:\n  a:\n    provider: auto\n', { detect: m.detect })).toEqual([
      'F:3:15: agents.a.provider: expected an installed and authenticated provider, in the order of providers.order: ' +
        'claude: not authenticated (none of ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN, ${CLAUDE_CONFIG_DIR:-~/.claude}/.credentials.json); ' +
        'codex: not installed (no "codex" on PATH); gemini: not installed (no "gemini" on PATH)',
    ]);
    expect(errorsOf('defaults: { provider: auto }\nagents:\n  a: {}\n', { detect: m.detect })[0]).toMatch(/^F:1:23: defaults\.provider: expected an installed/);
  });

  it('an unknown name in providers.order is an error at its line:col', () => {
    expect(errorsOf('providers:\n  order: [claude, cursor, auto]\nagents:\n  a: { command: x }\n')).toEqual([
      'F:2:19: providers.order[1]: expected a known provider (aider, claude, codex, gemini, opencode, shell), found "cursor"',
      'F:2:27: providers.order[2]: expected a known provider (aider, claude, codex, gemini, opencode, shell), found "auto"',
    ]);
  });

  it('an agent that names its provider is never detected', () => {
    const m = machine({});
    parseConfig('agents:\n  a: { provider: claude }\n', file, { detect: m.detect });
    expect(m.seen).toEqual([]);
  });
});

describe('presets say how a login is detected', () => {
  it('auth evidence is preset-only: an agent cannot set it', () => {
    expect(errorsOf('agents:\n  a: { command: x, auth: { env: [K] } }\n')).toEqual(['F:2:20: agents.a.auth: unknown key "auth"']);
  });
});
