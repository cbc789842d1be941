import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { anyAlive, type Crew, FIX, isState, type Runtime, runCli, startCrew, until } from './harness.js';

let crew: Crew | undefined;
afterEach(async () => {
  await crew?.stop('SIGKILL');
  crew = undefined;
});

// The same smoke test under both runtimes: up → output on the bus → crash → restart → down.
describe.each<Runtime>(['node', 'deno'])('smoke under %s', (runtime) => {
  it('up, output on the bus, crash, restart, SIGTERM down', async () => {
    crew = startCrew(
      `  flaky:\n    command: node\n    args: [${join(FIX, 'flaky-agent.mjs')}, "300"]\n    restart: { policy: on-failure, backoff: { initial: 100ms, jitter: 0 } }\n` +
        `  steady:\n    command: node\n    args: [${join(FIX, 'echo-agent.mjs')}, steady]\n    ready: { pattern: "steady> $" }\n`,
      { runtime },
    );
    let text = '';
    let restarted = false;
    let steadyReady = false;
    const seen = await until(crew.bus, (r) => {
      if (r.msg.kind === 'output' && r.msg.agent === 'flaky') text += Buffer.from(r.msg.data).toString();
      if (r.msg.kind === 'state' && r.msg.agent === 'flaky' && r.msg.to === 'starting' && r.msg.from === 'restarting') restarted = true;
      if (isState('steady', 'ready')(r)) steadyReady = true;
      return restarted && steadyReady;
    }, 30_000);
    expect(text).toContain('flaky: crashing now');
    const decision = seen.find((r) => r.msg.kind === 'restart')?.msg;
    expect(decision).toMatchObject({ action: 'restart', policy: 'on-failure', attempt: 1, delayMs: 100 });
    const pids = seen.flatMap((r) => (r.msg.kind === 'state' && r.msg.pid ? [r.msg.pid] : []));
    crew.signal('SIGTERM');
    await until(crew.bus, (r) => r.msg.kind === 'supervisor' && r.msg.event === 'stopped', 30_000, seen);
    const { code } = await crew.stop();
    expect(code).toBe(0);
    expect(anyAlive(pids)).toBe(false);
  });
});

// Operating a crew whose supervisor runs under either runtime: control requests (from several
// clients one after the other), a send with its outcome, a late subscriber's replay, down.
describe.each<Runtime>(['node', 'deno'])('operating a crew under %s', (runtime) => {
  it('ps, send (delivered), ps again from a new client, down', async () => {
    crew = startCrew(`  steady:\n    command: node\n    args: [${join(FIX, 'echo-agent.mjs')}, steady]\n    ready: { pattern: "steady> $" }\n`, { runtime });
    await until(crew.bus, isState('steady', 'ready'));
    const cli = (...args: string[]) => runCli([...args, '--file', crew!.file]);
    expect((await cli('ps')).stdout).toMatch(/^steady\s+ready/m);
    expect((await cli('send', 'steady', 'hello', '--id', 'one')).stdout).toBe('steady: send one: delivered\n');
    expect((await cli('ps', '--json')).code).toBe(0);
    // A late subscriber gets the current state replayed at once (the publisher saw its subscription).
    const late = crew.subscribe({ kinds: ['state'], agents: ['steady'] });
    expect((await until(late, (r) => r.msg.kind === 'state', 5000)).at(-1)?.msg).toMatchObject({ replay: true });
    expect(await cli('down')).toMatchObject({ code: 0, stdout: 'session "e2e" is down\n' });
    expect((await crew.exited).code).toBe(0);
  });
});
