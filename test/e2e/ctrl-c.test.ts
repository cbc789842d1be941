/**
 * One Ctrl-C always ends `orchestra up`: within the longest stop deadline of its agents plus a
 * bounded margin, whatever state each agent is in, and with no agent process left behind.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Received } from '../../src/bus/client.js';
import { FORCED_CLOSE_MS, shutdownDeadlineMs } from '../../src/machines/shutdown-deadline.js';
import { EXIT_FALLBACK_MS } from '../../src/cli/up.js';
import { loadConfig } from '../../src/config/load.js';
import { stopDeadlineMs } from '../../src/machines/agent.js';
import { anyAlive, type Crew, eventually, FIX, isState, runCli, startCrew, until } from './harness.js';

let crew: Crew | undefined;
afterEach(async () => {
  await crew?.stop('SIGKILL');
  crew = undefined;
});

/** Slack for process start-up and teardown on a loaded 2-core machine: not part of the bound itself. */
const SLACK_MS = 1500;

/** The documented bound on one Ctrl-C: the shutdown deadline, the forced stop's wait, the exit fallback. */
function ctrlCBoundMs(c: Crew): number {
  return shutdownDeadlineMs(loadConfig(c.file).agents) + FORCED_CLOSE_MS + EXIT_FALLBACK_MS;
}

const pidsOf = (seen: Received[]) => [...new Set(seen.flatMap((r) => (r.msg.kind === 'state' && typeof r.msg.pid === 'number' ? [r.msg.pid] : [])))];

/** One SIGINT; resolves with how long `up` took to exit, and its exit. */
async function ctrlC(c: Crew): Promise<{ ms: number; code: number | null; signal: NodeJS.Signals | null }> {
  const t0 = performance.now();
  c.signal('SIGINT');
  const exit = await c.exited;
  return { ms: performance.now() - t0, ...exit };
}

describe('Ctrl-C', () => {
  it('one Ctrl-C ends up, with agents starting, ready, busy, stopping, restarting, exiting, dead and stopped, within the stop deadline plus a bounded margin, and leaves no agent process', async () => {
    const node = (args: string) => `    command: node\n    args: [${args}]\n`;
    crew = startCrew(
      (p) =>
        `  starting:\n${node(join(FIX, 'silent.mjs'))}    ready: { pattern: "never", timeout: 10m }\n` +
        `  ready:\n${node(`${join(FIX, 'echo-agent.mjs')}, ready`)}    ready: { pattern: "ready> $" }\n` +
        // Ready at its prompt, then output without pause: busy.
        `  busy:\n    command: /bin/sh\n    args: ["-c", "printf 'busy> '; sleep 0.5; while :; do echo tick; sleep 0.02; done"]\n    ready: { pattern: "busy> $" }\n` +
        // Its stop is lost (as when the signal found no process group yet): parked in `stopping`.
        `  stopping:\n${node(`${join(FIX, 'echo-agent.mjs')}, stopping`)}    ready: { pattern: "stopping> $" }\n` +
        `  restarting:\n${node(`${join(FIX, 'flaky-agent.mjs')}, "0"`)}    restart: { policy: always, backoff: { initial: 10m, max: 10m } }\n` +
        // Exits the moment the gate opens, which is the moment of the Ctrl-C.
        `  exiting:\n${node(`${join(FIX, 'exit-on-gate.mjs')}, ${p.gate}`)}    ready: { pattern: "gated> $" }\n` +
        `  dead:\n${node(`${join(FIX, 'flaky-agent.mjs')}, "0"`)}    restart: no\n` +
        `  stopped:\n${node(`${join(FIX, 'echo-agent.mjs')}, stopped`)}    ready: { pattern: "stopped> $" }\n`,
      { extra: 'defaults:\n  stop: { grace: 1s }\n', env: { ORCHESTRA_TEST_FAULT: 'lose-stop:stopping' }, subscribe: { kinds: ['state', 'exit', 'restart'] } },
    );
    const seen: Received[] = [];
    const parked = new Map<string, string>([
      ['starting', 'starting'], ['ready', 'ready'], ['busy', 'busy'], ['stopping', 'ready'], ['restarting', 'restarting'],
      ['exiting', 'ready'], ['dead', 'dead'], ['stopped', 'ready'],
    ]);
    const now = new Map<string, string>();
    const allParked = () => [...parked].every(([a, s]) => now.get(a) === s);
    await until(crew.bus, (r) => {
      if (r.msg.kind === 'state') now.set(r.msg.agent, r.msg.to);
      return allParked();
    }, 30_000, seen).catch((err: Error) => {
      throw new Error(`not every agent parked: ${JSON.stringify(Object.fromEntries(now))}; ${err.message}`);
    });
    // `stopped` is stopped for good; `stopping` gets a stop it never sees the end of.
    expect((await runCli(['stop', 'stopped', '--file', crew.file])).code).toBe(0);
    const stopRequest = runCli(['stop', 'stopping', '--file', crew.file]);
    await until(crew.bus, isState('stopping', 'stopping'), 10_000, seen);
    const states = new Map<string, string>();
    for (const r of seen) if (r.msg.kind === 'state') states.set(r.msg.agent, r.msg.to);
    expect(Object.fromEntries(states)).toEqual({
      starting: 'starting', ready: 'ready', busy: 'busy', stopping: 'stopping', restarting: 'restarting', exiting: 'ready', dead: 'dead', stopped: 'stopped',
    });
    const pids = pidsOf(seen);
    crew.openGate();
    const { ms, code } = await ctrlC(crew);
    await stopRequest;
    const bound = ctrlCBoundMs(crew);
    expect(ms, `up took ${Math.round(ms)}ms to exit after one Ctrl-C (bound ${bound}ms); stderr:\n${crew.stderr()}`).toBeLessThan(bound + SLACK_MS);
    expect(code).toBe(0);
    await eventually(() => !anyAlive(pids), 5000, 'no agent process left');
  }, 90_000);

  it('a lost stop (signal sent before the agent had its process group) left the agent in stopping for ever and Ctrl-C never ended up: the stop deadline kills the run', async () => {
    crew = startCrew(`  lost:\n    command: node\n    args: [${join(FIX, 'echo-agent.mjs')}, lost]\n    ready: { pattern: "lost> $" }\n    stop: { grace: 500ms }\n`, {
      env: { ORCHESTRA_TEST_FAULT: 'lose-stop:lost' },
    });
    const seen = await until(crew.bus, isState('lost', 'ready'));
    const pids = pidsOf(seen);
    const t0 = performance.now();
    const stop = runCli(['stop', 'lost', '--file', crew.file]);
    await until(crew.bus, isState('lost', 'stopped'), 20_000, seen);
    const ms = performance.now() - t0;
    expect((await stop).code).toBe(0);
    const deadline = stopDeadlineMs({ keys: undefined, graceMs: 500 });
    expect(ms).toBeGreaterThanOrEqual(deadline - 50);
    expect(ms).toBeLessThan(deadline + SLACK_MS);
    const stopped = seen.at(-1)?.msg;
    expect(stopped?.kind === 'state' && stopped.reason).toMatch(/SIGKILL/);
    await eventually(() => !anyAlive(pids), 5000, 'the agent process is gone');
    // And once more, now by Ctrl-C: the agent is started again, its stop lost again.
    await runCli(['start', 'lost', '--file', crew.file]);
    await until(crew.bus, isState('lost', 'ready'), 20_000, seen);
    const again = pidsOf(seen);
    const { ms: upMs, code } = await ctrlC(crew);
    expect(upMs).toBeLessThan(ctrlCBoundMs(crew) + SLACK_MS);
    expect(code).toBe(0);
    await eventually(() => !anyAlive(again), 5000, 'no agent process left');
  }, 60_000);

  it('a worker that never answers the stop no longer keeps up running: at the shutdown deadline the graceful stop turns forced', async () => {
    crew = startCrew(`  deaf:\n    command: node\n    args: [${join(FIX, 'echo-agent.mjs')}, deaf]\n    ready: { pattern: "deaf> $" }\n    stop: { grace: 500ms }\n`, {
      env: { ORCHESTRA_TEST_FAULT: 'deaf-worker:deaf' },
    });
    const seen = await until(crew.bus, isState('deaf', 'ready'));
    const pids = pidsOf(seen);
    const { ms, code } = await ctrlC(crew);
    const bound = ctrlCBoundMs(crew);
    expect(ms, `stderr:\n${crew.stderr()}`).toBeGreaterThanOrEqual(shutdownDeadlineMs(loadConfig(crew.file).agents) - 50);
    expect(ms, `stderr:\n${crew.stderr()}`).toBeLessThan(bound + SLACK_MS);
    // Not a clean stop: the exit code and stderr say so.
    expect(code).toBe(1);
    expect(crew.stderr()).toMatch(/the graceful stop did not finish within its deadline; the rest was killed/);
    expect(anyAlive(pids)).toBe(false);
  }, 60_000);
});
