import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type AnyActorRef, createActor, waitFor } from 'xstate';
import { createPtyActor, type PtySink } from '../../src/agent/pty-actor.js';
import { BUILTIN } from '../../src/config/load.js';
import type { AgentConfig } from '../../src/config/types.js';
import { agentProcesses } from '../../src/host/process-group.js';
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
    provider: undefined,
    readyPattern: undefined,
    busyPattern: undefined,
    blocked: { ...BUILTIN.blocked, signatures: [] },
    resume: undefined,
    hooks: undefined,
    readyTimeoutMs: 60_000,
    idleAfterMs: 2000,
    busyAfterMs: 250,
    activity: BUILTIN.activity,
    stop: { keys: undefined, signal: 'SIGTERM', graceMs: 1000 },
    dependsOn: [],
    input: BUILTIN.input,
    // The PTY actor reads neither input nor sidecar settings; an AgentConfig has them.
    sidecar: { ...BUILTIN.sidecar, path: join(dir, 'w.sock') },
    log: { file: join(dir, 'w.log'), maxSize: 1 << 30, keep: 1, ringSize: 1024, scrollback: 0 },
  };
}

/** Starts one agent under the real machine and PTY actor; collects its bytes and logs. */
function start(a: AgentConfig, perChunk: () => void = () => undefined) {
  const chunks: Buffer[] = [];
  const logs: string[] = [];
  const waiting: { what: string; resolve: (text: string) => void }[] = [];
  const text = () => Buffer.concat(chunks).toString();
  const sink: PtySink = {
    spawned: () => undefined,
    data: (c) => {
      chunks.push(Buffer.from(c));
      perChunk();
      for (const w of waiting.filter((w) => text().includes(w.what))) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(text());
      }
    },
    flush: async () => undefined,
    log: (_level, msg) => logs.push(msg),
  };
  const env = { PATH: process.env.PATH ?? '' };
  // No hang watchdog (hangTimeoutMs 0): these tests are about the PTY.
  const timing = { hasReadyPattern: false, hasBusyPattern: false, readyTimeoutMs: 60_000, idleAfterMs: 2000, busyAfterMs: 250, stopDeadlineMs: stopDeadlineMs(a.stop), hangTimeoutMs: 0, screenHoldMs: 0, blockedAfterMs: 0, blockedThen: 'none' as const };
  const actor = createActor(agentMachine.provide({ actors: { pty: createPtyActor(a, env, sink) } }), { input: timing });
  actor.start();
  /** The output so far, once it contains `what`. */
  const printed = (what: string) => new Promise<string>((resolve) => (text().includes(what) ? resolve(text()) : waiting.push({ what, resolve })));
  return { actor, chunks, logs, printed };
}

/** Runs one agent until it exits; returns its bytes and logs. */
async function run(a: AgentConfig, perChunk: () => void) {
  const { actor, chunks, logs } = start(a, perChunk);
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

  it("pty.kill during the stop's grace period SIGKILLs the agent at once (it waited out the grace) and says so", async () => {
    const a = { ...agent([join(FIX, 'family.mjs'), 'stubborn']), stop: { keys: undefined, signal: 'SIGTERM' as const, graceMs: 120_000 } };
    const { actor, logs, printed } = start(a);
    const family = /FAMILY ([\d ]+)\r?\n/.exec(await printed('family> '))?.[1]?.split(' ').map(Number) ?? [];
    expect(family).toHaveLength(3);
    actor.send({ type: 'agent.stop' });
    await printed('ignoring SIGTERM');
    // Straight to the PTY actor: whatever in the chart sends it (the stop deadline, a forced stop).
    const pty: AnyActorRef | undefined = actor.getSnapshot().children.pty;
    pty?.send({ type: 'pty.kill', why: 'forced' });
    await waitFor(actor, (s) => publicState(s.value) === 'stopped', { timeout: 10_000 });
    actor.stop();
    expect(logs).toContain(`forced: sent SIGKILL to pid ${family[0]} and the agent's other processes`);
    expect(agentProcesses({ sid: family[0] ?? 0 })).toEqual([]);
  }, 20_000);
});
