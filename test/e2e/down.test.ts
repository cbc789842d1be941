/**
 * `orchestra down` judged by what the OS says of the supervisor process. A supervisor that has
 * exited but whose parent has not reaped it yet is a zombie: `kill(pid, 0)` still succeeds on it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BusSubscriber } from '../../src/bus/client.js';
import { CLI, eventually, FIX, isState, runCli, until } from './harness.js';

/** The state letter of /proc/PID/stat, or undefined once the pid is gone. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

describe('down', () => {
  it('a supervisor that exited but is not yet reaped by its parent (a zombie) counts as exited: down exits 0 at once', async () => {
    const dir = mkdtempSync('/tmp/orch-e2e-');
    const stateDir = join(dir, 's');
    const file = join(dir, 'orchestra.yaml');
    writeFileSync(
      file,
      `session: e2e\nstate_dir: ${stateDir}\nagents:\n  a:\n    command: node\n    args: [${join(FIX, 'echo-agent.mjs')}, a]\n    ready: { pattern: "a> $" }\n`,
    );
    // The parent execs into `sleep`, which never waits for its children: once the supervisor
    // exits, it stays a zombie until the sleep ends.
    const parent = spawn('/bin/sh', ['-c', `"$0" "$1" up "$2" --no-output --await-subscriber >/dev/null 2>&1 & exec sleep 600`, process.execPath, CLI, file], {
      stdio: 'ignore',
    });
    const bus = new BusSubscriber(`ipc://${stateDir}/bus.sock`, { kinds: ['state'] });
    try {
      await until(bus, isState('a', 'ready'));
      const info = JSON.parse(readFileSync(join(stateDir, 'supervisor.json'), 'utf8')) as { pid: number };
      const started = Date.now();
      const down = await runCli(['down', '-f', file]);
      expect(down).toMatchObject({ code: 0, stdout: 'session "e2e" is down\n' });
      // Well inside the 30 s that down waits for a live supervisor.
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(procState(info.pid)).toBe('Z');
      expect(existsSync(join(stateDir, 'supervisor.json'))).toBe(false);
      // The zombie must not make the session look busy either.
      const ps = await runCli(['ps', '-f', file]);
      expect(ps.stderr).toMatch(/nothing is running for session "e2e"/);
    } finally {
      bus.close();
      parent.kill('SIGKILL');
      await eventually(() => parent.exitCode !== null || parent.signalCode !== null, 5000, 'the parent gone');
    }
  });
});
