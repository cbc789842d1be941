/**
 * Idle agents cost no CPU: once every agent is ready and quiet, no thread of the supervisor (its
 * main thread, or any agent's worker) arms or fires a timer. Timers are traced by a preloaded
 * async hook (test/fixtures/timer-trace.cjs), in every thread, with where they were armed.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { FIX, startCrew, until } from './harness.js';

const AGENTS = 100;
/** Long enough for a polling timer of any period up to this to show, whatever it is for. */
const WINDOW_MS = 3000;

describe('idle agents', () => {
  it(`${AGENTS} idle agents arm no repeating timer: nothing is armed or fires in any thread once all are ready`, async () => {
    const agents = Array.from({ length: AGENTS }, (_, i) => `  a${i}:\n    command: /bin/sh\n    args: ["-c", "echo up; exec sleep 100000"]\n`).join('');
    const file = join(mkdtempSync('/tmp/orch-e2e-'), 'timers');
    writeFileSync(file, '');
    const crew = startCrew(agents, { subscribe: { kinds: ['state'] }, env: { NODE_OPTIONS: `--require ${join(FIX, 'timer-trace.cjs')}`, TIMER_TRACE: file } });
    try {
      const ready = new Set<string>();
      await until(crew.bus, (r) => {
        if (r.msg.kind === 'state' && r.msg.to === 'ready') ready.add(r.msg.agent);
        return ready.size === AGENTS;
      }, 240_000);
      // Not synchronisation: windows of observation. In the first, what the last state change set
      // off finishes (the printer's line for it); in the second, a repeating timer would show.
      await sleep(WINDOW_MS);
      const mark = readFileSync(file, 'utf8').length;
      await sleep(WINDOW_MS);
      const idle = readFileSync(file, 'utf8').slice(mark).split('\n').filter(Boolean);
      expect(idle).toEqual([]);
    } finally {
      await crew.stop();
    }
  }, 300_000);
});
