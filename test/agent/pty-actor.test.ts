import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createActor, waitFor } from 'xstate';
import { createPtyActor, type PtySink } from '../../src/agent/pty-actor.js';
import { BUILTIN } from '../../src/config/load.js';
import type { AgentConfig } from '../../src/config/types.js';
import { agentMachine, publicState, stopDeadlineMs } from '../../src/machines/agent.js';

const FIX = resolve(import.meta.dirname, '../fixtures');

function agent(args: string[]): AgentConfig {
  const dir = mkdtempSync(join(tmpdir(), 'orch-pty-'));
  return {
    name: 'w',
    command: process.execPath,
    args,
    cwd: FIX,
    env: {},
    cols: 80,
    rows: 24,
    restart: BUILTIN.restart,
    readyPattern: undefined,
    readyTimeoutMs: 60_000,
    idleAfterMs: 2000,
    busyAfterMs: 250,
    stop: { keys: undefined, signal: 'SIGTERM', graceMs: 1000 },
    dependsOn: [],
    input: BUILTIN.input,
    // The PTY actor reads neither input nor sidecar settings; an AgentConfig has them.
    sidecar: { ...BUILTIN.sidecar, path: join(dir, 'w.sock') },
    log: { file: join(dir, 'w.log'), maxSize: 1 << 30, keep: 1, ringSize: 1024 },
  };
}

/** Runs one agent under the real machine and PTY actor until it exits; returns its bytes and logs. */
async function run(a: AgentConfig, perChunk: () => void) {
  const chunks: Buffer[] = [];
  const logs: string[] = [];
  const sink: PtySink = {
    spawned: () => undefined,
    data: (c) => {
      chunks.push(Buffer.from(c));
      perChunk();
    },
    flush: async () => undefined,
    log: (_level, msg) => logs.push(msg),
  };
  const env = { PATH: process.env.PATH ?? '' };
  const actor = createActor(agentMachine.provide({ actors: { pty: createPtyActor(a, env, sink) } }), {
    input: { hasReadyPattern: false, readyTimeoutMs: 60_000, idleAfterMs: 2000, busyAfterMs: 250, stopDeadlineMs: stopDeadlineMs(a.stop) },
  });
  actor.start();
  await waitFor(actor, (s) => publicState(s.value) === 'exited', { timeout: 30_000 });
  actor.stop();
  return { bytes: Buffer.concat(chunks), logs };
}

describe('PTY actor', () => {
  // When the reader is behind at exit, the drain marker may meet a full PTY queue (EAGAIN); it is
  // then retried as reads make room. Whether the queue is full at that moment depends on where the
  // writer's last write() left it, so this cannot force the case; it pins the slow-reader path.
  it('a reader far behind when the writer exits still gets every byte', async () => {
    const size = 512 * 1024;
    // A slow consumer: 2 ms per chunk keeps the PTY queue full when the writer exits.
    const slow = () => {
      const until = performance.now() + 2;
      while (performance.now() < until);
    };
    for (let i = 0; i < 3; i++) {
      const { bytes, logs } = await run(agent([join(FIX, 'write-exit.mjs'), '--raw', String(size), 'lines']), slow);
      expect(bytes.length).toBe(size);
      expect(logs.filter((l) => l.includes('timed out'))).toEqual([]);
    }
  });
});
