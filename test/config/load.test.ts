import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { configErrors } from './config-errors.js';

const dir = mkdtempSync(join(tmpdir(), 'orch-cfg-'));
const file = join(dir, 'orchestra.yaml');

const errorsOf = (text: string): string[] => configErrors(() => parseConfig(text, file), `${file}:`, 'F:');

describe('config loading', () => {
  it('merges defaults, resolves paths and freezes the result', () => {
    const cfg = parseConfig(
      [
        'session: demo',
        'defaults:',
        '  idle_after: 500ms',
        '  restart: always',
        '  env: { A: "1" }',
        'agents:',
        '  a:',
        '    command: sh',
        '    env: { B: "2" }',
        '  b:',
        '    command: sh',
        '    args: ["-c", "true"]',
        '    restart: { policy: on-failure, backoff: { initial: 2s } }',
        '    depends_on: [a]',
        '    ready: { pattern: "\\\\$ $", timeout: 5s }',
        'x-notes: ignored',
      ].join('\n'),
      file,
    );
    expect(cfg.session).toBe('demo');
    expect(cfg.agents.map((a) => a.name)).toEqual(['a', 'b']);
    const [a, b] = cfg.agents;
    expect(a?.idleAfterMs).toBe(500);
    expect(a?.env).toEqual({ A: '1', B: '2' });
    expect(a?.restart.policy).toBe('always');
    expect(a?.cwd).toBe(dir);
    expect(b?.restart.policy).toBe('on-failure');
    expect(b?.restart.backoff.initialMs).toBe(2000);
    expect(b?.restart.backoff.maxMs).toBe(60_000);
    expect(b?.readyPattern).toBe('\\$ $');
    expect(b?.readyTimeoutMs).toBe(5000);
    expect(Object.isFrozen(cfg) && Object.isFrozen(b?.restart.backoff)).toBe(true);
    expect(cfg.bus.publish).toBe('ipc');
  });

  it("orchestra.log's rotation comes from defaults.log (built-in 10MiB x 3), not from any agent's own log settings", () => {
    expect(parseConfig('agents:\n  a: { command: sh, log: { max_size: 1KiB } }\n', file).log).toEqual({ maxSize: 10 * 1024 * 1024, keep: 3 });
    expect(parseConfig('defaults:\n  log: { max_size: 2MiB, keep: 1 }\nagents:\n  a: { command: sh }\n', file).log).toEqual({ maxSize: 2 * 1024 * 1024, keep: 1 });
  });

  it('orders agents so dependencies come first', () => {
    const cfg = parseConfig('agents:\n  w: { command: sh, depends_on: [m] }\n  m: { command: sh }\n', file);
    expect(cfg.agents.map((a) => a.name)).toEqual(['m', 'w']);
  });

  it('unknown keys are errors at the key, with the path', () => {
    expect(errorsOf('agents:\n  a:\n    command: sh\n    comand: sh\n')).toEqual(['F:4:5: agents.a.comand: unknown key "comand" (did you mean "command"?)']);
  });

  it('wrong types say what was expected and what was found', () => {
    expect(errorsOf('agents:\n  a:\n    command: sh\n    cols: wide\n')).toEqual([
      'F:4:11: agents.a.cols: expected a whole number of columns, found "wide"',
    ]);
  });

  it('bad durations', () => {
    expect(errorsOf('agents:\n  a:\n    command: sh\n    idle_after: 2 seconds\n')).toEqual([
      'F:4:17: agents.a.idle_after: expected a duration such as "500ms", "2s" or "5m", found "2 seconds"',
    ]);
    expect(errorsOf('agents:\n  a:\n    command: sh\n    idle_after: 2\n')).toEqual([
      'F:4:17: agents.a.idle_after: expected a duration such as "500ms", "2s" or "5m", found number 2',
    ]);
  });

  it('durations that wedge orchestra (a 0s budget window restarts forever, a 0s ready timeout aborts every run) are rejected with the floor and why', () => {
    expect(
      errorsOf(
        'agents:\n  a:\n    command: sh\n    restart: { budget: { window: 0s }, reset_after: 10ms }\n    ready: { timeout: 0s }\n' +
          '    idle_after: 0ms\n    busy_after: 0ms\n    stop: { grace: 0s }\n    sidecar: { hang_timeout: 50ms }\n',
      ),
    ).toEqual([
      'F:4:34: agents.a.restart.budget.window: expected a duration of at least 1s: restarts older than the window are forgotten, so a shorter one never fills the budget and a crash loop restarts forever, found "0s"',
      'F:4:53: agents.a.restart.reset_after: expected a duration of at least 1s: a run this long resets the backoff; a shorter one would reset it after every crash and the delay would never grow, found "10ms"',
      'F:5:23: agents.a.ready.timeout: expected a duration of at least 100ms: a program needs time to start and draw its screen; a shorter timeout aborts every run as it starts, found "0s"',
      'F:6:17: agents.a.idle_after: expected a duration of at least 50ms: pauses this short are normal between chunks of output; a shorter one makes the agent flap between busy and ready, found "0ms"',
      'F:7:17: agents.a.busy_after: expected a duration of at least 10ms: a second chunk of output within this time makes the agent busy; a shorter one never sees the second chunk, found "0ms"',
      'F:8:20: agents.a.stop.grace: expected a duration of at least 100ms: the group needs time to act on the stop signal; for an immediate kill use stop.signal: SIGKILL, found "0s"',
      "F:9:30: agents.a.sidecar.hang_timeout: expected a duration of at least 100ms (or 0 to turn it off): heartbeats this close are not a hang check but a race with the agent's own timers, found \"50ms\"",
    ]);
    // The floors themselves, 0 where it means "off", and the defaults block are all fine.
    const ok = parseConfig(
      'defaults:\n  restart: { budget: { window: 1s }, reset_after: 1s }\nagents:\n  a:\n    command: sh\n    ready: { timeout: 100ms }\n' +
        '    idle_after: 50ms\n    busy_after: 10ms\n    stop: { grace: 100ms }\n    sidecar: { hang_timeout: 0s }\n',
      file,
    ).agents[0];
    expect([ok?.restart.budget.windowMs, ok?.readyTimeoutMs, ok?.stop.graceMs, ok?.sidecar.hangTimeoutMs]).toEqual([1000, 100, 100, 0]);
    expect(errorsOf('defaults:\n  restart: { budget: { window: 500ms } }\nagents:\n  a: { command: sh }\n')[0]).toMatch(/^F:2:32: defaults\.restart\.budget\.window: expected a duration of at least 1s/);
  });

  it('restart policy values, in shorthand and long form', () => {
    expect(errorsOf('agents:\n  a:\n    command: sh\n    restart: sometimes\n')).toEqual([
      'F:4:14: agents.a.restart: expected one of "no", "on-failure", "always", found "sometimes"',
    ]);
    expect(errorsOf('agents:\n  a:\n    command: sh\n    restart:\n      policy: always\n      backoff: { factor: 0.5 }\n')).toEqual([
      'F:6:26: agents.a.restart.backoff.factor: expected a number >= 1, found number 0.5',
    ]);
  });

  it('a missing command is reported at the agent', () => {
    expect(errorsOf('agents:\n  a:\n    args: [x]\n')).toEqual(['F:3:5: agents.a.command: missing required key']);
  });

  it('unknown dependencies and self-dependencies', () => {
    expect(errorsOf('agents:\n  a:\n    command: sh\n    depends_on: [b, a]\n')).toEqual([
      'F:4:18: agents.a.depends_on[0]: expected the name of an agent in this file, found "b"',
      'F:4:21: agents.a.depends_on[1]: an agent cannot depend on itself, found "a"',
    ]);
  });

  it('dependency cycles name the cycle', () => {
    expect(errorsOf('agents:\n  a: { command: sh, depends_on: [c] }\n  b: { command: sh, depends_on: [a] }\n  c: { command: sh, depends_on: [b] }\n')).toEqual([
      'F:2:34: agents.a.depends_on[0]: dependency cycle: a -> c -> b -> a',
    ]);
  });

  it('invalid regular expressions and signals', () => {
    expect(errorsOf('agents:\n  a:\n    command: sh\n    ready: { pattern: "(" }\n    stop: { signal: TERM }\n')).toEqual([
      'F:4:23: agents.a.ready.pattern: expected a valid regular expression (Invalid regular expression: /(/m: Unterminated group), found "("',
      'F:5:21: agents.a.stop.signal: expected one of SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGKILL, SIGUSR1, SIGUSR2, found "TERM"',
    ]);
  });

  it('agent names are restricted (they appear in bus topics)', () => {
    expect(errorsOf('agents:\n  "a/b": { command: sh }\n')).toEqual([
      'F:2:3: agents.a/b: agent names use letters, digits, "-" and "_" (max 64) and start with a letter or digit',
    ]);
  });

  it('a non-existent cwd is an error', () => {
    expect(errorsOf('agents:\n  a: { command: sh, cwd: nope }\n')).toEqual([
      `F:2:26: agents.a.cwd: expected an existing directory (resolved to ${join(dir, 'nope')}), found "nope"`,
    ]);
  });

  it('the bus is local only', () => {
    expect(errorsOf('bus: { publish: "tcp://0.0.0.0:5555" }\nagents:\n  a: { command: sh }\n')).toEqual([
      'F:1:17: bus.publish: expected "ipc" or a tcp://127.0.0.1:PORT endpoint (the bus is local only), found "tcp://0.0.0.0:5555"',
    ]);
  });

  it('YAML syntax errors and duplicate keys carry positions', () => {
    expect(errorsOf('agents:\n  a: { command: sh\n')).toEqual([
      'F:2:6: the "{" opened here is not closed with "}" before line 3, column 1 (or the lines inside it are indented less than its key)',
    ]);
    expect(errorsOf('agents:\n  a: { command: sh }\n  a: { command: sh }\n')).toEqual(['F:3:3: agents.a: duplicate key "a": first defined at line 2, column 3']);
  });

  it('reports every problem at once, in file order', () => {
    expect(errorsOf('agents:\n  a:\n    command: sh\n    rows: x\n  b:\n    command: 3\n    bogus: 1\n')).toEqual([
      'F:4:11: agents.a.rows: expected a whole number of rows, found "x"',
      'F:6:14: agents.b.command: expected a command (string), found number 3',
      'F:7:5: agents.b.bogus: unknown key "bogus"',
    ]);
  });

  describe('supervision', () => {
    const agents = 'agents:\n  a: { command: sh }\n';

    it('defaults to one_for_one with the built-in budget agents get', () => {
      const cfg = parseConfig(agents, file);
      expect(cfg.supervision).toEqual({ strategy: 'one_for_one', budget: cfg.agents[0]?.restart.budget });
      expect(cfg.supervision.budget).toEqual({ maxRestarts: 10, windowMs: 600_000 });
      expect(Object.isFrozen(cfg.supervision.budget)).toBe(true);
    });

    it('parses each strategy and its budget', () => {
      for (const strategy of ['one_for_one', 'one_for_all', 'rest_for_one'] as const) {
        const cfg = parseConfig(`supervision:\n  strategy: ${strategy}\n  budget: { max_restarts: 5, window: 60s }\n${agents}`, file);
        expect(cfg.supervision).toEqual({ strategy, budget: { maxRestarts: 5, windowMs: 60_000 } });
      }
    });

    it("an unset budget, or unset keys of it, come from defaults.restart.budget, not from an agent's own", () => {
      const defaults = 'defaults:\n  restart: { budget: { max_restarts: 3, window: 30s } }\n';
      const own = 'agents:\n  a: { command: sh, restart: { budget: { max_restarts: 7 } } }\n';
      expect(parseConfig(defaults + own, file).supervision.budget).toEqual({ maxRestarts: 3, windowMs: 30_000 });
      expect(parseConfig(`${defaults}supervision: { budget: { window: 2m } }\n${own}`, file).supervision.budget).toEqual({ maxRestarts: 3, windowMs: 120_000 });
      expect(parseConfig(`supervision: { budget: { max_restarts: 1 } }\n${agents}`, file).supervision.budget).toEqual({ maxRestarts: 1, windowMs: 600_000 });
    });

    it('a bad strategy, an unknown key and a too-short window are reported at their position', () => {
      expect(errorsOf(`supervision:\n  strategy: all_for_one\n  retries: 3\n  budget: { window: 0s, max: 1 }\n${agents}`)).toEqual([
        'F:2:13: supervision.strategy: expected one of "one_for_one", "one_for_all", "rest_for_one", found "all_for_one"',
        'F:3:3: supervision.retries: unknown key "retries"',
        'F:4:21: supervision.budget.window: expected a duration of at least 1s: restarts older than the window are forgotten, so a shorter one never fills the budget and a crash loop restarts forever, found "0s"',
        'F:4:25: supervision.budget.max: unknown key "max"',
      ]);
    });
  });

  describe('busy and blocked screens', () => {
    it('are unset by default: hold 300ms, escalation after 10m doing nothing, no signatures, no provider', () => {
      const a = parseConfig('agents:\n  a: { command: sh }\n', file).agents[0];
      expect([a?.provider, a?.busyPattern]).toEqual([undefined, undefined]);
      expect(a?.blocked).toEqual({ holdMs: 0, afterMs: 600_000, then: 'none', signatures: [] });
      expect(Object.isFrozen(a?.blocked.signatures)).toBe(true);
    });

    it('signatures keep the file order, one per pattern of a list, and hold, after and then are read', () => {
      const a = parseConfig(
        [
          'agents:',
          '  a:',
          '    command: sh',
          '    busy: { pattern: "esc to interrupt" }',
          '    blocked:',
          '      hold: 0ms',
          '      after: 0s',
          '      then: restart',
          '      signatures:',
          '        trust: "Quick safety check"',
          "        permission: ['Do you want to proceed\\?', 'Allow command\\?']",
          '        login: Sign in',
        ].join('\n'),
        file,
      ).agents[0];
      expect(a?.busyPattern).toBe('esc to interrupt');
      expect(a?.blocked).toEqual({
        holdMs: 0,
        afterMs: 0,
        then: 'restart',
        signatures: [
          { kind: 'trust', pattern: 'Quick safety check' },
          { kind: 'permission', pattern: 'Do you want to proceed\\?' },
          { kind: 'permission', pattern: 'Allow command\\?' },
          { kind: 'login', pattern: 'Sign in' },
        ],
      });
    });

    it("defaults' signatures merge by kind: an agent replaces a kind, adds one, or removes one with []", () => {
      const a = parseConfig(
        'defaults:\n  blocked: { after: 1m, signatures: { login: a, quota: b, error: c } }\n' +
          'agents:\n  a: { command: sh, blocked: { then: interrupt, signatures: { quota: B, error: [], trust: t } } }\n',
        file,
      ).agents[0];
      expect(a?.blocked).toEqual({
        holdMs: 0,
        afterMs: 60_000,
        then: 'interrupt',
        signatures: [
          { kind: 'login', pattern: 'a' },
          { kind: 'quota', pattern: 'B' },
          { kind: 'trust', pattern: 't' },
        ],
      });
    });

    it('a pattern that does not compile is reported at its line:col (in a list, at its index)', () => {
      expect(errorsOf('agents:\n  a:\n    command: sh\n    busy: { pattern: "[" }\n    blocked:\n      signatures:\n        error: "(x"\n        quota: [ok, "a{1"  , "*"]\n')).toEqual([
        'F:4:22: agents.a.busy.pattern: expected a valid regular expression (Invalid regular expression: /[/m: Unterminated character class), found "["',
        'F:7:16: agents.a.blocked.signatures.error: expected a valid regular expression (Invalid regular expression: /(x/m: Unterminated group), found "(x"',
        'F:8:30: agents.a.blocked.signatures.quota[2]: expected a valid regular expression (Invalid regular expression: /*/m: Nothing to repeat), found "*"',
      ]);
    });

    it('an unknown kind of blocked screen is an error at its key, listing the kinds', () => {
      expect(errorsOf('agents:\n  a:\n    command: sh\n    blocked:\n      signatures: { prompt: x, login: [3] }\n')).toEqual([
        'F:5:21: agents.a.blocked.signatures.prompt: unknown key "prompt": expected kinds permission, question, trust, login, quota, error, each with a pattern or a list of patterns',
        'F:5:40: agents.a.blocked.signatures.login[0]: expected a regular expression string, found number 3',
      ]);
    });

    it('an unknown escalation and durations that are not durations', () => {
      expect(errorsOf('agents:\n  a:\n    command: sh\n    blocked: { then: kill, after: soon, hold: 1 }\n')).toEqual([
        'F:4:22: agents.a.blocked.then: expected one of "none", "interrupt", "restart", found "kill"',
        'F:4:35: agents.a.blocked.after: expected a duration such as "500ms", "2s" or "5m", found "soon"',
        'F:4:47: agents.a.blocked.hold: expected a duration such as "500ms", "2s" or "5m", found number 1',
      ]);
    });
  });

  describe('activity', () => {
    it('is output unless set; regions resolve to rows (1-based, negative from the bottom) or patterns; `activity: screen` is short for `{from: screen}`; ignore is replaced as a whole', () => {
      const cfg = parseConfig(
        [
          'defaults:',
          '  activity: { from: screen, ignore: [{ rows: -1 }] }',
          'agents:',
          '  a:',
          '    command: sh',
          '    activity: { ignore: [{ rows: 1-3 }, { rows: "2--1" }, { rows: 4 }, { lines: \'^Every \\d\' }] }',
          '  b:',
          '    command: sh',
          '  c:',
          '    command: sh',
          '    activity: { from: output, ignore: [] }',
          '  d:',
          '    command: sh',
          '    activity: screen',
        ].join('\n'),
        file,
      );
      expect(cfg.agents.map((x) => x.activity)).toEqual([
        { from: 'screen', ignore: [{ rows: { from: 1, to: 3 } }, { rows: { from: 2, to: -1 } }, { rows: { from: 4, to: 4 } }, { lines: '^Every \\d' }] },
        { from: 'screen', ignore: [{ rows: { from: -1, to: -1 } }] },
        { from: 'output', ignore: [] },
        { from: 'screen', ignore: [{ rows: { from: -1, to: -1 } }] },
      ]);
      expect(parseConfig('agents:\n  a:\n    command: sh\n', file).agents[0]?.activity).toEqual({ from: 'output', ignore: [] });
    });

    it('bad sources, rows, regions and patterns are reported at their position', () => {
      const text = [
        'agents:',
        '  a:',
        '    command: sh',
        '    activity:',
        '      from: bytes',
        '      ignore:',
        '        - rows: 0',
        '        - rows: 3-1',
        '        - rows: top',
        '        - { rows: 1, lines: x }',
        '        - lines: "("',
        '  b:',
        '    command: sh',
        '    activity: 3',
      ].join('\n');
      expect(errorsOf(text)).toEqual([
        'F:5:13: agents.a.activity.from: expected one of "output", "screen", found "bytes"',
        'F:7:17: agents.a.activity.ignore[0].rows: expected a row (1 the first, -1 the last) or a range of rows such as "1-3" or "-2--1", found number 0',
        'F:8:17: agents.a.activity.ignore[1].rows: expected a range from the upper row to the lower one ("1-3"), found "3-1"',
        'F:9:17: agents.a.activity.ignore[2].rows: expected a row (1 the first, -1 the last) or a range of rows such as "1-3" or "-2--1", found "top"',
        'F:10:11: agents.a.activity.ignore[3]: expected either `rows` or `lines` (one region per entry), found a mapping',
        'F:11:18: agents.a.activity.ignore[4].lines: expected a valid regular expression (Invalid regular expression: /(/m: Unterminated group), found "("',
        'F:14:15: agents.b.activity: expected output, screen, or a mapping with `from` and `ignore`, found number 3',
      ]);
    });

    it('regions without `from: screen` are an error (output counts byte by byte), at the agent or under defaults', () => {
      expect(errorsOf('agents:\n  a:\n    command: sh\n    activity: { ignore: [{ rows: 1 }] }\n')).toEqual([
        'F:4:25: agents.a.activity.ignore: regions are ignored only with `activity.from: screen` (output counts byte by byte)',
      ]);
      expect(errorsOf('defaults:\n  activity: { ignore: [{ rows: 1 }] }\nagents:\n  a:\n    command: sh\n')).toEqual([
        'F:2:23: defaults.activity.ignore: regions are ignored only with `activity.from: screen` (output counts byte by byte)',
      ]);
    });

    it('an agent that says `activity: output` over a screen mode from defaults turns its regions off with it', () => {
      const cfg = parseConfig('defaults:\n  activity: { from: screen, ignore: [{ rows: 1 }] }\nagents:\n  a:\n    command: sh\n    activity: output\n', file);
      expect(cfg.agents[0]?.activity).toEqual({ from: 'output', ignore: [] });
    });
  });

  it('a missing file is a clear error, not a stack trace', () => {
    expect(() => loadConfig(join(dir, 'nope.yaml'))).toThrow(/cannot read config: no such file/);
  });

  it('loads from disk', () => {
    writeFileSync(file, 'agents:\n  a: { command: sh }\n');
    expect(loadConfig(file).agents[0]?.name).toBe('a');
  });
});
