/**
 * Operating a running crew through the real CLI: send (with outcomes), interrupt/escape, logs,
 * attach (through a real PTY), stop/start/restart, down, up -d.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { unpack } from 'msgpackr';
import * as pty from 'node-pty';
import * as zmq from 'zeromq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BusSubscriber, type Received } from '../../src/bus/client.js';
import type { Reply } from '../../src/bus/control-protocol.js';
import { anyPayload, checkReply } from '../bus/control-arbitraries.js';
import { anyAlive, CLI, type Crew, eventually, FIX, isState, runCli, startCrew, streamSource, until, untilText } from './harness.js';

const repl = (name: string, record: string, extra = '') =>
  `  ${name}:\n    command: node\n    args: [${join(FIX, 'repl-agent.mjs')}, ${record}, "800"]\n    ready: { pattern: "${name}> $" }\n    idle_after: 300ms\n    stop: { grace: 2s }\n${extra}`;

function records(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Waits for `re` in `agent`'s output on the bus (text from the first message read on). */
function untilOutput(bus: BusSubscriber, agent: string, re: RegExp, ms = 20_000): Promise<Received[]> {
  let text = '';
  return until(
    bus,
    (r) => {
      if (r.msg.kind !== 'output' || r.msg.agent !== agent) return false;
      text += Buffer.from(r.msg.data).toString();
      return re.test(text);
    },
    ms,
  );
}

const isInput = (id: string, outcome: string) => (r: Received) => r.msg.kind === 'input' && r.msg.id === id && r.msg.outcome === outcome;

describe('send, keys and lifecycle on a running crew', () => {
  let crew: Crew;
  let rec: string;
  const cli = (...args: string[]) => runCli([...args, '--file', crew.file]);
  const cliIn = (input: string, ...args: string[]) => runCli([...args, '--file', crew.file], { input });

  beforeAll(async () => {
    crew = startCrew(
      (p) =>
        repl('r1', join(p.dir, 'r1.jsonl')) +
        repl('quiet', join(p.dir, 'quiet.jsonl'), '    input: { escape: false }\n') +
        `  tick:\n    command: node\n    args: [${join(FIX, 'worker-agent.mjs')}, "100"]\n    restart: { policy: always, backoff: { initial: 100ms } }\n` +
        // A line-mode (canonical) reader, like most plain REPLs: the kernel cuts lines at 4095 bytes.
        `  cooked:\n    command: node\n    args: [${join(FIX, 'echo-agent.mjs')}, cooked]\n    ready: { pattern: "cooked> $" }\n    idle_after: 300ms\n`,
    );
    rec = join(crew.dir, 'r1.jsonl');
    await until(crew.bus, isState('r1', 'ready'));
  });
  afterAll(async () => {
    await crew.stop('SIGKILL');
  });

  it('a message sent while the agent is busy is delivered only once it is ready again', async () => {
    const first = await cli('send', 'r1', 'first', '--id', 'first');
    expect(first).toMatchObject({ code: 0, stdout: 'r1: send first: delivered\n' });
    // r1 works 800 ms on "first"; "second" must wait for it.
    const second = cli('send', 'r1', 'second', '--id', 'second');
    const seen = await until(crew.bus, isInput('second', 'delivered'));
    expect((await second).code).toBe(0);
    const queued = seen.findIndex(isInput('second', 'queued'));
    const delivered = seen.findIndex(isInput('second', 'delivered'));
    expect(queued).toBeGreaterThanOrEqual(0);
    expect(delivered).toBeGreaterThan(queued);
    // r1 went busy on "first" and was ready again before "second" was delivered (on a loaded
    // machine "first" may be done before "second" is queued, so the ready may come before the
    // queued; typed while still busy, no ready would follow that busy).
    const r1States = seen.slice(0, delivered).flatMap((r) => (r.msg.kind === 'state' && r.msg.agent === 'r1' ? [r.msg.to] : []));
    const busy = r1States.indexOf('busy');
    expect(busy).toBeGreaterThanOrEqual(0);
    expect(r1States.indexOf('ready', busy)).toBeGreaterThan(busy);
    await untilOutput(crew.bus, 'r1', /got 6 bytes/);
    expect(records(rec).slice(-2)).toEqual([
      { text: 'first', pasted: false, whileWorking: false },
      { text: 'second', pasted: false, whileWorking: false },
    ]);
  });

  it('multi-line text arrives intact as one bracketed paste; 64 KiB arrives intact; too large is refused', async () => {
    const multi = 'line one\n  indented: ünïcødé ✓\nlast line';
    expect((await cliIn(`${multi}\n`, 'send', 'r1', '-', '--id', 'multi')).code).toBe(0);
    await until(crew.bus, isState('r1', 'ready'));
    const big = Array.from({ length: 64 * 1024 }, (_, i) => String.fromCharCode(97 + ((i * 7) % 26))).join('');
    expect((await cliIn(big, 'send', 'r1', '-', '--id', 'big', '--timeout', '60s')).code).toBe(0);
    await untilOutput(crew.bus, 'r1', /got 65536 bytes/);
    const got = records(rec).slice(-2);
    expect(got[0]).toEqual({ text: multi, pasted: true, whileWorking: false });
    expect(got[1]?.text).toBe(big);

    const huge = await cliIn('y'.repeat(300 * 1024), 'send', 'r1', '-', '--id', 'huge', '--now');
    expect(huge.code).toBe(1);
    expect(huge.stderr).toMatch(/refused: the text is 307200 bytes; this agent accepts at most 262144 \(input\.max_size\); nothing was typed/);
  });

  it('interrupt and escape are keys in the PTY; escape can be disabled per agent', async () => {
    expect((await cli('interrupt', 'r1')).code).toBe(0);
    expect((await cli('escape', 'r1')).code).toBe(0);
    // The fixture records each key before it prints ^C / ESC.
    await untilOutput(crew.bus, 'r1', /\^C[\s\S]*ESC/);
    expect(records(rec).filter((r) => r.key)).toEqual([{ key: 'interrupt' }, { key: 'escape' }]);
    const refused = await cli('escape', 'quiet');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refused: escape is disabled for agent "quiet" \(input\.escape: false\)/);
  });

  it('a send to a stopped agent fails with a clear message; start brings it back', async () => {
    expect(await cli('stop', 'quiet')).toMatchObject({ code: 0, stdout: 'quiet: stopped\n' });
    const res = await cli('send', 'quiet', 'hello', '--id', 'to-stopped');
    expect(res.code).toBe(1);
    expect(res.stderr).toBe('orchestra: send to quiet (id to-stopped): agent-not-running: the agent is stopped\n');
    await until(crew.bus, isInput('to-stopped', 'agent-not-running'));
    expect((await cli('start', 'quiet')).stdout).toBe('quiet: starting\n');
    await until(crew.bus, isState('quiet', 'ready'));
    expect((await cli('send', 'quiet', 'back')).code).toBe(0);
  });

  it('stop of an `always` agent keeps it stopped; restart gives it a new process', async () => {
    const before = (JSON.parse((await cli('ps', '--json')).stdout) as { agents: { name: string; pid: number }[] }).agents.find((a) => a.name === 'tick');
    expect((await cli('stop', 'tick')).stdout).toBe('tick: stopped\n');
    // Let well over the 100 ms backoff pass, measured by r1's own work (800 ms of output).
    const seen: Received[] = [];
    expect((await cli('send', 'r1', 'pass time')).code).toBe(0);
    seen.push(...(await untilOutput(crew.bus, 'r1', /done/)));
    const stoppedAt = seen.findIndex(isState('tick', 'stopped'));
    const afterStop = seen.slice(stoppedAt + 1).filter((r) => r.msg.agent === 'tick' && (r.msg.kind === 'restart' || r.msg.kind === 'state'));
    expect(afterStop).toEqual([]);
    const ps = await cli('ps');
    expect(ps.stdout).toMatch(/^tick\s+stopped\s+-\s+-\s+/m);

    expect((await cli('restart', 'tick')).stdout).toBe('tick: starting\n');
    const after = (JSON.parse((await cli('ps', '--json')).stdout) as { agents: { name: string; pid: number }[] }).agents.find((a) => a.name === 'tick');
    expect(after?.pid).toBeGreaterThan(0);
    expect(after?.pid).not.toBe(before?.pid);
  });

  it('a line a line-mode agent would get cut is refused, not truncated; shorter lines arrive whole', async () => {
    // A fresh subscription: the current state is replayed to it (the shared one has read past it).
    await until(crew.subscribe({ kinds: ['state'], agents: ['cooked'] }), isState('cooked', 'ready'));
    const long = await cliIn('x'.repeat(6000), 'send', 'cooked', '-', '--id', 'long');
    expect(long.code).toBe(1);
    expect(long.stderr).toBe(
      "orchestra: send to cooked (id long): refused: the agent's terminal is in line mode (canonical), where the kernel keeps at most 4095 bytes of a line; this text has a line of 6000 bytes; nothing was typed\n",
    );
    const line = 'y'.repeat(4000);
    expect((await cliIn(line, 'send', 'cooked', '-')).code).toBe(0);
    const seen = await untilOutput(crew.bus, 'cooked', /you said: y+\r?\n/);
    const text = Buffer.concat(seen.filter((r) => r.msg.kind === 'output' && r.msg.agent === 'cooked').map((r) => Buffer.from((r.msg as { data: Uint8Array }).data))).toString();
    expect(/you said: (y+)/.exec(text)?.[1]).toBe(line);
  });

  it('ps shows every agent; unknown agents and bad arguments are clear errors', async () => {
    const ps = await cli('ps');
    expect(ps.stdout.split('\n')[0]).toMatch(/^NAME\s+STATE\s+PID\s+UPTIME\s+RESTARTS\s+LAST-OUTPUT\s+EXIT\s+QUEUED\s+ROLE\s+WHY$/);
    expect(ps.stdout).toMatch(/^r1\s+(ready|busy)\s+\d+\s+\d+s\s+0\s+\d+s ago\s+-\s+0\s+crew\s+-$/m);
    const unknown = await cli('send', 'nobody', 'x');
    expect(unknown).toMatchObject({ code: 2 });
    expect(unknown.stderr).toMatch(/no agent named "nobody" in .*orchestra\.yaml \(agents: r1, quiet, tick, cooked\)/);
    const badTimeout = await cli('send', 'r1', 'x', '--timeout', 'soon');
    expect(badTimeout.stderr).toBe('orchestra: --timeout expects a duration such as "500ms", "30s" or "5m", got "soon"\n');
    expect(badTimeout.code).toBe(2);
  });

  it('random frames on the control socket get error replies and the supervisor keeps running (property)', async () => {
    const dealer = new zmq.Dealer({ linger: 0 });
    dealer.connect(`ipc://${crew.stateDir}/control.sock`);
    // Shutting commands are left out of the request-shaped payloads: a valid `down` would be obeyed.
    const payloads = anyPayload(['ps', 'send', 'interrupt', 'escape', 'input', 'resize', 'logs', 'nope']);
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(payloads, { minLength: 1, maxLength: 2 }), async (frames) => {
          await dealer.send(frames.map((f) => Buffer.from(f)));
          const reply = await dealer.receive();
          checkReply(unpack(reply[reply.length - 1]!) as Reply);
        }),
        { numRuns: 300 },
      );
    } finally {
      dealer.close();
    }
    const ps = await cli('ps', '--json');
    expect(ps.code).toBe(0);
    expect(crew.proc.exitCode).toBeNull();
  });

  it('logs: the ring buffer (-n lines, --strip), then -f follows live output', async () => {
    const last = await cli('logs', 'r1', '-n', '1', '--strip');
    expect(last.stdout).toBe('r1> ');
    const follow = spawnFollow(crew.file);
    let interrupted = false;
    try {
      await untilText(follow.source, /r1> /);
      const got = untilText(follow.source, /got 8 bytes/);
      expect((await cli('send', 'r1', 'followed', '--now')).code).toBe(0);
      const text = await got;
      expect(text).not.toMatch(/\x1b/);
      interrupted = follow.proc.kill('SIGINT');
    } finally {
      // A failed step must not leave the follower running.
      if (!interrupted) follow.proc.kill('SIGKILL');
    }
    expect(await follow.exit).toBe(0);
  });
});

function spawnFollow(file: string) {
  const proc = spawn(process.execPath, [CLI, 'logs', '-f', 'r1', '--strip', '-n', '1', '--file', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exit = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
  return { proc, exit, source: streamSource(proc.stdout) };
}

describe('attach through a real terminal', () => {
  let crew: Crew | undefined;
  afterEach(async () => {
    await crew?.stop('SIGKILL');
    crew = undefined;
  });

  /** `orchestra attach` in a PTY the test drives, like a user's terminal. */
  function terminal(args: string[]) {
    const t = pty.spawn(process.execPath, [CLI, ...args], { cols: 100, rows: 30, cwd: crew!.dir, env: { ...process.env, NO_COLOR: '1' } as Record<string, string> });
    const exit = new Promise<number>((res) => t.onExit((e) => res(e.exitCode)));
    const source = { on: (l: (s: string) => void) => { const d = t.onData(l); return () => d.dispose(); } };
    return { t, exit, source };
  }

  it('types into the agent, propagates and restores the size, detaches on Ctrl-]; --read-only never writes', async () => {
    crew = startCrew((p) => repl('r1', join(p.dir, 'r1.jsonl')));
    const rec = join(crew.dir, 'r1.jsonl');
    await until(crew.bus, isState('r1', 'ready'));

    const rw = terminal(['attach', 'r1', '-f', crew.file]);
    await untilText(rw.source, /attached to r1; detach with Ctrl-\]/);
    await untilOutput(crew.bus, 'r1', /size 100x30/);
    rw.t.write('typed by a human\r');
    await untilOutput(crew.bus, 'r1', /got 16 bytes/);
    rw.t.write('\x1d');
    await untilText(rw.source, /detached from r1/);
    expect(await rw.exit).toBe(0);
    await untilOutput(crew.bus, 'r1', /size 120x40/);

    const ro = terminal(['attach', '--read-only', 'r1', '-f', crew.file]);
    await untilText(ro.source, /attached to r1 \(read-only\)/);
    ro.t.write('must not arrive\r');
    ro.t.write('\x1d');
    expect(await ro.exit).toBe(0);
    // Anything the read-only attacher had sent would be in the record before this marker.
    await until(crew.bus, isState('r1', 'ready'));
    expect((await runCli(['send', 'r1', 'marker', '-f', crew.file])).code).toBe(0);
    await untilOutput(crew.bus, 'r1', /got 6 bytes/);
    expect(records(rec).map((r) => r.text)).toEqual(['typed by a human', 'marker']);
  });

  it('several attachers at once: each sees the output, keystrokes of each arrive', async () => {
    crew = startCrew((p) => repl('r1', join(p.dir, 'r1.jsonl')));
    const rec = join(crew.dir, 'r1.jsonl');
    await until(crew.bus, isState('r1', 'ready'));
    const a = terminal(['attach', 'r1', '-f', crew.file]);
    const b = terminal(['attach', 'r1', '-f', crew.file]);
    await Promise.all([untilText(a.source, /attached to r1/), untilText(b.source, /attached to r1/)]);
    const bothSee = Promise.all([untilText(a.source, /got 6 bytes/), untilText(b.source, /got 6 bytes/)]);
    a.t.write('from a\r');
    await bothSee;
    await until(crew.bus, isState('r1', 'ready'));
    const bothSeeB = Promise.all([untilText(a.source, /got 7 bytes/), untilText(b.source, /got 7 bytes/)]);
    b.t.write('from bb\r');
    await bothSeeB;
    a.t.write('\x1d');
    b.t.write('\x1d');
    expect(await Promise.all([a.exit, b.exit])).toEqual([0, 0]);
    expect(records(rec).map((r) => r.text)).toEqual(['from a', 'from bb']);
  });

  it('refuses without a terminal, with a clear message', async () => {
    crew = startCrew((p) => repl('r1', join(p.dir, 'r1.jsonl')));
    await until(crew.bus, isState('r1', 'ready'));
    const res = await runCli(['attach', 'r1', '-f', crew.file]);
    expect(res.code).toBe(2);
    expect(res.stderr).toBe("orchestra: attach needs a terminal, and standard input is not one; to watch r1's output use: orchestra logs -f r1\n");
  });
});

describe('control socket on tcp', () => {
  it('bus.control: tcp://127.0.0.1:0 binds a free loopback port that every command finds', async () => {
    const crew = startCrew((p) => repl('r1', join(p.dir, 'r1.jsonl')), { extra: 'bus: { control: "tcp://127.0.0.1:0" }\n' });
    try {
      await until(crew.bus, isState('r1', 'ready'));
      const info = JSON.parse(readFileSync(join(crew.stateDir, 'supervisor.json'), 'utf8')) as { control: string };
      expect(info.control).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
      expect(info.control).not.toBe('tcp://127.0.0.1:0');
      const ps = await runCli(['ps', '--json', '--file', crew.file]);
      expect(JSON.parse(ps.stdout)).toMatchObject({ agents: [{ name: 'r1', state: 'ready' }] });
    } finally {
      await crew.stop('SIGKILL');
    }
  });
});

describe('detached mode and down', () => {
  it('up -d returns once agents are ready, a second up -d applies the config to the running session (no second supervisor), and down leaves no process', async () => {
    // A crew not started by the harness: `up -d` is the supervisor's parent here.
    const probe = startCrew((p) => repl('r1', join(p.dir, 'r1.jsonl')) + `  fam:\n    command: node\n    args: [${join(FIX, 'family.mjs')}]\n    ready: { pattern: "family> $" }\n    stop: { grace: 300ms }\n`);
    await probe.stop('SIGTERM');
    const file = probe.file;

    const up = await runCli(['up', '-d', file]);
    expect(up.code).toBe(0);
    expect(up.stderr).toMatch(/session "e2e" up in the background \(pid (\d+)\): r1 ready, fam ready\n/);
    const pid = Number(/pid (\d+)/.exec(up.stderr)?.[1]);
    const again = await runCli(['up', '-d', file]);
    expect(again.code).toBe(0);
    expect(again.stderr).toBe(`orchestra: the session runs (pid ${pid}): applying the config to it\n`);
    expect(again.stdout).toBe('r1   Running\nfam  Running\n');

    const ps = JSON.parse((await runCli(['ps', '--json', '-f', file])).stdout) as { pid: number; agents: { name: string; pid: number | null }[] };
    expect(ps.pid).toBe(pid);
    const groups = ps.agents.map((a) => a.pid).filter((p): p is number => p !== null);
    expect(groups).toHaveLength(2);
    // The family agent's grandchildren are in its group: none may survive `down`.
    const watch = new BusSubscriber(`ipc://${probe.stateDir}/bus.sock`, { kinds: ['state'], agents: ['fam'] });
    await until(watch, isState('fam', 'ready'));
    watch.close();
    const famText = (await runCli(['logs', 'fam', '--strip', '--file', file])).stdout;
    const familyPids = famText.match(/FAMILY ([\d ]+)/)![1]!.trim().split(' ').map(Number);

    const down = await runCli(['down', '-f', file]);
    expect(down).toMatchObject({ code: 0, stdout: 'session "e2e" is down\n' });
    expect(anyAlive([pid])).toBe(false);
    await eventually(() => !anyAlive([...groups, ...familyPids]), 5000, 'every agent process gone');
    const after = await runCli(['ps', '-f', file]);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/nothing is running for session "e2e"/);
    // The log file outlives the session.
    expect((await runCli(['logs', 'r1', '--strip', '-f', '--file', file])).code).toBe(1);
    expect((await runCli(['logs', 'r1', '--strip', '--file', file])).stdout).toMatch(/r1 ready/);
  });
});
