/**
 * Foreground `orchestra up` printing agents' output (no --no-output) while an agent floods: the
 * printer must never hold up the bus, whatever stdout is (a pipe nobody reads, a file, /dev/null).
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BusSubscriber } from '../../src/bus/client.js';
import { pattern } from '../fixtures/patterns.mjs';
import { CLI, FIX, isState, until } from './harness.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

/**
 * 256 MiB: a flood that lasts seconds, far more than the printer can print (~40 MB/s) or a pipe,
 * the printer's bound and the publisher's default queue hold.
 */
const FLOOD = 512 * 1024 * 1024;
const LINE = 99; // the period of the `lines` pattern (90 digits, 8 letters, newline)
/**
 * How late an output message may reach a subscriber that keeps up. Without the printer in the way
 * it is tens of ms (146 ms at most in a 25 s flood to a stuck pipe); with the printer on the bus's
 * path it grew with the flood (1.7-4 s in 10-25 s). The margin is for a loaded 2-core machine.
 */
const MAX_LAG_MS = 1500;

type Stdout = 'stuck pipe' | 'file' | '/dev/null';

/**
 * Runs a flooding agent under foreground `up` with stdout as given and checks a subscriber that
 * keeps up gets every byte in order, with no seq gap and no `drops`.
 */
async function floodThrough(stdout: Stdout): Promise<string> {
  const dir = mkdtempSync('/tmp/orch-printer-');
  const stateDir = join(dir, 's');
  const file = join(dir, 'orchestra.yaml');
  const gate = join(dir, 'gate');
  writeFileSync(
    file,
    `session: printer\nstate_dir: ${stateDir}\nagents:\n  flood:\n    command: node\n` +
      `    args: [${join(FIX, 'flood.mjs')}, --gate, ${gate}, "${FLOOD}"]\n    restart: no\n    log: { max_size: 64MiB, keep: 1 }\n`,
  );
  const sub = new BusSubscriber(`ipc://${stateDir}/bus.sock`, { agents: ['flood'], kinds: ['output', 'drops', 'state', 'exit'] });
  const outPath = join(dir, 'stdout.txt');
  const fd = stdout === 'file' ? openSync(outPath, 'w') : stdout === '/dev/null' ? openSync('/dev/null', 'w') : undefined;
  const proc = spawn(process.execPath, [CLI, 'up', file, '--await-subscriber'], { stdio: ['ignore', fd ?? 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  if (fd !== undefined) closeSync(fd);
  proc.stdout?.pause(); // nobody reads orchestra's stdout
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise((r) => proc.on('exit', r));
  cleanup.push(async () => {
    proc.kill('SIGKILL');
    await exited;
    sub.close();
    // The flood leaves hundreds of MB of logs and printed output behind.
    rmSync(dir, { recursive: true, force: true });
  });
  await until(sub, isState('flood', 'starting'));
  writeFileSync(gate, 'go');
  // Any message's bytes are a slice of this, starting at (its position in the stream) % LINE.
  const want = pattern('lines', LINE + 64 * 1024);
  let bytes = 0;
  let outOfOrder = -1;
  let drops = 0;
  let gaps = 0;
  let lag = 0;
  await until(
    sub,
    (r) => {
      if (r.msg.kind === 'drops') drops += r.msg.dropped;
      if (r.msg.kind !== 'output') return r.msg.kind === 'exit';
      gaps += r.gap;
      lag = Math.max(lag, Date.now() - r.msg.ts);
      const data = Buffer.from(r.msg.data);
      // In order: each message continues the pattern exactly where the previous one ended.
      const at = bytes % LINE;
      if (outOfOrder < 0 && (r.msg.offset !== bytes || !data.equals(want.subarray(at, at + data.length)))) outOfOrder = bytes;
      bytes += data.length;
      return false;
    },
    60_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\nafter ${bytes} bytes, ${gaps} missing, ${drops} dropped; stderr: ${stderr}`);
  });
  expect({ bytes, outOfOrder, gaps, drops }).toEqual({ bytes: FLOOD, outOfOrder: -1, gaps: 0, drops: 0 });
  expect(lag, `the latest output message reached the subscriber ${lag} ms after it was read`).toBeLessThan(MAX_LAG_MS);
  // Read stdout again: orchestra catches up, says what it skipped, and exits.
  let text = '';
  proc.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  proc.stdout?.resume();
  proc.kill('SIGTERM');
  await exited;
  return fd === undefined || stdout === '/dev/null' ? text : readFileSync(outPath, 'utf8');
}

describe('foreground up printing output', () => {
  it('a flood printed to a pipe nobody reads does not starve the bus: every byte, in order, in time, no drops', async () => {
    const text = await floodThrough('stuck pipe');
    // Read again, stdout shows what it could and says what it skipped.
    expect(text).toMatch(/^flood \| … [\d.]+ [kMG]B of output not shown \(see orchestra logs flood\)$/m);
  }, 120_000);

  it('a flood printed to a file does not starve the bus, and the file says what it skipped', async () => {
    const text = await floodThrough('file');
    expect(text).toMatch(/^flood \| 0123456789/m);
    expect(text).toMatch(/^flood \| … [\d.]+ [kMG]B of output not shown \(see orchestra logs flood\)$/m);
  }, 120_000);

  it('a flood printed to /dev/null does not starve the bus', async () => {
    await floodThrough('/dev/null');
  }, 120_000);
});
