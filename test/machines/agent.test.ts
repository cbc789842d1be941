import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, SimulatedClock } from 'xstate';
import { type AgentTiming, agentMachine, KILL_VERIFY_MS, type PtyCommand, publicState, STOP_MARGIN_MS, stopDeadlineMs } from '../../src/machines/agent.js';

const timing: AgentTiming = { hasReadyPattern: false, readyTimeoutMs: 10_000, idleAfterMs: 2000, busyAfterMs: 250, stopDeadlineMs: 13_000 };

/** `loseStops`: the fake PTY ignores stop requests, as when the signal went to a group not made yet. */
function start(t: Partial<AgentTiming> = {}, opts: { loseStops?: boolean } = {}) {
  const clock = new SimulatedClock();
  const stops: number[] = [];
  const kills: { at: number; pid: number | null }[] = [];
  let spawns = 0;
  // A fake PTY: counts spawns, answers a stop request with an exit by SIGTERM.
  const pty = fromCallback<PtyCommand>(({ sendBack, receive }) => {
    spawns++;
    sendBack({ type: 'pty.spawned', pid: 1000 + spawns });
    receive((cmd) => {
      if (cmd.type === 'pty.stop') {
        stops.push(clock.now());
        if (!opts.loseStops) sendBack({ type: 'pty.exit', code: null, signal: 'SIGTERM' });
      }
    });
    return () => undefined;
  });
  const killRun = ({ context }: { context: { pid: number | null } }) => {
    kills.push({ at: clock.now(), pid: context.pid });
  };
  const actor = createActor(agentMachine.provide({ actors: { pty }, actions: { killRun } }), { input: { ...timing, ...t }, clock });
  actor.start();
  const state = () => publicState(actor.getSnapshot().value);
  return { actor, clock, state, stops, kills, spawns: () => spawns };
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

  it('a lost stop (the signal found no process group yet) left the agent in stopping for ever: at the stop deadline the run is killed outright', () => {
    const a = start({}, { loseStops: true });
    a.actor.send({ type: 'screen.ready' });
    a.clock.increment(500);
    a.actor.send({ type: 'agent.stop' });
    a.clock.increment(12_999);
    expect([a.state(), a.kills]).toEqual(['stopping', []]);
    a.clock.increment(1);
    expect(a.kills).toEqual([{ at: 13_500, pid: 1001 }]);
    // The kill ends the process; its exit ends the stop as usual.
    a.actor.send({ type: 'pty.exit', code: null, signal: 'SIGKILL' });
    expect(a.state()).toBe('stopped');
    a.clock.increment(60_000);
    expect(a.kills).toHaveLength(1);
  });

  it('a lost abort (ready timeout whose stop never ends) is killed at the stop deadline too, and still counts as a ready timeout', () => {
    const a = start({ readyTimeoutMs: 1000 }, { loseStops: true });
    a.clock.increment(1000);
    expect(a.state()).toBe('stopping');
    a.clock.increment(13_000);
    expect(a.kills).toEqual([{ at: 14_000, pid: 1001 }]);
    a.actor.send({ type: 'pty.exit', code: null, signal: 'SIGKILL' });
    expect(a.actor.getSnapshot().context.exit).toEqual({ code: null, signal: 'SIGKILL', cause: 'ready-timeout' });
  });

  it('a stop that ends in time is never escalated', () => {
    const a = start();
    a.actor.send({ type: 'screen.ready' });
    a.actor.send({ type: 'agent.stop' });
    a.clock.increment(60_000);
    expect([a.state(), a.kills]).toEqual(['stopped', []]);
  });

  it('the stop deadline covers the whole stop sequence: keys grace, signal grace, SIGKILL and its check', () => {
    expect(stopDeadlineMs({ keys: undefined, graceMs: 10_000 })).toBe(10_000 + KILL_VERIFY_MS + STOP_MARGIN_MS);
    expect(stopDeadlineMs({ keys: '/exit\r', graceMs: 5000 })).toBe(5000 + 5000 + KILL_VERIFY_MS + STOP_MARGIN_MS);
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

