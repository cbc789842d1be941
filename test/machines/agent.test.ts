import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, SimulatedClock } from 'xstate';
import type { ScreenVerdict } from '../../src/machines/screen-verdict.js';
import { type AgentTiming, agentMachine, KILL_VERIFY_MS, type PtyCommand, publicState, STOP_MARGIN_MS, stopDeadlineMs } from '../../src/machines/agent.js';

const timing: AgentTiming = { hasReadyPattern: false, hasBusyPattern: false, readyTimeoutMs: 10_000, idleAfterMs: 2000, busyAfterMs: 250, stopDeadlineMs: 13_000, hangTimeoutMs: 30_000, screenHoldMs: 0, blockedAfterMs: 0, blockedThen: 'none' };

/** `loseStops`: the fake PTY ignores stop requests, as when the signal went to a group not made yet. */
function start(t: Partial<AgentTiming> = {}, opts: { loseStops?: boolean } = {}) {
  const escalated: { at: number; on: string | undefined }[] = [];
  const clock = new SimulatedClock();
  const commands: { at: number; cmd: PtyCommand }[] = [];
  let spawns = 0;
  // A fake PTY: counts spawns, records commands, answers a stop request with an exit by SIGTERM.
  const pty = fromCallback<PtyCommand>(({ sendBack, receive }) => {
    spawns++;
    sendBack({ type: 'pty.spawned', pid: 1000 + spawns });
    receive((cmd) => {
      commands.push({ at: clock.now(), cmd });
      if (cmd.type === 'pty.stop' && !opts.loseStops) sendBack({ type: 'pty.exit', code: null, signal: 'SIGTERM' });
    });
    return () => undefined;
  });
  const escalate = ({ context }: { context: { blocked: { on: string } | null } }) => void escalated.push({ at: clock.now(), on: context.blocked?.on });
  const actor = createActor(agentMachine.provide({ actors: { pty }, actions: { escalate } }), { input: { ...timing, ...t }, clock });
  actor.start();
  const state = () => publicState(actor.getSnapshot().value);
  const stops = () => commands.filter((c) => c.cmd.type === 'pty.stop').map((c) => c.at);
  const kills = () => commands.flatMap((c) => (c.cmd.type === 'pty.kill' ? [{ at: c.at, why: c.cmd.why }] : []));
  const aborting = () => actor.getSnapshot().matches({ live: { run: 'aborting' } });
  /** The screen shows `verdict` for as long as a verdict must hold. */
  const screen = (verdict: ScreenVerdict) => {
    actor.send({ type: 'screen.seen', verdict });
    clock.increment(actor.getSnapshot().context.timing.screenHoldMs);
  };
  const readyOnScreen = () => screen({ kind: 'ready', evidence: ['>'] });
  return { actor, clock, state, commands, stops, kills, aborting, screen, readyOnScreen, escalated, spawns: () => spawns };
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
    a.readyOnScreen();
    expect(a.state()).toBe('ready');
  });

  it('ready timeout is a failure: the PTY is stopped and the exit is marked ready-timeout', () => {
    const a = start();
    a.clock.increment(10_000);
    expect(a.stops()).toEqual([10_000]);
    expect(a.state()).toBe('exited');
    expect(a.actor.getSnapshot().context.exit).toEqual({ code: null, signal: 'SIGTERM', cause: 'ready-timeout' });
  });

  it('ready -> busy on sustained output, back to ready after idle_after of quiet', () => {
    const a = start();
    a.readyOnScreen();
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
    a.readyOnScreen();
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
    a.readyOnScreen();
    a.actor.send({ type: 'agent.stop' });
    expect(a.state()).toBe('stopped');
    expect(a.actor.getSnapshot().context.exit).toBeNull();
  });

  it('an exit ends the run at exited: no time passing starts another, only agent.start does', () => {
    const a = start();
    a.actor.send({ type: 'pty.exit', code: 3, signal: null });
    expect(a.state()).toBe('exited');
    expect(a.actor.getSnapshot().context.exit).toEqual({ code: 3, signal: null, cause: 'exit' });
    a.clock.increment(600_000);
    expect([a.state(), a.spawns()]).toEqual(['exited', 1]);
  });

  it('exited + agent.start is a new run: starting with the given reason, the PTY respawned, the last exit cleared', () => {
    const a = start();
    a.actor.send({ type: 'pty.exit', code: 3, signal: null });
    a.actor.send({ type: 'agent.start', reason: 'restart delay elapsed' });
    expect(a.state()).toBe('starting');
    const { reason, exit, pid } = a.actor.getSnapshot().context;
    expect({ reason, exit, pid, spawns: a.spawns() }).toEqual({ reason: 'restart delay elapsed', exit: null, pid: 1002, spawns: 2 });
  });

  it('exited + agent.stop is stopped, without a new run', () => {
    const a = start();
    a.actor.send({ type: 'pty.exit', code: 1, signal: null });
    a.actor.send({ type: 'agent.stop' });
    expect(a.state()).toBe('stopped');
    expect(a.actor.getSnapshot().context.reason).toBe('stop requested');
    expect(a.spawns()).toBe(1);
  });

  it('stopped + agent.start is a new run with the given reason', () => {
    const a = start();
    a.actor.send({ type: 'agent.stop' });
    a.actor.send({ type: 'agent.start', reason: 'start requested' });
    expect(a.state()).toBe('starting');
    expect(a.actor.getSnapshot().context.reason).toBe('start requested');
    expect(a.spawns()).toBe(2);
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
    a.actor.send({ type: 'agent.start', reason: 'r' });
    a.actor.send({ type: 'pty.output' });
    a.clock.increment(2000);
    expect(a.state()).toBe('ready');
    expect(a.actor.getSnapshot().context.sidecarDriven).toBe(false);
  });

  it('a lost stop (the signal found no process group yet) left the agent in stopping for ever: at the stop deadline the PTY is told to kill the run', () => {
    const a = start({}, { loseStops: true });
    a.readyOnScreen();
    a.clock.increment(500);
    a.actor.send({ type: 'agent.stop' });
    a.clock.increment(12_999);
    expect([a.state(), a.kills()]).toEqual(['stopping', []]);
    a.clock.increment(1);
    expect(a.kills()).toEqual([{ at: 13_500, why: 'not stopped 13000ms after the stop began' }]);
    // The kill ends the process; its exit ends the stop as usual.
    a.actor.send({ type: 'pty.exit', code: null, signal: 'SIGKILL' });
    expect(a.state()).toBe('stopped');
    a.clock.increment(60_000);
    expect(a.kills()).toHaveLength(1);
  });

  it('a lost abort (ready timeout whose stop never ends) is killed at the stop deadline too, and still counts as a ready timeout', () => {
    const a = start({ readyTimeoutMs: 1000 }, { loseStops: true });
    a.clock.increment(1000);
    expect(a.state()).toBe('stopping');
    a.clock.increment(13_000);
    expect(a.kills()).toEqual([{ at: 14_000, why: 'not stopped 13000ms after the stop began' }]);
    a.actor.send({ type: 'pty.exit', code: null, signal: 'SIGKILL' });
    expect(a.actor.getSnapshot().context.exit).toEqual({ code: null, signal: 'SIGKILL', cause: 'ready-timeout' });
  });

  it('a stop that ends in time is never escalated', () => {
    const a = start();
    a.readyOnScreen();
    a.actor.send({ type: 'agent.stop' });
    a.clock.increment(60_000);
    expect([a.state(), a.kills()]).toEqual(['stopped', []]);
  });

  it('agent.kill in ready stops the run and kills it at once: the stop request first, the kill right after', () => {
    const a = start({}, { loseStops: true });
    a.readyOnScreen();
    a.clock.increment(700);
    a.actor.send({ type: 'agent.kill', why: 'forced stop' });
    expect(a.state()).toBe('stopping');
    expect(a.actor.getSnapshot().context.reason).toBe('forced stop');
    expect(a.commands).toEqual([
      { at: 700, cmd: { type: 'pty.stop' } },
      { at: 700, cmd: { type: 'pty.kill', why: 'forced stop' } },
    ]);
    a.actor.send({ type: 'pty.exit', code: null, signal: 'SIGKILL' });
    expect(a.state()).toBe('stopped');
  });

  it('agent.kill while stopping kills at once, not at the stop deadline, and does not restart the stop', () => {
    const a = start({}, { loseStops: true });
    a.readyOnScreen();
    a.actor.send({ type: 'agent.stop' });
    a.clock.increment(1_000);
    a.actor.send({ type: 'agent.kill', why: 'second Ctrl-C' });
    expect(a.state()).toBe('stopping');
    expect(a.stops()).toEqual([0]);
    expect(a.kills()).toEqual([{ at: 1_000, why: 'second Ctrl-C' }]);
  });

  it('agent.kill while aborting stays aborting: the exit still counts as the abort cause', () => {
    const a = start({ readyTimeoutMs: 1000 }, { loseStops: true });
    a.clock.increment(1000);
    a.actor.send({ type: 'agent.kill', why: 'forced stop' });
    expect(a.aborting()).toBe(true);
    expect(a.kills()).toEqual([{ at: 1000, why: 'forced stop' }]);
    a.actor.send({ type: 'pty.exit', code: null, signal: 'SIGKILL' });
    expect(a.state()).toBe('exited');
    expect(a.actor.getSnapshot().context.exit?.cause).toBe('ready-timeout');
  });

  it('regression: a forced stop of a run that had already exited was dropped, and the forced shutdown waited for its fallback; agent.kill in exited ends it stopped, killing nothing', () => {
    const a = start();
    a.actor.send({ type: 'pty.exit', code: 1, signal: null });
    a.actor.send({ type: 'agent.kill', why: 'forced stop' });
    expect(a.state()).toBe('stopped');
    a.actor.send({ type: 'agent.kill', why: 'x' });
    expect(a.state()).toBe('stopped');
    expect(a.commands).toEqual([]);
  });

  it('the stop deadline covers the whole stop sequence: keys grace, signal grace, SIGKILL and its check', () => {
    expect(stopDeadlineMs({ keys: undefined, graceMs: 10_000 })).toBe(10_000 + KILL_VERIFY_MS + STOP_MARGIN_MS);
    expect(stopDeadlineMs({ keys: '/exit\r', graceMs: 5000 })).toBe(5000 + 5000 + KILL_VERIFY_MS + STOP_MARGIN_MS);
  });

  describe('hang watchdog', () => {
    it('an agent that never sends a heartbeat is never taken for hung', () => {
      const a = start();
      a.actor.send({ type: 'sidecar.ready' });
      a.clock.increment(600_000);
      expect([a.state(), a.stops()]).toEqual(['ready', []]);
    });

    it('heartbeats closer than the timeout keep the run alive', () => {
      const a = start();
      a.actor.send({ type: 'sidecar.ready' });
      for (let i = 0; i < 20; i++) {
        a.actor.send({ type: 'sidecar.heartbeat' });
        a.clock.increment(29_999);
      }
      expect([a.state(), a.stops()]).toEqual(['ready', []]);
    });

    it('silence after a heartbeat aborts the run with cause hang exactly hangTimeoutMs later', () => {
      const a = start({}, { loseStops: true });
      a.actor.send({ type: 'sidecar.busy' });
      a.clock.increment(1_000);
      a.actor.send({ type: 'sidecar.heartbeat' });
      a.clock.increment(29_999);
      expect(a.state()).toBe('busy');
      a.clock.increment(1);
      expect(a.aborting()).toBe(true);
      expect(a.stops()).toEqual([31_000]);
      expect(a.actor.getSnapshot().context.reason).toBe('no sidecar heartbeat for 30000ms (hang)');
      a.actor.send({ type: 'pty.exit', code: null, signal: 'SIGTERM' });
      expect(a.state()).toBe('exited');
      expect(a.actor.getSnapshot().context.exit).toEqual({ code: null, signal: 'SIGTERM', cause: 'hang' });
    });

    it('a heartbeat while starting arms it too', () => {
      const a = start({ readyTimeoutMs: 60_000 });
      a.actor.send({ type: 'sidecar.heartbeat' });
      a.clock.increment(30_000);
      expect(a.actor.getSnapshot().context.exit?.cause).toBe('hang');
    });

    it('a stop disarms it: a stop slower than the timeout is not also a hang, and later heartbeats do not re-arm it', () => {
      const a = start({ hangTimeoutMs: 5_000 }, { loseStops: true });
      a.actor.send({ type: 'sidecar.ready' });
      a.actor.send({ type: 'sidecar.heartbeat' });
      a.clock.increment(1_000);
      a.actor.send({ type: 'agent.stop' });
      a.actor.send({ type: 'sidecar.heartbeat' });
      a.clock.increment(10_000);
      expect(a.aborting()).toBe(false);
      expect([a.state(), a.stops()]).toEqual(['stopping', [1_000]]);
      expect(a.actor.getSnapshot().context.reason).toBe('stop requested');
    });

    it('an abort disarms it: a ready timeout whose stop is slow is not also a hang, and keeps its cause', () => {
      const a = start({ readyTimeoutMs: 1_000, hangTimeoutMs: 5_000 }, { loseStops: true });
      a.actor.send({ type: 'sidecar.heartbeat' });
      a.clock.increment(1_000);
      a.clock.increment(9_000);
      expect(a.stops()).toEqual([1_000]);
      a.actor.send({ type: 'pty.exit', code: null, signal: 'SIGTERM' });
      expect(a.actor.getSnapshot().context.exit?.cause).toBe('ready-timeout');
    });

    it('a new run starts disarmed: the last run\'s heartbeat does not time the next one out', () => {
      const a = start();
      a.actor.send({ type: 'sidecar.ready' });
      a.actor.send({ type: 'sidecar.heartbeat' });
      a.clock.increment(1_000);
      a.actor.send({ type: 'pty.exit', code: 1, signal: null });
      a.actor.send({ type: 'agent.start', reason: 'restart delay elapsed' });
      a.actor.send({ type: 'sidecar.ready' });
      a.clock.increment(600_000);
      expect([a.state(), a.spawns()]).toEqual(['ready', 2]);
    });

    it('hangTimeoutMs 0 turns it off', () => {
      const a = start({ hangTimeoutMs: 0 });
      a.actor.send({ type: 'sidecar.ready' });
      a.actor.send({ type: 'sidecar.heartbeat' });
      a.clock.increment(600_000);
      expect([a.state(), a.stops()]).toEqual(['ready', []]);
    });
  });

  describe('blocked (a dialog waiting for a human)', () => {
    const trust: ScreenVerdict = { kind: 'blocked', on: 'trust', evidence: ['Do you trust the files in this folder?'] };
    const permission: ScreenVerdict = { kind: 'blocked', on: 'permission', evidence: ['Do you want to proceed?'] };
    const none: ScreenVerdict = { kind: 'none' };
    const held = { screenHoldMs: 300 };

    it('a screen verdict counts only once it has held: a trust dialog makes a starting agent blocked, with the evidence', () => {
      const a = start({ ...held, hasReadyPattern: true });
      a.actor.send({ type: 'screen.seen', verdict: trust });
      a.clock.increment(299);
      expect(a.state()).toBe('starting');
      a.clock.increment(1);
      expect(a.state()).toBe('blocked');
      expect(a.actor.getSnapshot().context.blocked).toMatchObject({ on: 'trust', evidence: ['Do you trust the files in this folder?'], source: 'screen' });
      expect(a.actor.getSnapshot().context.reason).toBe('blocked on trust: Do you trust the files in this folder?');
    });

    it('regression: an input box drawn for one frame before a login screen (codex, ~260 ms) made the agent ready; it is blocked on login', () => {
      const a = start({ ...held, hasReadyPattern: true });
      a.actor.send({ type: 'screen.seen', verdict: { kind: 'ready', evidence: ['› Ask Codex to do anything'] } });
      a.clock.increment(260);
      a.actor.send({ type: 'screen.seen', verdict: { kind: 'blocked', on: 'login', evidence: ['Sign in with ChatGPT'] } });
      a.clock.increment(300);
      expect(a.state()).toBe('blocked');
      expect(a.actor.getSnapshot().context.blocked?.on).toBe('login');
    });

    it('regression: a CLI waiting on its trust dialog ended in a ready-timeout restart loop; blocked, the ready timeout does not run, and it starts over once the dialog is gone', () => {
      const a = start({ ...held, hasReadyPattern: true });
      a.screen(trust);
      a.clock.increment(60_000);
      expect(a.state()).toBe('blocked');
      expect(a.stops()).toEqual([]);
      a.screen(none);
      expect(a.state()).toBe('starting');
      a.clock.increment(9_000);
      a.readyOnScreen();
      expect(a.state()).toBe('ready');
    });

    it('a permission prompt while busy: blocked, then back where it was once answered; a dialog gone to the idle screen is ready', () => {
      const a = start({ ...held, hasReadyPattern: true });
      a.readyOnScreen();
      a.actor.send({ type: 'input.submitted' });
      expect(a.state()).toBe('busy');
      a.screen(permission);
      expect(a.state()).toBe('blocked');
      // Output and quiet change nothing while blocked.
      a.actor.send({ type: 'pty.output' });
      a.clock.increment(10_000);
      expect(a.state()).toBe('blocked');
      a.screen(none);
      expect(a.state()).toBe('busy');
      a.screen(permission);
      a.readyOnScreen();
      expect(a.state()).toBe('ready');
    });

    it('another dialog while blocked is news: the kind and evidence change', () => {
      const a = start(held);
      a.screen(trust);
      a.screen(permission);
      expect(a.actor.getSnapshot().context.blocked?.on).toBe('permission');
    });

    it('a block the sidecar reported is not ended by a screen without evidence, but by its word or by the idle box coming back', () => {
      const a = start({ ...held, hasReadyPattern: true });
      a.actor.send({ type: 'sidecar.blocked', on: 'permission', evidence: ['Claude needs your permission to use Bash'] });
      expect(a.state()).toBe('blocked');
      a.screen(none);
      expect(a.state()).toBe('blocked');
      a.actor.send({ type: 'sidecar.busy' });
      expect(a.state()).toBe('busy');
      // Declined with Esc, claude runs no hook: the idle box back on screen ends it.
      a.actor.send({ type: 'sidecar.blocked', on: 'permission', evidence: [] });
      a.readyOnScreen();
      expect(a.state()).toBe('ready');
    });

    it('regression: with hooks, the screen was ignored (a login screen showed as ready); a dialog on screen blocks a sidecar-driven run, and the sidecar does not end it while it shows', () => {
      const a = start(held);
      a.actor.send({ type: 'sidecar.ready' });
      a.screen(trust);
      expect(a.state()).toBe('blocked');
      a.actor.send({ type: 'sidecar.ready' });
      expect(a.state()).toBe('blocked');
      a.screen(none);
      a.actor.send({ type: 'sidecar.ready' });
      expect(a.state()).toBe('ready');
    });

    it('blocked, the hang watchdog is disarmed: waiting for a human is not a hang', () => {
      const a = start({ ...held, hangTimeoutMs: 1000 });
      a.actor.send({ type: 'sidecar.ready' });
      a.actor.send({ type: 'sidecar.heartbeat' });
      a.actor.send({ type: 'sidecar.blocked', on: 'question', evidence: [] });
      a.clock.increment(60_000);
      expect(a.state()).toBe('blocked');
      expect(a.stops()).toEqual([]);
    });

    it('escalation: after blocked.after the host is told once, with what the agent is blocked on; the run stays blocked', () => {
      const a = start({ ...held, blockedAfterMs: 600_000, blockedThen: 'none' });
      a.actor.send({ type: 'sidecar.blocked', on: 'permission', evidence: [] });
      const since = a.clock.now();
      a.clock.increment(599_999);
      expect(a.escalated).toEqual([]);
      a.clock.increment(1);
      expect(a.escalated).toEqual([{ at: since + 600_000, on: 'permission' }]);
      a.clock.increment(600_000);
      expect([a.state(), a.escalated.length]).toEqual(['blocked', 1]);
    });

    it('escalation with then: restart ends the run as a failure with cause blocked, the host told first', () => {
      const a = start({ ...held, blockedAfterMs: 600_000, blockedThen: 'restart' });
      a.screen(permission);
      a.clock.increment(600_000);
      expect(a.escalated.map((e) => e.on)).toEqual(['permission']);
      expect(a.state()).toBe('exited');
      expect(a.actor.getSnapshot().context.exit).toMatchObject({ cause: 'blocked' });
      expect(a.actor.getSnapshot().context.reason).toMatch(/^stopped|blocked on permission for 600000ms/);
    });
  });
});
