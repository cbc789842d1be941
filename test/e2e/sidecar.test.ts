/** The sidecar channel end to end: events from a fixture agent to a real bus subscriber. */
import { execFileSync, spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Received } from '../../src/bus/client.js';
import { CLI, type Crew, FIX, isState, runCli, startCrew, streamSource, until, untilText } from './harness.js';

let crew: Crew | undefined;
afterEach(async () => {
  await crew?.stop('SIGKILL');
  crew = undefined;
});

const agent = (name: string, mode: string, extra = '') => `  ${name}:\n    command: node\n    args: [${join(FIX, 'sidecar-agent.mjs')}, ${mode}]\n${extra}`;

describe('sidecar events', () => {
  it('valid events arrive in order with contiguous seq; malformed, non-object, typeless and 2 MiB lines become errors; the connection survives', async () => {
    crew = startCrew(agent('sc', 'script'));
    const seen = await until(crew.bus, (r) => r.msg.kind === 'sidecar' && r.msg.ok && r.msg.type === 'done', 60_000);
    const side = seen.filter((r): r is Received & { msg: { kind: 'sidecar' } } => r.msg.kind === 'sidecar');
    // Every sidecar message of the agent, seq 1..N without a gap.
    expect(side.map((r) => r.msg.seq)).toEqual(side.map((_, i) => i + 1));
    expect(side.every((r) => r.gap === 0)).toBe(true);
    const valid = side.flatMap((r) => (r.msg.ok ? [r.msg] : []));
    const types = valid.map((m) => m.type).filter((t) => t !== 'from-hook');
    expect(types).toEqual(['ready', 'after-big', ...Array.from({ length: 10_000 }, () => 'tick'), 'done']);
    expect(valid.filter((m) => m.type === 'tick').map((m) => m.event.i)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    expect(valid.find((m) => m.type === 'from-hook')?.event).toEqual({ type: 'from-hook', tool: 'Bash' });
    expect(valid[0]?.event).toEqual({ type: 'ready', note: 'from the agent' });
    const errors = side.flatMap((r) => (r.msg.ok ? [] : [{ error: r.msg.error, excerpt: r.msg.excerpt, bytes: r.msg.bytes }]));
    expect(errors).toEqual([
      { error: expect.stringMatching(/^not JSON: /), excerpt: 'this is not json', bytes: 16 },
      { error: 'expected "type": a string of 1 to 64 characters', excerpt: '{"no":"type"}', bytes: 13 },
      { error: 'expected a JSON object {"type": "...", ...}', excerpt: '[1,2]', bytes: 5 },
      { error: 'line longer than 65536 bytes (sidecar.max_line); skipped', excerpt: `{"type":"big","pad":"${'x'.repeat(99)}`, bytes: 2 * 1024 * 1024 + 23 },
    ]);
    // The sidecar's `ready` drove the machine, and was published before the state change.
    const readyEvent = seen.findIndex((r) => r.msg.kind === 'sidecar' && r.msg.ok && r.msg.type === 'ready');
    const readyState = seen.findIndex(isState('sc', 'ready'));
    expect(readyEvent).toBeGreaterThanOrEqual(0);
    expect(readyState).toBeGreaterThan(readyEvent);
    expect(seen[readyState]?.msg).toMatchObject({ reason: 'sidecar reported ready' });
    // The socket is the owner's only.
    expect(statSync(join(crew.stateDir, 'sidecar', 'sc.sock')).mode & 0o777).toBe(0o600);
  });

  it('the environment names the socket, the agent and the session; hooks connect per event; recent events are kept', async () => {
    crew = startCrew(agent('hk', 'hook', '    sidecar: { keep: 3 }\n'));
    const seen = await until(crew.bus, (r) => r.msg.kind === 'output' && Buffer.from(r.msg.data).toString().includes('hook>'));
    expect(Buffer.concat(seen.filter((r) => r.msg.kind === 'output').map((r) => Buffer.from((r.msg as { data: Uint8Array }).data))).toString()).toContain('(env: hk/e2e)');
    const sock = join(crew.stateDir, 'sidecar', 'hk.sock');
    for (let i = 1; i <= 5; i++) {
      // A hook: connect, write one event, close (here with a shell tool, as a hook script would).
      execFileSync('node', ['-e', `const s=require('net').connect(${JSON.stringify(sock)},()=>s.end(JSON.stringify({type:'hook',i:${i}})+'\\n'))`]);
    }
    await until(crew.bus, (r) => r.msg.kind === 'sidecar' && r.msg.ok && r.msg.event.i === 5);
    const res = await runCli(['events', '--json', '-n', '10', '--once', '--file', crew.file]);
    expect(res.code).toBe(0);
    const lines = res.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; event?: { i: number } });
    expect(lines.map((l) => l.event?.i)).toEqual([3, 4, 5]);
  });

  it('heartbeats feed hang detection: when they stop, the run is stopped as a failure and the policy restarts it', async () => {
    crew = startCrew(agent('hb', 'hang', '    sidecar: { hang_timeout: 500ms }\n    restart: { policy: on-failure, backoff: { initial: 100ms } }\n    stop: { grace: 500ms }\n'));
    const seen = await until(crew.bus, (r) => r.msg.kind === 'restart' && r.msg.agent === 'hb', 20_000);
    const exit = seen.find((r) => r.msg.kind === 'exit');
    expect(exit?.msg).toMatchObject({ cause: 'hang' });
    expect(seen.find(isState('hb', 'stopping'))?.msg).toMatchObject({ reason: 'no sidecar heartbeat for 500ms (hang)' });
    expect(seen.at(-1)?.msg).toMatchObject({ kind: 'restart', action: 'restart', reason: expect.stringMatching(/hang/) });
    const beats = seen.filter((r) => r.msg.kind === 'sidecar' && r.msg.ok && r.msg.type === 'heartbeat');
    expect(beats).toHaveLength(10);
  });

  it('a sidecar `busy` outranks the screen: a quiet agent stays busy until its sidecar says ready', async () => {
    // The `hang` agent reports ready, then a heartbeat every 100 ms for 1 s, and prints nothing.
    crew = startCrew(agent('q', 'hang', '    idle_after: 200ms\n'));
    await until(crew.bus, (r) => r.msg.kind === 'sidecar' && r.msg.ok && r.msg.type === 'heartbeat');
    const c = connect(join(crew.stateDir, 'sidecar', 'q.sock'));
    c.write('{"type":"busy"}\n');
    await until(crew.bus, isState('q', 'busy'));
    // Quiet for far longer than idle_after (the rest of the heartbeats, ~1 s): still busy.
    const quiet = await until(crew.bus, (r) => r.msg.kind === 'sidecar' && r.msg.ok && r.msg.event.n === 10);
    expect(quiet.filter((r) => r.msg.kind === 'state')).toEqual([]);
    c.end('{"type":"idle"}\n');
    const back = await until(crew.bus, isState('q', 'ready'));
    expect(back.at(-1)?.msg).toMatchObject({ reason: 'sidecar reported ready' });
  });

  it('orchestra events: human lines for the chosen kinds and agents, live, and a clean exit on Ctrl-C', async () => {
    crew = startCrew(agent('hk', 'hook') + agent('other', 'hook'));
    await until(crew.bus, isState('hk', 'ready'));
    const ev = spawn(process.execPath, [CLI, 'events', 'hk', '--kind', 'sidecar,state', '--file', crew.file], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const out = streamSource(ev.stdout);
      // The current state is replayed at once; then live events.
      const first = await untilText(out, /hk state \(current\) starting -> ready/);
      expect(first).toMatch(/^\d\d:\d\d:\d\d\.\d{3} hk state \(current\) starting -> ready/m);
      const next = untilText(out, /hk sidecar INVALID LINE \(5 bytes\): not JSON[^\n]*\n[\s\S]*hk sidecar deploy \{"type":"deploy","env":"prod"\}/);
      const c = connect(join(crew.stateDir, 'sidecar', 'hk.sock'));
      c.end('oops!\n{"type":"deploy","env":"prod"}\n');
      const text = await next;
      expect(text).not.toMatch(/other/);
    } finally {
      ev.kill('SIGINT');
    }
    expect(await new Promise((res) => ev.on('exit', (code) => res(code)))).toBe(0);
  });

  it('orchestra events | head: when its reader goes away it ends quietly (exit 0, no stack trace)', async () => {
    crew = startCrew(agent('hk', 'hook'));
    await until(crew.bus, isState('hk', 'ready'));
    const ev = spawn(process.execPath, [CLI, 'events', '--file', crew.file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    ev.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const exit = new Promise((res) => ev.on('exit', (code) => res(code)));
    await untilText(streamSource(ev.stdout), /hk state \(current\)/);
    ev.stdout?.destroy();
    // The next line it prints finds the pipe closed.
    connect(join(crew.stateDir, 'sidecar', 'hk.sock')).end('{"type":"one"}\n{"type":"two"}\n');
    expect(await exit).toBe(0);
    expect(err).toBe('');
  });
});

