import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as pty from 'node-pty';
import { BusSubscriber } from '../../src/bus/client.js';
import { CLI, FIX, isState, streamSource, type TextSource, until, untilText } from './harness.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

/**
 * Foreground `up` (printing) of one agent that writes ~60 MiB, far more than a pipe and the
 * printer's queue hold; a subscriber to its output on the bus. Killed after the test.
 */
function chattyUp(session: string) {
  const dir = mkdtempSync('/tmp/orch-stdout-');
  const stateDir = join(dir, 's');
  const file = join(dir, 'orchestra.yaml');
  writeFileSync(file, `session: ${session}\nstate_dir: ${stateDir}\nagents:\n  chatty:\n    command: node\n    args: [${join(FIX, 'chatty.mjs')}, "800000"]\n`);
  const sub = new BusSubscriber(`ipc://${stateDir}/bus.sock`, { kinds: ['output'] });
  const proc = spawn(process.execPath, [CLI, 'up', file, '--await-subscriber'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  cleanup.push(async () => {
    proc.kill('SIGKILL');
    await exited;
    sub.close();
  });
  return { sub, proc, exited, stderr: () => stderr };
}

describe('orchestra up and its stdout', () => {
  it('a stdout nobody reads (stuck pipe) never stalls the supervisor nor grows it without bound', async () => {
    const { sub, proc, exited } = chattyUp('stdout');
    proc.stdout?.pause(); // nobody reads orchestra's stdout
    let text = '';
    let rss0 = 0;
    let maxRss = 0;
    await until(
      sub,
      (r) => {
        if (r.msg.kind === 'output') text = (text + Buffer.from(r.msg.data).toString()).slice(-64);
        const rss = rssMiB(proc.pid ?? 0);
        rss0 ||= rss; // at the first output: supervisor, worker and PTY all exist
        maxRss = Math.max(maxRss, rss);
        return text.includes('DONE');
      },
      30_000,
    );
    // The bus carried all ~60 MiB although stdout was stuck the whole time, and orchestra did not
    // keep it: growth measured ~50 MiB (data in flight, garbage not yet collected) against ~200 MiB
    // when the printer buffered everything for stdout.
    expect(maxRss - rss0, `RSS at first output ${rss0.toFixed(0)} MiB, peak ${maxRss.toFixed(0)} MiB`).toBeLessThan(100);
    // Once stdout is read again, it says what it could not show.
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    // The marker is the last thing written: the process may have exited before this end of the
    // pipe has read it, so the end of stdout is awaited, not the exit alone.
    const ended = new Promise((r) => proc.stdout?.on('end', r));
    proc.stdout?.resume();
    proc.kill('SIGTERM');
    await Promise.all([exited, ended]);
    const marker = /^chatty \| … [\d.]+ [kMG]?B of output not shown \(see orchestra logs chatty\)$/m;
    expect(marker.test(out), `no marker in ${out.length} bytes of stdout ending ${JSON.stringify(out.slice(-300))}`).toBe(true);
  });

  it('a slow stdout reader at exit gets everything up to the marker (the exit fallback cut a slow reader off 2 s after the stop)', async () => {
    const { sub, proc, exited, stderr } = chattyUp('slow');
    proc.stdout?.pause();
    // Far more than the pipe and the printer's queue hold: stdout is backed up when the stop begins.
    let seen = 0;
    await until(sub, (r) => (r.msg.kind === 'output' ? (seen += r.msg.data.length) : seen) > 8 * 1024 * 1024, 30_000);
    proc.kill('SIGTERM');
    // A reader slower than the fallback's period: ~64 KiB every 250 ms, about 5 s for what is queued.
    let out = '';
    const stdout = proc.stdout;
    stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      stdout.pause();
      // Pacing a deliberately slow reader, not synchronising with anything.
      setTimeout(() => stdout.resume(), 250);
    });
    stdout?.resume();
    await new Promise((r) => stdout?.on('end', r));
    await exited;
    const marker = /^chatty \| … [\d.]+ [kMG]?B of output not shown \(see orchestra logs chatty\)\n$/m;
    expect(marker.test(out), `${out.length} bytes of stdout ending ${JSON.stringify(out.slice(-300))}; exit ${JSON.stringify(await exited)}; stderr ${JSON.stringify(stderr().slice(-600))}`).toBe(true);
    expect(out.endsWith('\n')).toBe(true);
  });

  it('orchestra up 2>&1 | head: with both streams gone it keeps supervising, then stops cleanly', async () => {
    const dir = mkdtempSync('/tmp/orch-pipe-');
    const stateDir = join(dir, 's');
    const file = join(dir, 'orchestra.yaml');
    writeFileSync(file, `session: pipe\nstate_dir: ${stateDir}\nagents:\n  tick:\n    command: node\n    args: [${join(FIX, 'ticker.mjs')}]\n`);
    const sub = new BusSubscriber(`ipc://${stateDir}/bus.sock`, { kinds: ['output', 'state'] });
    const proc = spawn(process.execPath, [CLI, 'up', file, '--await-subscriber'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((r) => proc.on('exit', r));
    cleanup.push(async () => {
      proc.kill('SIGKILL');
      await exited;
      sub.close();
    });
    await untilText(streamSource(proc.stderr), /session "pipe" up/);
    // The reader of both streams goes away (`| head` has printed its lines).
    proc.stdout?.destroy();
    proc.stderr?.destroy();
    // Output keeps flowing on the bus while the agent's lines find stdout closed.
    let outputs = 0;
    await until(sub, (r) => r.msg.kind === 'output' && ++outputs >= 3);
    // Stopping writes its notice to the closed stderr: the stop still completes.
    proc.kill('SIGTERM');
    await until(sub, isState('tick', 'stopped'));
    expect(await exited).toBe(0);
    expect(readFileSync(join(stateDir, 'orchestra.log'), 'utf8')).not.toMatch(/unexpected error/);
  });

  it('a terminal stopped with Ctrl-S does not freeze the supervisor', async () => {
    const dir = mkdtempSync('/tmp/orch-tty-');
    const stateDir = join(dir, 's');
    const file = join(dir, 'orchestra.yaml');
    writeFileSync(file, `session: tty\nstate_dir: ${stateDir}\nagents:\n  chatty:\n    command: node\n    args: [${join(FIX, 'chatty.mjs')}, "200000"]\n`);
    const sub = new BusSubscriber(`ipc://${stateDir}/bus.sock`, { kinds: ['output', 'supervisor'] });
    // orchestra in a real terminal, as a person runs it; the terminal is stopped (XOFF) at once.
    const term = pty.spawn(process.execPath, [CLI, 'up', file, '--await-subscriber'], { cols: 100, rows: 30, encoding: null });
    const screen: TextSource = {
      on(listener) {
        const d = term.onData((chunk) => listener(chunk.toString()));
        return () => d.dispose();
      },
    };
    const exited = new Promise<number>((r) => term.onExit((e) => r(e.exitCode)));
    cleanup.push(async () => {
      try {
        process.kill(term.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      sub.close();
    });
    term.write('\x13'); // Ctrl-S
    let text = '';
    await until(sub, (r) => {
      if (r.msg.kind === 'output') text = (text + Buffer.from(r.msg.data).toString()).slice(-64);
      return text.includes('DONE');
    }, 30_000);
    // Ctrl-Q: the terminal takes output again. Once the backlog drains, orchestra says what it did
    // not show (read while it still runs: raw node-pty, which reads orchestra here, can lose the
    // last bytes at exit).
    const note = untilText(screen, /chatty \| (\x1b\[[\d;]*m)*… [\d.]+ [kMG]?B of output not shown \(see orchestra logs chatty\)/, 20_000);
    term.write('\x11');
    await note;
    term.write('\x03'); // Ctrl-C: graceful stop
    expect(await exited).toBe(0);
  });
});
