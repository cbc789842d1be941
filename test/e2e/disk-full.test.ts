/**
 * The state directory on a full disk. The default state dir is $XDG_RUNTIME_DIR, usually a small
 * tmpfs: here it is a real 2 MiB tmpfs that an agent's output fills. Needs `mount` (root); where
 * mounting is impossible the test is skipped with the reason printed, except under CI=true.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Received } from '../../src/bus/client.js';
import { anyAlive, CLI, type Crew, eventually, startCrew, streamSource, until, untilText } from './harness.js';

const mounts: string[] = [];

/** Mounts a 2 MiB tmpfs at `dir`; the reason it cannot, or undefined. */
function mountTiny(dir: string): string | undefined {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status === 0) {
    mounts.push(dir);
    return undefined;
  }
  return (r.stderr || r.error?.message || `mount exited with ${String(r.status)}`).trim();
}

// Probe once, so the test is skipped (with the reason) rather than failed where mounting is impossible.
const probe = join('/tmp', `orch-tmpfs-probe-${process.pid}`);
const cannotMount = mountTiny(probe);
if (cannotMount !== undefined) {
  if (process.env.CI === 'true') throw new Error(`disk-full tests need a tmpfs mount, and CI=true must not skip them: ${cannotMount}`);
  console.warn(`skipping the disk-full tests: cannot mount a tmpfs here (${cannotMount})`);
}

let crew: Crew | undefined;
afterEach(async () => {
  await crew?.stop('SIGKILL');
  crew = undefined;
});
afterAll(() => {
  for (const dir of mounts.reverse()) {
    spawnSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Fails at once, with what orchestra printed, if `up` dies while we wait for `p`. */
function whileUp<T>(c: Crew, p: Promise<T>): Promise<T> {
  const died = c.exited.then(({ code, signal }) => {
    throw new Error(`orchestra up died (code ${String(code)}, signal ${String(signal)}); stderr:\n${c.stderr()}`);
  });
  return Promise.race([p, died]);
}

describe('a full disk under the state directory', () => {
  it.skipIf(cannotMount !== undefined)(
    "ENOSPC in orchestra's own log no longer kills the supervisor with a stack trace: it reports once (stderr, bus), supervises on, and logs again once there is space",
    async () => {
      let stateDir = '';
      const seen: Received[] = [];
      crew = startCrew(({ dir, gate }) => {
        // The harness puts the state directory at DIR/s: mount the tiny tmpfs there before `up` starts.
        stateDir = join(dir, 's');
        const why = mountTiny(stateDir);
        if (why !== undefined) throw new Error(`cannot mount a tmpfs at ${stateDir}: ${why}`);
        return (
          // Fills the 2 MiB disk with its output log, then waits quietly.
          `  flood:\n    command: /bin/sh\n    args: ["-c", "yes 'flooding the state directory' | head -c 4000000; exec cat"]\n` +
          `    restart: no\n    log: { max_size: 16MiB, keep: 1 }\n` +
          // Keeps orchestra logging once the gate opens: a crash loop, a few records per restart.
          `  loop:\n    command: /bin/sh\n    args: ["-c", "while [ ! -e ${gate} ]; do sleep 0.05; done; exit 1"]\n` +
          `    restart: { policy: always, backoff: { initial: 100ms, factor: 1, jitter: 0 }, budget: { max_restarts: 100000, window: 10m } }\n`
        );
      });
      const stderr = untilText(streamSource(crew.proc.stderr), /cannot write its log/, 60_000);
      // A follower of the flooding agent: a log-error event is not the supervisor going away.
      await whileUp(crew, until(crew.bus, (r) => r.msg.kind === 'state' && r.msg.agent === 'flood', 30_000, seen));
      const follower = spawn(process.execPath, [CLI, 'logs', '-f', 'flood', '--file', crew.file], { stdio: ['ignore', 'pipe', 'pipe'] });
      const followerExit = new Promise<number | null>((res) => follower.on('exit', (code) => res(code)));
      await untilText(streamSource(follower.stdout), /flooding the state directory/, 20_000);
      crew.openGate();
      await whileUp(crew, until(crew.bus, (r) => r.msg.kind === 'supervisor' && r.msg.event === 'log-error', 60_000, seen));
      const logPath = join(stateDir, 'orchestra.log');
      const event = seen.at(-1)?.msg;
      expect(event?.kind === 'supervisor' && [event.path, event.error]).toEqual([logPath, expect.stringMatching(/ENOSPC/)]);
      expect(await stderr).toMatch(new RegExp(`orchestra: cannot write its log ${logPath}: ENOSPC`));

      // Still supervising: the crash loop goes on being restarted while the disk stays full.
      const restartsBefore = seen.filter((r) => r.msg.kind === 'restart').length;
      await whileUp(crew, until(crew.bus, () => seen.filter((r) => r.msg.kind === 'restart').length >= restartsBefore + 3, 30_000, seen));

      // Space returns: orchestra's log resumes by itself and says what it lost.
      const resumed = untilText(streamSource(crew.proc.stderr), /writing its log .* again; \d+ records were lost/, 30_000);
      truncateSync(crew.logFile('flood'));
      await whileUp(crew, resumed);
      await eventually(() => /log records were lost: ENOSPC/.test(readFileSync(logPath, 'utf8')), 10_000, 'the lost-records note in orchestra.log');

      // Reported once per outage, never as a stack trace.
      expect(crew.stderr().match(/cannot write its log/g)).toHaveLength(1);
      expect(crew.stderr()).not.toMatch(/^\s+at /m);
      // The flooding agent survived its own log failing, and its follower is still following.
      expect(seen.some((r) => r.msg.kind === 'exit' && r.msg.agent === 'flood')).toBe(false);
      expect(follower.exitCode).toBeNull();
      const pids = seen.flatMap((r) => (r.msg.kind === 'state' && typeof r.msg.pid === 'number' ? [r.msg.pid] : []));

      crew.signal('SIGINT');
      expect((await crew.exited).code).toBe(0);
      expect(await followerExit).not.toBeNull();
      expect(existsSync(join(stateDir, 'supervisor.json'))).toBe(false);
      await eventually(() => !anyAlive(pids), 10_000, 'no agent process left');
    },
    120_000,
  );
});
