/**
 * An agent on a permission prompt, end to end: it is published `blocked` with the evidence, a send
 * that waits is not typed into the prompt (which would answer it), one that would not wait is
 * refused, and once a human has answered the prompt the waiting send is delivered.
 */
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { Received } from '../../src/bus/client.js';
import { ControlClient } from '../../src/bus/control-client.js';
import { type Crew, FIX, runCli, startCrew, until } from './harness.js';

let crew: Crew | undefined;
afterEach(async () => {
  await crew?.stop();
  crew = undefined;
});

const AGENT = `  p:
    command: node
    args: [${join(FIX, 'prompting-agent.mjs')}]
    ready: { pattern: "^> $" }
    blocked:
      hold: 100ms
      signatures: { permission: "Do you want to proceed\\\\?" }
`;

const isState = (to: string) => (r: Received) => r.msg.kind === 'state' && r.msg.agent === 'p' && r.msg.to === to;
const outputText = (seen: Received[]) => seen.map((r) => (r.msg.kind === 'output' ? Buffer.from(r.msg.data).toString() : '')).join('');

it('a send to an agent on a permission prompt is not typed until the prompt is gone; a send that would not wait is refused', async () => {
  crew = startCrew(AGENT);
  const seen: Received[] = [];
  await until(crew.bus, isState('ready'), 20_000, seen);
  expect((await runCli(['send', 'p', 'task', '--file', crew.file])).code).toBe(0);
  const blocked = (await until(crew.bus, isState('blocked'), 20_000, seen)).at(-1)?.msg;
  expect(blocked).toMatchObject({ blocked: { on: 'permission', evidence: ['Do you want to proceed?'] } });

  // Waits (in the background) for the agent to be ready again.
  const waiting = runCli(['send', 'p', 'hello', '--timeout', '30s', '--file', crew.file]);
  const refused = await runCli(['send', 'p', 'yes please', '--now', '--file', crew.file]);
  expect(refused.code).not.toBe(0);
  expect(refused.stdout + refused.stderr).toMatch(/agent-blocked: permission/);
  expect((await runCli(['ps', '--file', crew.file])).stdout).toMatch(/\bp\s+blocked \(permission, \d+s\)/);

  // A human answers the prompt (attach keystrokes): then, and only then, the send is typed.
  const control = new ControlClient(`ipc://${join(crew.stateDir, 'control.sock')}`);
  try {
    expect(await control.request('input', { agent: 'p', data: Buffer.from('1') })).toEqual({ written: true });
  } finally {
    await control.close();
  }
  expect((await waiting).code).toBe(0);
  await until(crew.bus, () => outputText(seen).includes('you said: hello'), 20_000, seen);
  const text = outputText(seen);
  expect(text).toContain('prompt got: "1" (allowed)');
  expect(text).not.toContain('yes please');
  expect(text.indexOf('prompt got')).toBeLessThan(text.indexOf('you said: hello'));
}, 60_000);
