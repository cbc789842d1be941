/**
 * claude's hooks end to end, with a fake claude that runs the hooks of the settings file orchestra
 * gives it: state comes from the hooks (through the real relay and the sidecar socket), and a send
 * is `confirmed` when the agent's UserPromptSubmit reports its text, `unconfirmed` when it never does.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { Received } from '../../src/bus/client.js';
import { ControlClient } from '../../src/bus/control-client.js';
import { type Crew, FIX, isState, runCli, startCrew, until } from './harness.js';

let crew: Crew | undefined;
afterEach(async () => {
  await crew?.stop();
  crew = undefined;
});

const AGENT = `  h:
    command: node
    args: [${join(FIX, 'hooked-agent.mjs')}]
    hooks: claude
    ready: { pattern: "^> $" }
`;

const sidecarTypes = (seen: Received[]) => seen.flatMap((r) => (r.msg.kind === 'sidecar' && r.msg.ok ? [`${r.msg.type}:${String(r.msg.event.hook)}`] : []));

it('a hooks agent is ready from its SessionStart hook; a send it reports is confirmed, one it drops is unconfirmed with the screen', async () => {
  crew = startCrew(AGENT);
  const seen: Received[] = [];
  const ready = (await until(crew.bus, isState('h', 'ready'), 20_000, seen)).at(-1)?.msg;
  expect(ready).toMatchObject({ reason: 'sidecar reported ready' });
  expect(sidecarTypes(seen)).toEqual(['ready:SessionStart']);
  // orchestra's own settings file, beside the sidecar socket (the fixture exits 2 without --settings).
  const settings = JSON.parse(readFileSync(join(crew.stateDir, 'sidecar', 'h.claude-settings.json'), 'utf8'));
  expect(settings.hooks.UserPromptSubmit[0].hooks[0].command).toMatch(/hook-relay\.js' UserPromptSubmit$/);

  const control = new ControlClient(`ipc://${join(crew.stateDir, 'control.sock')}`);
  try {
    const confirmed = await control.request('send', { agent: 'h', text: 'hello', id: 'c1' });
    expect(confirmed).toEqual({ id: 'c1', outcome: 'confirmed', reason: 'typed and submitted; the agent reported it received the prompt' });
    await until(crew.bus, (r) => isState('h', 'ready')(r) && r.msg.seq > (ready?.seq ?? 0), 20_000, seen);
    expect(sidecarTypes(seen)).toEqual(['ready:SessionStart', 'prompt:UserPromptSubmit', 'progress:PreToolUse', 'progress:PostToolUse', 'ready:Stop']);
    const inputs = seen.flatMap((r) => (r.msg.kind === 'input' && r.msg.id === 'c1' ? [r.msg.outcome] : []));
    expect(inputs).toEqual(['queued', 'delivered', 'confirmed']);

    // The CLI: confirmed is a success, and says so.
    const cli = await runCli(['send', 'h', 'hello again', '--file', crew.file]);
    expect([cli.code, cli.stdout]).toEqual([0, expect.stringMatching(/^h: send \S+: confirmed$/m)]);

    // The reply comes once the 10 s confirmation window has passed.
    const dropped = await control.request('send', { agent: 'h', text: 'ignore this', id: 'u1' }, 30_000);
    expect(dropped).toMatchObject({ id: 'u1', outcome: 'unconfirmed' });
    expect(dropped.reason).toMatch(/^typed and submitted, but the agent did not report the prompt within 10000ms; the screen ends with:\n/);
    expect(dropped.reason).toContain('> ignore this');
  } finally {
    await control.close();
  }
}, 60_000);
