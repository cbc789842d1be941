/**
 * start(config) without the CLI: a program embeds orchestra, runs a crew of one fixture agent in
 * its own process, talks to it through the supervisor, and stops it leaving nothing behind.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// Agents' workers are loaded from the built JS (dist/agent/agent-worker.js, next to the built
// supervisor): the crew runs from dist, as an embedding program would run it.
import { parseConfig } from '../../dist/config/load.js';
import { start } from '../../dist/host/start.js';
import { BusSubscriber } from '../../src/bus/client.js';
import { anyAlive, FIX, isState, until } from '../e2e/harness.js';

describe('start(config): a crew run in-process by a program, without the CLI', () => {
  it('starts the agent, delivers a send and sees the echo on the bus, then stops: no agent process left, supervisor.json removed', async () => {
    const dir = mkdtempSync('/tmp/orch-start-');
    const stateDir = join(dir, 's');
    const config = parseConfig(
      `session: embedded\nstate_dir: ${stateDir}\nagents:\n  echo:\n    command: node\n    args: [${join(FIX, 'echo-agent.mjs')}, echo]\n    ready: { pattern: "echo> $" }\n`,
      join(dir, 'orchestra.yaml'),
    );
    // Subscribe first (ZeroMQ connects once the bus is bound); agents wait for the subscription.
    const bus = new BusSubscriber(`ipc://${stateDir}/bus.sock`, {});
    try {
      const crew = await start(config, { awaitSubscriberMs: 10_000 });
      expect(crew.endpoints.publish).toBe(`ipc://${stateDir}/bus.sock`);
      expect(existsSync(crew.paths.info)).toBe(true);
      const ready = await until(bus, isState('echo', 'ready'));
      expect(ready.at(-1)?.msg.run).toBe(crew.runId);
      const pid = crew.supervisor.status().find((s) => s.name === 'echo')?.pid;
      expect(pid).toEqual(expect.any(Number));

      let text = '';
      const echoed = until(bus, (r) => {
        if (r.msg.kind !== 'output' || r.msg.agent !== 'echo') return false;
        text += Buffer.from(r.msg.data).toString();
        return /you said: hello from a program/.test(text);
      });
      const result = await crew.supervisor.send('echo', { text: 'hello from a program', mode: 'wait-idle', timeoutMs: 10_000 });
      expect(result.outcome).toBe('delivered');
      await echoed;

      expect(await crew.stop()).toBe('graceful');
      await crew.closed;
      expect(anyAlive([pid ?? -1])).toBe(false);
      expect(existsSync(join(stateDir, 'supervisor.json'))).toBe(false);
    } finally {
      bus.close();
    }
  });
});
