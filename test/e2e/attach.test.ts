/**
 * Attach as good as tmux, through real PTYs: the test drives `orchestra attach` in a PTY like a
 * user's terminal, and renders everything attach wrote with the same headless terminal orchestra
 * uses, to compare what the person sees with the agent's screen.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import xterm from '@xterm/headless';
import * as pty from 'node-pty';
import { afterEach, describe, expect, it } from 'vitest';
import { isQuery, tokenize } from '../../src/terminal/ansi.js';
import { CLI, type Crew, eventually, FIX, isState, runCli, startCrew, until, untilText } from './harness.js';

/** `orchestra attach` in a PTY of this size, and a rendering of everything it wrote. */
function attacher(crew: Crew, args: string[], cols: number, rows: number) {
  const t = pty.spawn(process.execPath, [CLI, 'attach', ...args, '-f', crew.file], { cols, rows, cwd: crew.dir, env: { ...process.env, NO_COLOR: '1' } as Record<string, string> });
  const exit = new Promise<number>((res) => t.onExit((e) => res(e.exitCode)));
  const view = new xterm.Terminal({ cols, rows, allowProposedApi: true, logLevel: 'off' });
  let written = '';
  let pending = Promise.resolve();
  t.onData((d) => {
    written += d;
    pending = pending.then(() => new Promise<void>((res) => view.write(d, res)));
  });
  const source = { on: (l: (s: string) => void) => { const d = t.onData(l); return () => d.dispose(); } };
  /** The rendered screen once everything written so far is parsed. */
  const screen = async () => {
    await pending;
    const b = view.buffer.active;
    return Array.from({ length: rows }, (_, y) => b.getLine(b.viewportY + y)?.translateToString(true) ?? '');
  };
  const core = () => (view as unknown as { _core: { coreService: { isCursorHidden: boolean }; coreMouseService: { activeEncoding: string } } })._core;
  return { t, exit, source, view, screen, core, written: () => written, settled: () => pending };
}

const tui = (record: string, extra = '') =>
  `  tui:\n    command: node\n    args: [${join(FIX, 'curses-tui.mjs')}, ${record}]\n    ready: { pattern: "F10Quit" }\n    restart: { policy: always, backoff: { initial: 300ms } }\n    stop: { grace: 2s }\n${extra}`;

const reads = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as string) : []);

async function pidOf(crew: Crew, agent: string): Promise<number> {
  const ps = await runCli(['ps', '--json', '-f', crew.file]);
  const pid = (JSON.parse(ps.stdout) as { agents: { name: string; pid: number | null }[] }).agents.find((a) => a.name === agent)?.pid;
  if (!pid) throw new Error(`no pid for ${agent}: ${ps.stdout}`);
  return pid;
}

/** Waits until the agent has written at least `bytes` of output. */
async function outputAtLeast(crew: Crew, agent: string, bytes: number): Promise<void> {
  let total = 0;
  await until(crew.bus, (r) => {
    if (r.msg.kind === 'output' && r.msg.agent === agent) total += r.msg.data.length;
    return total >= bytes;
  });
}

describe('attach starts from the rendered screen', () => {
  let crew: Crew | undefined;
  afterEach(async () => {
    await crew?.stop('SIGKILL');
    crew = undefined;
  });

  it('garbled screen on attach: a curses-like program long past its last full draw shows its whole screen at once, cell for cell, with its modes; its old queries are not replayed; detach restores the terminal', async () => {
    crew = startCrew((p) => tui(join(p.dir, 'reads.jsonl')));
    const record = join(crew.dir, 'reads.jsonl');
    await until(crew.bus, isState('tui', 'ready'));
    // Far more than a raw replay of the newest output holds: the header and key bar are long gone from it.
    await outputAtLeast(crew, 'tui', 200 * 1024);
    const pid = await pidOf(crew, 'tui');
    // Frozen, so the agent's screen and the attacher's can be compared cell for cell (a resize
    // would not make it redraw either: the screen must come from orchestra, not from the agent).
    process.kill(pid, 'SIGSTOP');
    try {
      const a = attacher(crew, ['tui'], 120, 40);
      await untilText(a.source, /F10Quit/);
      const agentScreen = (await runCli(['logs', '--screen', 'tui', '--file', crew.file])).stdout.replace(/\n$/, '').split('\n');
      expect(agentScreen).toHaveLength(40);
      expect(agentScreen[0]).toMatch(/^ curses-tui 120x40/);
      await eventually(() => a.written().includes('F10Quit'));
      expect(await a.screen()).toEqual(agentScreen);
      // Colours and attributes as well as text.
      const cell = a.view.buffer.active.getLine(a.view.buffer.active.viewportY)?.getCell(1);
      expect(cell?.getBgColor()).toBe(4);
      expect(cell?.isBold()).toBeTruthy();
      // The modes the program set long ago.
      expect(a.view.buffer.active.type).toBe('alternate');
      expect(a.view.modes).toMatchObject({ applicationCursorKeysMode: true, applicationKeypadMode: true, bracketedPasteMode: true, mouseTrackingMode: 'vt200' });
      expect(a.core().coreMouseService.activeEncoding).toBe('SGR');
      expect(a.core().coreService.isCursorHidden).toBe(true);
      // The program's start-up queries (DA1, XTVERSION) are in its output, but never shown to the attacher.
      expect(tokenize(a.written()).filter(isQuery)).toEqual([]);

      process.kill(pid, 'SIGCONT');
      // Answers the attacher's terminal sends on its own never reach the agent; keys do.
      a.t.write('\x1b[?64;1;2c\x1b[>0;95;0c\x1bP>|tmux 3.3a\x1b\\');
      a.t.write('k');
      await eventually(() => reads(record).includes('k'));
      expect(reads(record).join('')).not.toMatch(/64;1;2c|tmux|95;0c/);
      // A query the agent sends while attached is answered once, by orchestra, and not shown.
      const before = a.written().length;
      a.t.write('d');
      await eventually(() => reads(record).some((r) => /^\x1b\[\?[\d;]*c$/.test(r)));
      expect(tokenize(a.written().slice(before)).filter(isQuery)).toEqual([]);

      a.t.write('\x1d');
      await untilText(a.source, /detached from tui/);
      expect(await a.exit).toBe(0);
      await a.settled();
      // Detach restores every mode: the user's shell gets its terminal back as it was.
      expect(a.view.buffer.active.type).toBe('normal');
      expect(a.view.modes).toMatchObject({
        applicationCursorKeysMode: false,
        applicationKeypadMode: false,
        bracketedPasteMode: false,
        mouseTrackingMode: 'none',
        insertMode: false,
        originMode: false,
        wraparoundMode: true,
        sendFocusMode: false,
      });
      expect(a.core().coreMouseService.activeEncoding).toBe('DEFAULT');
      expect(a.core().coreService.isCursorHidden).toBe(false);
    } finally {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // already gone
      }
    }
  });

  it('logs --screen prints the rendered screen (with -n lines above it); --ansi keeps the colours', async () => {
    crew = startCrew(
      `  lines:\n    command: node\n    args: [-e, "for (let i = 1; i <= 60; i++) process.stdout.write('line ' + i + '\\\\r\\\\n'); process.stdout.write('\\\\x1b[31mred\\\\x1b[0m end'); setInterval(() => {}, 1000)"]\n    rows: 10\n    cols: 40\n    ready: { pattern: "end$" }\n`,
    );
    await until(crew.bus, isState('lines', 'ready'));
    const plain = await runCli(['logs', '--screen', 'lines', '--file', crew.file]);
    expect(plain.stdout).toBe(`${['line 52', 'line 53', 'line 54', 'line 55', 'line 56', 'line 57', 'line 58', 'line 59', 'line 60', 'red end'].join('\n')}\n`);
    const more = await runCli(['logs', '--screen', '-n', '3', 'lines', '--file', crew.file]);
    expect(more.stdout.split('\n').slice(0, 4)).toEqual(['line 49', 'line 50', 'line 51', 'line 52']);
    const ansi = await runCli(['logs', '--screen', '--ansi', 'lines', '--file', crew.file]);
    expect(ansi.stdout).toMatch(/\x1b\[0;31mred\x1b\[0m end\n$/);
    const bad = await runCli(['logs', '--ansi', 'lines', '--file', crew.file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('orchestra: --ansi goes with --screen (raw output keeps its colours already)\n');
  });
});

describe('attach sizes, exits and restarts', () => {
  let crew: Crew | undefined;
  afterEach(async () => {
    await crew?.stop('SIGKILL');
    crew = undefined;
  });

  /** The agent's terminal size, from its screen. */
  async function agentSize(): Promise<string> {
    const s = await runCli(['logs', '--screen', 'tui', '--file', crew!.file]);
    return /curses-tui (\d+x\d+)/.exec(s.stdout)?.[1] ?? s.stdout;
  }
  /** Waits until the agent's screen says it is `want` (cols x rows), asking again after each answer. */
  async function sizeIs(want: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (let got = await agentSize(); got !== want; got = await agentSize()) {
      if (Date.now() > deadline) throw new Error(`tui is ${got}, expected ${want}`);
    }
  }

  it('the latest active driver sets the size; read-only attachers never do; the last detach gives the agent its own size back', async () => {
    crew = startCrew((p) => tui(join(p.dir, 'reads.jsonl')));
    await until(crew.bus, isState('tui', 'ready'));
    await sizeIs('120x40');
    const a = attacher(crew, ['tui'], 100, 30);
    await untilText(a.source, /F10Quit/);
    await sizeIs('100x30');
    const b = attacher(crew, ['tui'], 80, 24);
    await untilText(b.source, /F10Quit/);
    await sizeIs('80x24');
    const watcher = attacher(crew, ['--read-only', 'tui'], 60, 20);
    await untilText(watcher.source, /F10Quit/);
    await eventually(() => /tui is 80x24, this terminal 60x20 \(read-only/.test(watcher.written()));
    await sizeIs('80x24');
    // Typing makes `a` the latest active driver, then `b` again.
    a.t.write('k');
    await sizeIs('100x30');
    b.t.write('k');
    await sizeIs('80x24');
    // The latest driver leaves: the one active before it sizes the agent (not a size from before).
    b.t.write('\x1d');
    expect(await b.exit).toBe(0);
    await sizeIs('100x30');
    a.t.write('\x1d');
    expect(await a.exit).toBe(0);
    await sizeIs('120x40');
    watcher.t.write('\x1d');
    expect(await watcher.exit).toBe(0);
  });

  it('an attacher is told the agent exited, stays attached across the restart, sees the new run at its own size, and is told when the agent is stopped', async () => {
    crew = startCrew((p) => tui(join(p.dir, 'reads.jsonl')));
    await until(crew.bus, isState('tui', 'ready'));
    const a = attacher(crew, ['tui'], 100, 30);
    await untilText(a.source, /F10Quit/);
    const firstPid = await pidOf(crew, 'tui');
    a.t.write('x');
    await untilText(a.source, /\[tui exited: exit code 3; restarting in \d+ms\]/);
    await until(crew.bus, isState('tui', 'ready'));
    // The new run started at the attacher's size, and its screen is what the attacher shows.
    await eventually(() => /curses-tui 100x30 pid (\d+)/.exec(a.written().split('restarting in')[1] ?? '')?.[1] !== undefined);
    const newPid = Number(/curses-tui 100x30 pid (\d+)/.exec(a.written().split('restarting in')[1] ?? '')?.[1]);
    expect(newPid).not.toBe(firstPid);
    expect((await a.screen())[0]).toMatch(new RegExp(`curses-tui 100x30 pid ${newPid}`));
    expect((await runCli(['stop', 'tui', '-f', crew.file])).code).toBe(0);
    await eventually(() => /\[tui is stopped: /.test(a.written()));
    a.t.write('zz');
    await eventually(() => /\[tui is not running: keys are not sent\]/.test(a.written()));
    a.t.write('\x1d');
    expect(await a.exit).toBe(0);
  });

  it('a screen read while the agent is in the middle of an escape sequence: the rest of it does not come out as text', async () => {
    const script = "process.stdin.setRawMode(true); process.stdout.write('hello \\x1b[3'); process.stdin.once('data', () => process.stdout.write('1mred\\x1b[0m done')); setInterval(() => {}, 1000)";
    crew = startCrew(`  split:\n    command: node\n    args: [-e, ${JSON.stringify(script)}]\n    ready: { pattern: "hello" }\n`);
    await until(crew.bus, isState('split', 'ready'));
    const a = attacher(crew, ['split'], 120, 40);
    await untilText(a.source, /hello/);
    a.t.write('k');
    await eventually(() => a.written().includes('done'));
    expect((await a.screen())[0]).toBe('hello red done');
    expect(a.view.buffer.active.getLine(a.view.buffer.active.viewportY)?.getCell(6)?.getFgColor()).toBe(1);
    a.t.write('\x1d');
    expect(await a.exit).toBe(0);
  });

  it('detach works after the agent turned on the kitty keyboard protocol, where terminals send Ctrl-] as CSI 93;5u', async () => {
    crew = startCrew((p) => tui(join(p.dir, 'reads.jsonl')));
    await until(crew.bus, isState('tui', 'ready'));
    const a = attacher(crew, ['tui'], 100, 30);
    await untilText(a.source, /F10Quit/);
    a.t.write('\x1b[93;5u');
    await untilText(a.source, /detached from tui/);
    expect(await a.exit).toBe(0);
  });
});
