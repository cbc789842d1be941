import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { claudeSettings, HOOK_EVENTS, PROMPT_MAX, relayCommand, shellQuote, sidecarEvent } from '../../src/agent/hooks.js';
import { SidecarServer } from '../../src/agent/sidecar.js';
import type { SidecarItem } from '../../src/agent/worker-protocol.js';

const RELAY = resolve(import.meta.dirname, '../../dist/agent/hook-relay.js');

describe('claude hook → sidecar event', () => {
  it('SessionStart: ready, with where the session came from', () => {
    expect(sidecarEvent('SessionStart', { hook_event_name: 'SessionStart', session_id: 's1', source: 'startup' })).toEqual({ type: 'ready', hook: 'SessionStart', source: 'startup', session: 's1' });
  });

  it('UserPromptSubmit: the prompt, whole', () => {
    expect(sidecarEvent('UserPromptSubmit', { session_id: 's1', prompt: 'fix the tests' })).toEqual({ type: 'prompt', hook: 'UserPromptSubmit', text: 'fix the tests' });
  });

  it('UserPromptSubmit: a prompt too long for one sidecar line is cut and marked truncated', () => {
    const e = sidecarEvent('UserPromptSubmit', { prompt: 'p'.repeat(PROMPT_MAX + 1) });
    expect(e).toEqual({ type: 'prompt', hook: 'UserPromptSubmit', text: 'p'.repeat(PROMPT_MAX), truncated: true });
  });

  it('PreToolUse and PostToolUse: progress, with the tool', () => {
    expect(sidecarEvent('PreToolUse', { tool_name: 'Bash', tool_input: { command: 'ls' } })).toEqual({ type: 'progress', hook: 'PreToolUse', tool: 'Bash' });
    expect(sidecarEvent('PostToolUse', { tool_name: 'Edit' })).toEqual({ type: 'progress', hook: 'PostToolUse', tool: 'Edit' });
  });

  it('Notification: a permission prompt blocks on permission with its message; idle_prompt is ready; others are only published', () => {
    expect(sidecarEvent('Notification', { notification_type: 'permission_prompt', message: 'Claude needs your permission to use Bash' })).toEqual({
      type: 'blocked',
      hook: 'Notification',
      on: 'permission',
      text: 'Claude needs your permission to use Bash',
    });
    expect(sidecarEvent('Notification', { notification_type: 'idle_prompt', message: 'Claude is waiting for your input' })).toEqual({ type: 'ready', hook: 'Notification' });
    expect(sidecarEvent('Notification', { notification_type: 'auth_success', message: 'Signed in' })).toEqual({ type: 'notification', hook: 'Notification', kind: 'auth_success', text: 'Signed in' });
  });

  it('Stop: ready; StopFailure (an API error ended the turn): ready, with the error; SubagentStop: progress (the main agent works on)', () => {
    expect(sidecarEvent('Stop', { stop_hook_active: false })).toEqual({ type: 'ready', hook: 'Stop' });
    expect(sidecarEvent('StopFailure', { error: 'server_error' })).toEqual({ type: 'ready', hook: 'StopFailure', error: 'server_error' });
    // A usage limit or a failed login waits for a human: blocked, not ready (review finding).
    expect(sidecarEvent('StopFailure', { error: 'rate_limit', error_details: 'HTTP 429' })).toEqual({ type: 'blocked', on: 'quota', hook: 'StopFailure', text: 'rate_limit' });
    expect(sidecarEvent('StopFailure', { error: 'authentication_failed' })).toEqual({ type: 'blocked', on: 'login', hook: 'StopFailure', text: 'authentication_failed' });
    expect(sidecarEvent('SubagentStop', {})).toEqual({ type: 'progress', hook: 'SubagentStop' });
  });

  it('every installed hook maps to an event, even when its input could not be read; an unknown hook to none', () => {
    for (const event of HOOK_EVENTS) expect(sidecarEvent(event, {})?.hook).toBe(event);
    expect(sidecarEvent('PreCompact', {})).toBeUndefined();
  });
});

describe('claude settings file', () => {
  it('runs the relay for every hook, with a matcher for every tool on the tool events only', () => {
    const settings = claudeSettings((event) => `relay ${event}`);
    expect(Object.keys(settings.hooks)).toEqual([...HOOK_EVENTS]);
    expect(settings.hooks.Stop).toEqual([{ hooks: [{ type: 'command', command: 'relay Stop', timeout: 5 }] }]);
    expect(settings.hooks.PreToolUse).toEqual([{ matcher: '*', hooks: [{ type: 'command', command: 'relay PreToolUse', timeout: 5 }] }]);
    expect(settings.hooks.PostToolUse[0]?.matcher).toBe('*');
    expect(settings.hooks.Notification[0]).not.toHaveProperty('matcher');
  });

  it('quotes the runtime and relay paths for the shell claude runs hooks with', () => {
    expect(relayCommand(['/opt/node v20/bin/node'], "/it's/hook-relay.js", 'Stop')).toBe(`'/opt/node v20/bin/node' '/it'\\''s/hook-relay.js' Stop`);
    expect(relayCommand(['/usr/bin/deno', 'run', '-A'], '/r.js', 'SessionStart')).toBe(`'/usr/bin/deno' 'run' '-A' '/r.js' SessionStart`);
    expect(shellQuote('$HOME `x`')).toBe(`'$HOME \`x\`'`);
  });
});

/** Runs the built relay as claude would: the hook's JSON on stdin. */
function runRelay(event: string, input: string | undefined, socket: string | undefined): Promise<{ code: number | null; out: string; ms: number }> {
  const t0 = Date.now();
  const env = { ...process.env };
  if (socket) env.ORCHESTRA_SIDECAR = socket;
  else delete env.ORCHESTRA_SIDECAR;
  const p = spawn(process.execPath, [RELAY, event], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (out += d.toString()));
  // undefined: stdin is left open, as by a claude that never finishes writing.
  if (input !== undefined) p.stdin.end(input);
  return new Promise((res) => p.on('close', (code) => res({ code, out, ms: Date.now() - t0 })));
}

describe('hook relay (dist/agent/hook-relay.js)', () => {
  it('writes one sidecar line for the hook and prints nothing (claude would add it to the conversation)', async () => {
    const socket = join(mkdtempSync('/tmp/orch-hooks-'), 'a.sock');
    let got: (i: SidecarItem) => void = () => undefined;
    const item = new Promise<SidecarItem>((res) => (got = res));
    const server = new SidecarServer(socket, 64 * 1024, (i) => got(i));
    await server.listen();
    try {
      const r = await runRelay('UserPromptSubmit', JSON.stringify({ hook_event_name: 'UserPromptSubmit', session_id: 's', prompt: 'hello there' }), socket);
      expect(r).toMatchObject({ code: 0, out: '' });
      expect(await item).toEqual({ ok: true, type: 'prompt', event: { type: 'prompt', hook: 'UserPromptSubmit', text: 'hello there' } });
    } finally {
      await server.close();
    }
  });

  it('regression: a hook must never fail or hold claude up: no socket listening, no variable, or input that is not JSON exit 0 at once, silently', async () => {
    const missing = join(mkdtempSync('/tmp/orch-hooks-'), 'none.sock');
    for (const [event, input, socket] of [
      ['Stop', '{}', missing],
      ['Stop', '{}', undefined],
      ['UserPromptSubmit', 'not json', missing],
    ] as const) {
      const r = await runRelay(event, input, socket);
      expect(r).toMatchObject({ code: 0, out: '' });
      expect(r.ms).toBeLessThan(2000);
    }
  });

  it('regression: a hook must never hold claude up: with its input never ending, the relay gives up after 2 s, silently', async () => {
    const r = await runRelay('Stop', undefined, join(mkdtempSync('/tmp/orch-hooks-'), 'none.sock'));
    expect(r).toMatchObject({ code: 0, out: '' });
    expect(r.ms).toBeGreaterThanOrEqual(2000);
    expect(r.ms).toBeLessThan(5000);
  });
});
