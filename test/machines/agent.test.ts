import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, SimulatedClock } from 'xstate';
import { type AgentTiming, agentMachine, type PtyCommand, publicState } from '../../src/machines/agent.js';

const timing: AgentTiming = { hasReadyPattern: false, readyTimeoutMs: 10_000, idleAfterMs: 2000, busyAfterMs: 250 };

function start(t: Partial<AgentTiming> = {}) {
  const clock = new SimulatedClock();
  const stops: number[] = [];
  let spawns = 0;
  // A fake PTY: counts spawns, answers a stop request with an exit by SIGTERM.
  const pty = fromCallback<PtyCommand>(({ sendBack, receive }) => {
    spawns++;
    sendBack({ type: 'pty.spawned', pid: 1000 + spawns });
    receive((cmd) => {
      if (cmd.type === 'pty.stop') {
        stops.push(clock.now());
        sendBack({ type: 'pty.exit', code: null, signal: 'SIGTERM' });
      }
    });
    return () => undefined;
  });
  const actor = createActor(agentMachine.provide({ actors: { pty } }), { input: { ...timing, ...t }, clock });
  actor.start();
  const state = () => publicState(actor.getSnapshot().value);
  return { actor, clock, state, stops, spawns: () => spawns };
}

describe('agent machine', () => {
  it('starts in starting with the PTY spawned', () => {
    const a = start();
    expect(a.state()).toBe('starting');
    expect(a.actor.getSnapshot().context.pid).toBe(1001);
  });

  it('silence during startup is not readiness', () => {
    const a = start();
    a.clock.increment(9_999);
    expect(a.state()).toBe('starting');
  });

  it('becomes ready after start-up output followed by idle_after of quiet', () => {
    const a = start();
    a.actor.send({ type: 'pty.output' });
    a.clock.increment(1_000);
    a.actor.send({ type: 'pty.output' });
    a.clock.increment(1_999);
    expect(a.state()).toBe('starting');
    a.clock.increment(1);
    expect(a.state()).toBe('ready');
    expect(a.actor.getSnapshot().context.reason).toMatch(/quiet for 2000ms/);
  });

  it('with a ready pattern, quiet output is not readiness; the screen match is', () => {
    const a = start({ hasReadyPattern: true });
    a.actor.send({ type: 'pty.output' });
    a.clock.increment(5_000);
    expect(a.state()).toBe('starting');
    a.actor.send({ type: 'screen.ready' });
    expect(a.state()).toBe('ready');
  });

  it('ready timeout is a failure: the PTY is stopped and the exit is marked ready-timeout', () => {
    const a = start();
    a.clock.increment(10_000);
    expect(a.stops).toEqual([10_000]);
    expect(a.state()).toBe('exited');
    expect(a.actor.getSnapshot().context.exit).toEqual({ code: null, signal: 'SIGTERM', cause: 'ready-timeout' });
  });

  it('ready -> busy on sustained output, back to ready after idle_after of quiet', () => {
    const a = start();
    a.actor.send({ type: 'screen.ready' });
    a.actor.send({ type: 'pty.output' });
    a.clock.increment(100);
    a.actor.send({ type: 'pty.output' });
    expect(a.state()).toBe('busy');
    a.clock.increment(1_500);
    a.actor.send({ type: 'pty.output' });
    a.clock.increment(1_999);
    expect(a.state()).toBe('busy');
    a.clock.increment(1);
    expect(a.state()).toBe('ready');
  });

  it('flapping output is debounced: isolated blips never make a ready agent busy', () => {
    const a = start();
    a.actor.send({ type: 'screen.ready' });
    const seen = new Set<string>();
    a.actor.subscribe((s) => seen.add(publicState(s.value)));
    for (let i = 0; i < 20; i++) {
      a.actor.send({ type: 'pty.output' });
      a.clock.increment(1_000);
    }
    expect([...seen]).toEqual(['ready']);
  });

  it('a deliberate stop ends in stopped, never exited', () => {
    const a = start();
    a.actor.send({ type: 'screen.ready' });
    a.actor.send({ type: 'agent.stop' });
    expect(a.state()).toBe('stopped');
    expect(a.actor.getSnapshot().context.exit).toBeNull();
  });

  it('an exit waits for the supervisor: restart after the chosen delay, respawning the PTY', () => {
    const a = start();
    a.actor.send({ type: 'pty.exit', code: 3, signal: null });
    expect(a.state()).toBe('exited');
    expect(a.actor.getSnapshot().context.exit).toEqual({ code: 3, signal: null, cause: 'exit' });
    a.actor.send({ type: 'supervisor.restart', delayMs: 4_000, reason: 'on-failure' });
    expect(a.state()).toBe('restarting');
    a.clock.increment(3_999);
    expect(a.state()).toBe('restarting');
    a.clock.increment(1);
    expect(a.state()).toBe('starting');
    expect(a.spawns()).toBe(2);
  });

  it('give-up makes the agent dead; start brings it back', () => {
    const a = start();
    a.actor.send({ type: 'pty.exit', code: 1, signal: null });
    a.actor.send({ type: 'supervisor.giveUp', reason: 'budget exhausted' });
    expect(a.state()).toBe('dead');
    expect(a.actor.getSnapshot().context.reason).toBe('budget exhausted');
    a.actor.send({ type: 'agent.start' });
    expect(a.state()).toBe('starting');
  });

  it('stop while waiting to restart goes to stopped and cancels the restart', () => {
    const a = start();
    a.actor.send({ type: 'pty.exit', code: 1, signal: null });
    a.actor.send({ type: 'supervisor.restart', delayMs: 1_000, reason: 'x' });
    a.actor.send({ type: 'agent.stop' });
    a.clock.increment(5_000);
    expect(a.state()).toBe('stopped');
    expect(a.spawns()).toBe(1);
  });

  it('sidecar busy/ready outrank screen heuristics', () => {
    const a = start();
    a.actor.send({ type: 'sidecar.ready' });
    expect(a.state()).toBe('ready');
    a.actor.send({ type: 'sidecar.busy' });
    expect(a.state()).toBe('busy');
    a.actor.send({ type: 'sidecar.ready' });
    expect(a.state()).toBe('ready');
  });

  it('submitted input makes a ready agent busy until it is quiet again', () => {
    const a = start();
    a.actor.send({ type: 'pty.output' });
    a.clock.increment(2000);
    expect(a.state()).toBe('ready');
    a.actor.send({ type: 'input.submitted' });
    expect(a.state()).toBe('busy');
    expect(a.actor.getSnapshot().context.reason).toBe('input submitted');
    a.clock.increment(1_999);
    expect(a.state()).toBe('busy');
    a.clock.increment(1);
    expect(a.state()).toBe('ready');
  });

  it('submitted input does not skip start-up: a starting agent stays starting', () => {
    const a = start();
    a.actor.send({ type: 'input.submitted' });
    expect(a.state()).toBe('starting');
  });

  it('once the sidecar reports state, quiet output no longer makes it ready and output no longer makes it busy', () => {
    const a = start();
    a.actor.send({ type: 'sidecar.busy' });
    expect(a.state()).toBe('busy');
    a.clock.increment(60_000);
    expect(a.state()).toBe('busy');
    a.actor.send({ type: 'sidecar.ready' });
    a.actor.send({ type: 'pty.output' });
    a.actor.send({ type: 'pty.output' });
    expect(a.state()).toBe('ready');
  });

  it('the next run starts with screen heuristics again', () => {
    const a = start();
    a.actor.send({ type: 'sidecar.ready' });
    a.actor.send({ type: 'pty.exit', code: 1, signal: null });
    a.actor.send({ type: 'supervisor.restart', delayMs: 10, reason: 'r' });
    a.clock.increment(10);
    a.actor.send({ type: 'pty.output' });
    a.clock.increment(2000);
    expect(a.state()).toBe('ready');
    expect(a.actor.getSnapshot().context.sidecarDriven).toBe(false);
  });

  it('a hang (heartbeats stopped) stops the run as a failure with cause hang', () => {
    const a = start();
    a.actor.send({ type: 'sidecar.ready' });
    a.actor.send({ type: 'sidecar.hung', silentMs: 30_000 });
    expect(a.state()).toBe('exited');
    expect(a.stops).toHaveLength(1);
    expect(a.actor.getSnapshot().context.exit).toEqual({ code: null, signal: 'SIGTERM', cause: 'hang' });
    expect(a.actor.getSnapshot().context.reason).toMatch(/no sidecar heartbeat for 30000ms/);
  });
});

