import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pattern } from '../fixtures/patterns.mjs';
import { type Crew, FIX, startCrew, until } from './harness.js';

let crew: Crew | undefined;
afterEach(async () => {
  await crew?.stop();
  crew = undefined;
});

const writer = (name: string, args: string, extra = '') =>
  `  ${name}:\n    command: node\n    args: [${join(FIX, 'write-exit.mjs')}, ${args}]\n    restart: no\n${extra}`;

describe('output capture', () => {
  it('binary garbage and a 1 MiB line without newline arrive byte-exact on the bus and in the log, with no seq gap', async () => {
    crew = startCrew(({ gate }) =>
      writer('bin', `--gate, ${gate}, --raw, "262144", binary`) + writer('long', `--gate, ${gate}, --raw, "1048576", longline`),
    );
    const c = crew;
    // Both writers wait on the gate; once both are starting, the subscriber is demonstrably live.
    const started = new Set<string>();
    const seen = await until(c.bus, (r) => {
      if (r.msg.kind === 'state' && r.msg.to === 'starting') started.add(r.msg.agent);
      return started.size === 2;
    });
    c.openGate();
    const exits = new Set<string>();
    await until(c.bus, (r) => {
      if (r.msg.kind === 'exit') exits.add(r.msg.agent);
      return exits.size === 2;
    }, 30_000, seen);
    for (const [agent, kind, n] of [['bin', 'binary', 262144], ['long', 'longline', 1048576]] as const) {
      const outputs = seen.filter((r) => r.msg.kind === 'output' && r.msg.agent === agent);
      expect(outputs.length).toBeGreaterThan(0);
      expect(outputs.every((r) => r.gap === 0)).toBe(true);
      expect(outputs[0]?.msg.seq).toBe(1);
      const got = Buffer.concat(outputs.map((r) => (r.msg.kind === 'output' ? Buffer.from(r.msg.data) : Buffer.alloc(0))));
      const want = pattern(kind, n);
      expect(got.length).toBe(want.length);
      expect(got.equals(want)).toBe(true);
      expect(readFileSync(c.logFile(agent)).equals(want)).toBe(true);
    }
  });

  for (const [size, runs] of [[100_000, 50], [1_048_576, 10]] as const) {
    it(`regression node-pty #72: ${size} bytes written right before exit, ${runs} times, loses no byte`, async () => {
      await writeThenExit(size, runs);
    });
  }
});

/**
 * Runs a writer that exits right after writing `size` bytes, `runs` times (restart: always, then
 * the budget ends it), and checks every run arrived whole on the bus and in the log.
 */
async function writeThenExit(size: number, runs: number): Promise<void> {
  crew = startCrew(
    `  w:\n    command: node\n    args: [${join(FIX, 'write-exit.mjs')}, --raw, "${size}", lines]\n` +
      `    restart: { policy: always, backoff: { initial: 0ms }, budget: { max_restarts: ${runs - 1}, window: 10m } }\n` +
      `    log: { max_size: 1GiB }\n`,
    { subscribe: { agents: ['w'] } },
  );
  const c = crew;
  const perRun: number[] = [];
  let bytes = 0;
  await until(c.bus, (r) => {
    expect(r.gap).toBe(0);
    if (r.msg.kind === 'output') bytes += r.msg.data.length;
    if (r.msg.kind === 'exit') {
      perRun.push(bytes);
      bytes = 0;
    }
    return r.msg.kind === 'state' && r.msg.to === 'dead';
  }, 120_000);
  // `runs` runs (runs - 1 restarts, then the budget is spent), each delivered whole on the bus.
  expect(perRun).toEqual(Array.from({ length: runs }, () => size));
  expect(readFileSync(c.logFile('w')).length).toBe(runs * size);
}
