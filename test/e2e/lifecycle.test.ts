import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Received } from '../../src/bus/client.js';
import { type Crew, FIX, isState, startCrew, until } from './harness.js';

let crew: Crew | undefined;
afterEach(async () => {
  await crew?.stop();
  crew = undefined;
});

describe('lifecycle', () => {
  it('a crashing agent is restarted with the configured backoff and given up after the budget', async () => {
    crew = startCrew(
      `  flaky:\n    command: node\n    args: [${join(FIX, 'flaky-agent.mjs')}, "0"]\n` +
        `    restart:\n      policy: on-failure\n      backoff: { initial: 200ms, factor: 2, max: 10s, jitter: 0 }\n` +
        `      budget: { max_restarts: 3, window: 1m }\n`,
    );
    const seen = await until(crew.bus, isState('flaky', 'dead'), 30_000);
    const decisions = seen.filter((r) => r.msg.kind === 'restart').map((r) => r.msg);
    expect(decisions.map((d) => (d.kind !== 'restart' ? [] : d.action === 'restart' ? [d.action, d.attempt, d.delayMs, d.budgetLeft] : [d.action, undefined, undefined, undefined]))).toEqual([
      ['restart', 1, 200, 2],
      ['restart', 2, 400, 1],
      ['restart', 3, 800, 0],
      ['give-up', undefined, undefined, undefined],
    ]);
    const last = decisions.at(-1);
    expect(last?.kind === 'restart' && last.action === 'give-up' && last.why).toBe('budget-exhausted');
    // Each restart really waited its delay: decision → next `starting`.
    const starts = seen.filter(isState('flaky', 'starting')).map((r) => r.msg.ts);
    decisions.slice(0, 3).forEach((d, i) => {
      const next = starts[i + 1];
      expect(next).toBeDefined();
      if (d.kind === 'restart' && d.action === 'restart' && next !== undefined) expect(next - d.ts).toBeGreaterThanOrEqual(d.delayMs - 2);
    });
    const exits = seen.filter((r) => r.msg.kind === 'exit');
    expect(exits).toHaveLength(4);
    expect(exits.every((r) => r.msg.kind === 'exit' && r.msg.code === 1 && r.msg.cause === 'exit')).toBe(true);
  });

  it('silence during start-up is not readiness; the ready timeout is a failure, never silently success', async () => {
    crew = startCrew(`  mute:\n    command: node\n    args: [${join(FIX, 'silent.mjs')}]\n    restart: no\n    idle_after: 100ms\n    ready: { timeout: 700ms }\n`);
    const seen = await until(crew.bus, isState('mute', 'dead'));
    const states = seen.filter((r) => r.msg.kind === 'state').map((r) => (r.msg.kind === 'state' ? r.msg.to : ''));
    expect(states).toEqual(['starting', 'stopping', 'exited', 'dead']);
    const exit = seen.find((r) => r.msg.kind === 'exit')?.msg;
    expect(exit?.kind === 'exit' && exit.cause).toBe('ready-timeout');
    const stopping = seen.find(isState('mute', 'stopping'))?.msg;
    expect(stopping?.kind === 'state' && stopping.reason).toMatch(/ready timeout/);
  });

  it('readiness from a pattern on the rendered screen; dependents start only after it', async () => {
    crew = startCrew(
      `  mayor:\n    command: node\n    args: [${join(FIX, 'echo-agent.mjs')}, mayor]\n    ready: { pattern: "mayor> $", timeout: 10s }\n` +
        `  w1:\n    command: node\n    args: [${join(FIX, 'echo-agent.mjs')}, w1]\n    depends_on: [mayor]\n    ready: { pattern: "w1> $" }\n`,
    );
    const seen = await until(crew.bus, isState('w1', 'ready'));
    const order = seen.filter((r) => r.msg.kind === 'state').map((r: Received) => (r.msg.kind === 'state' ? `${r.msg.agent}:${r.msg.to}` : ''));
    expect(order).toEqual(['mayor:starting', 'mayor:ready', 'w1:starting', 'w1:ready']);
    const ready = seen.find(isState('mayor', 'ready'))?.msg;
    expect(ready?.kind === 'state' && ready.reason).toBe('ready pattern matched on screen');
    // The pid (also the process group id) is known from the first state on.
    const starting = seen.find(isState('mayor', 'starting'))?.msg;
    expect(starting?.kind === 'state' && typeof starting.pid).toBe('number');
    // Stop in reverse order: w1 is stopped before mayor begins stopping.
    crew.signal('SIGTERM');
    const all = await until(crew.bus, isState('mayor', 'stopped'), 20_000, seen);
    const stops = all.filter((r) => r.msg.kind === 'state' && (r.msg.to === 'stopping' || r.msg.to === 'stopped')).map((r) => (r.msg.kind === 'state' ? `${r.msg.agent}:${r.msg.to}` : ''));
    expect(stops).toEqual(['w1:stopping', 'w1:stopped', 'mayor:stopping', 'mayor:stopped']);
  });

  it('regression: a restarted run whose screen matched the last run\'s end never got ready (the worker kept the old verdict) and timed out', async () => {
    // Ready at once, exits 0.4 s later: every run draws the same "READY> " screen.
    crew = startCrew(
      `  r:\n    command: sh\n    args: [-c, "printf 'READY> '; sleep 0.4; exit 1"]\n    ready: { pattern: "READY> $", timeout: 3s }\n` +
        `    restart: { policy: always, backoff: { initial: 100ms, jitter: 0 } }\n`,
    );
    const seen: Received[] = [];
    let readies = 0;
    await until(crew.bus, (r) => isState('r', 'ready')(r) && ++readies === 3, 20_000, seen);
    expect(seen.some((r) => r.msg.kind === 'exit' && r.msg.cause === 'ready-timeout')).toBe(false);
  }, 30_000);

  it('stop keys are typed first: an agent that exits on them is stopped without a signal', async () => {
    crew = startCrew(
      `  polite:\n    command: node\n    args: [${join(FIX, 'echo-agent.mjs')}, polite]\n    ready: { pattern: "polite> $" }\n` +
        `    stop: { keys: "exit 0\\r", grace: 5s }\n`,
    );
    const seen = await until(crew.bus, isState('polite', 'ready'));
    crew.signal('SIGTERM');
    await until(crew.bus, isState('polite', 'stopped'), 20_000, seen);
    const stopped = seen.at(-1)?.msg;
    expect(stopped?.kind === 'state' && stopped.reason).toBe('stopped (exit code 0)');
  });

  it('answers the terminal queries TUIs wait on at start-up (DA1, DA2, CPR, OSC 10/11, XTVERSION)', async () => {
    crew = startCrew(`  tui:\n    command: node\n    args: [${join(FIX, 'queries.mjs')}]\n    restart: no\n`, { subscribe: { kinds: ['output', 'state'] } });
    let text = '';
    await until(crew.bus, (r) => {
      if (r.msg.kind === 'output') text += Buffer.from(r.msg.data).toString('latin1');
      return r.msg.kind === 'state' && r.msg.to === 'dead';
    });
    const answers = JSON.parse(/ANSWERS (.*)/.exec(text)?.[1] ?? '{}') as Record<string, string>;
    expect(answers).toEqual({
      da1: '\x1b[?1;2c',
      da2: '\x1b[>0;276;0c',
      cpr: '\x1b[1;1R',
      osc10: '\x1b]10;rgb:ffff/ffff/ffff\x1b\\',
      osc11: '\x1b]11;rgb:0000/0000/0000\x1b\\',
      xtversion: '\x1bP>|orchestra(0.1.0)\x1b\\',
    });
  });
});
