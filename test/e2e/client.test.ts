/** The published client library, used the way another program would: `import … from 'orchestra/client'`. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { type Crew, FIX, isState, startCrew, until } from './harness.js';

let crew: Crew | undefined;
afterEach(async () => {
  await crew?.stop('SIGKILL');
  crew = undefined;
});

it('orchestra/client: find the session, subscribe by kind and agent, send a control request, see its outcome on the bus', async () => {
  crew = startCrew((p) => `  r1:\n    command: node\n    args: [${join(FIX, 'repl-agent.mjs')}, ${join(p.dir, 'r1.jsonl')}, "100"]\n    ready: { pattern: "r1> $" }\n    idle_after: 200ms\n`);
  await until(crew.bus, isState('r1', 'ready'));
  const { stdout } = await promisify(execFile)(process.execPath, [join(FIX, 'client-consumer.mjs'), crew.file, 'r1', 'hello from a client']);
  const out = JSON.parse(stdout) as { result: unknown; events: unknown[]; agents: string[] };
  expect(out.result).toEqual({ id: 'from-client', outcome: 'delivered', reason: 'typed and submitted' });
  expect(out.events).toEqual([
    { kind: 'state', to: 'ready', gap: 0 },
    { kind: 'input', outcome: 'queued', id: 'from-client' },
    { kind: 'input', outcome: 'delivered', id: 'from-client' },
  ]);
  expect(out.agents).toEqual(['r1']);
});
