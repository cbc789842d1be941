/**
 * The agent lifecycle as an XState v5 chart. Pure: no I/O and no timers of its own
 * (delays run on the actor's injected clock). The PTY is the invoked child actor `pty`,
 * provided by the host (a worker in production, a fake in tests).
 *
 *   live.starting → live.ready ⇄ live.busy      (live.* invokes the PTY)
 *   live.stopping → stopped                     (deliberate: never a crash)
 *   live.aborting → exited                      (ready timeout or hang: a failure)
 *   exited → restarting → live | dead           (the supervisor decides)
 */
import { assign, fromCallback, not, sendTo, setup } from 'xstate';

export interface AgentTiming {
  /** A screen pattern decides readiness; quiet output alone then never does. */
  readonly hasReadyPattern: boolean;
  readonly readyTimeoutMs: number;
  readonly idleAfterMs: number;
  readonly busyAfterMs: number;
  /** A stop still without an exit after this long is lost (see stopDeadlineMs): `killRun` ends it. */
  readonly stopDeadlineMs: number;
}

/** The stop sequence's own bound for "every process is gone after SIGKILL" (src/host/process-group.ts). */
export const KILL_VERIFY_MS = 2000;
/** Slack over the stop sequence's longest honest run before a stop counts as lost. */
export const STOP_MARGIN_MS = 1000;

/**
 * The longest a stop can honestly take: the stop keys' grace (when there are keys), the signal's
 * grace, then SIGKILL and its verification, plus a margin. Past it the stop was lost (a signal sent
 * before the agent's process group existed, a process that outlives SIGKILL): no waiting ends it.
 */
export function stopDeadlineMs(stop: { readonly keys: string | undefined; readonly graceMs: number }): number {
  return (stop.keys ? stop.graceMs : 0) + stop.graceMs + KILL_VERIFY_MS + STOP_MARGIN_MS;
}

export type ExitCause = 'exit' | 'ready-timeout' | 'hang' | 'spawn-failed';

export type AgentEvent =
  | { type: 'pty.spawned'; pid: number }
  | { type: 'pty.output' }
  | { type: 'pty.exit'; code: number | null; signal: string | null }
  | { type: 'pty.failed'; message: string }
  | { type: 'screen.ready' }
  | { type: 'sidecar.ready' }
  | { type: 'sidecar.busy' }
  /** The agent's heartbeats stopped (the host's watchdog): the run is stopped as a failure. */
  | { type: 'sidecar.hung'; silentMs: number }
  /** Input was typed and submitted: the agent has work until it goes quiet again. */
  | { type: 'input.submitted' }
  | { type: 'supervisor.restart'; delayMs: number; reason: string }
  | { type: 'supervisor.giveUp'; reason: string }
  | { type: 'agent.stop' }
  | { type: 'agent.start' };

/** Commands the machine sends to its PTY actor. */
export type PtyCommand = { type: 'pty.stop' };

export interface AgentContext {
  readonly timing: AgentTiming;
  pid: number | null;
  /** Why the last transition happened, for the published state change. */
  reason: string;
  exit: { code: number | null; signal: string | null; cause: ExitCause } | null;
  restartDelayMs: number;
  /** The agent reports ready/busy over its sidecar this run: screen heuristics no longer decide. */
  sidecarDriven: boolean;
  /** Why the run is being aborted (the exit's cause once it ends). */
  abortCause: 'ready-timeout' | 'hang';
}

/** The states users see; `exited` is the moment between an exit and the supervisor's decision. */
export type PublicState =
  | 'starting'
  | 'ready'
  | 'busy'
  | 'stopping'
  | 'stopped'
  | 'exited'
  | 'restarting'
  | 'dead';

/** The states in which the agent's process runs and can take input. */
export const RUNNING_STATES: ReadonlySet<PublicState> = new Set<PublicState>(['starting', 'ready', 'busy']);

/** A parameterised action: records why the transition happened. */
const note = (reason: string) => ({ type: 'note' as const, params: { reason } });

export const agentMachine = setup({
  types: {
    context: {} as AgentContext,
    events: {} as AgentEvent,
    input: {} as AgentTiming,
  },
  actors: {
    // Replaced by the host with `machine.provide`; this default never spawns anything.
    pty: fromCallback<PtyCommand>(() => () => undefined),
  },
  delays: {
    readyTimeout: ({ context }) => context.timing.readyTimeoutMs,
    idleAfter: ({ context }) => context.timing.idleAfterMs,
    busyAfter: ({ context }) => context.timing.busyAfterMs,
    restartDelay: ({ context }) => context.restartDelayMs,
    stopDeadline: ({ context }) => context.timing.stopDeadlineMs,
  },
  actions: {
    note: assign((_, params: { reason: string }) => ({ reason: params.reason })),
    // Provided by the host: SIGKILL the run's leader and group outright. The chart only says when.
    killRun: () => undefined,
  },
  guards: {
    hasReadyPattern: ({ context }) => context.timing.hasReadyPattern,
    sidecarDriven: ({ context }) => context.sidecarDriven,
  },
}).createMachine({
  id: 'agent',
  context: ({ input }) => ({ timing: input, pid: null, reason: 'created', exit: null, restartDelayMs: 0, sidecarDriven: false, abortCause: 'ready-timeout' as const }),
  initial: 'live',
  states: {
    live: {
      entry: assign({ pid: null, exit: null, sidecarDriven: false }),
      invoke: { id: 'pty', src: 'pty' },
      on: {
        'pty.spawned': { actions: assign({ pid: ({ event }) => event.pid }) },
        'pty.exit': {
          target: 'exited',
          actions: assign({
            exit: ({ event }) => ({ code: event.code, signal: event.signal, cause: 'exit' as const }),
            reason: ({ event }) => (event.signal ? `killed by ${event.signal}` : `exit code ${String(event.code)}`),
          }),
        },
        'pty.failed': {
          target: 'exited',
          actions: assign({
            exit: () => ({ code: null, signal: null, cause: 'spawn-failed' as const }),
            reason: ({ event }) => `spawn failed: ${event.message}`,
          }),
        },
        'agent.stop': { target: '.stopping', actions: note('stop requested') },
        'sidecar.hung': {
          target: '.aborting',
          actions: assign({ abortCause: 'hang' as const, reason: ({ event }) => `no sidecar heartbeat for ${event.silentMs}ms (hang)` }),
        },
      },
      initial: 'starting',
      states: {
        starting: {
          after: {
            readyTimeout: {
              target: 'aborting',
              actions: assign({ abortCause: 'ready-timeout' as const, reason: ({ context }) => `not ready after ${context.timing.readyTimeoutMs}ms (ready timeout)` }),
            },
          },
          on: {
            'screen.ready': { target: 'ready', actions: note('ready pattern matched on screen') },
            'sidecar.ready': { target: 'ready', actions: [assign({ sidecarDriven: true }), note('sidecar reported ready')] },
            'sidecar.busy': { target: 'busy', actions: [assign({ sidecarDriven: true }), note('sidecar reported busy')] },
          },
          initial: 'silent',
          states: {
            // No output yet: silence during startup is never readiness.
            silent: {
              on: { 'pty.output': { guard: not('hasReadyPattern'), target: 'settling' } },
            },
            // Output seen and no pattern configured: quiet for idle_after means ready.
            settling: {
              after: { idleAfter: { target: '#agent.live.ready', actions: assign({ reason: ({ context }) => `quiet for ${context.timing.idleAfterMs}ms after start-up output` }) } },
              on: { 'pty.output': { target: 'settling', reenter: true } },
            },
          },
        },
        ready: {
          initial: 'idle',
          on: {
            'sidecar.busy': { target: 'busy', actions: [assign({ sidecarDriven: true }), note('sidecar reported busy')] },
            'sidecar.ready': { actions: assign({ sidecarDriven: true }) },
            'input.submitted': { target: 'busy', actions: note('input submitted') },
          },
          states: {
            // Output makes an agent busy only while its sidecar does not report its state.
            idle: { on: { 'pty.output': { guard: not('sidecarDriven'), target: 'settling' } } },
            // Debounce: one isolated chunk (a cursor blink, a clock redraw) does not make the agent busy;
            // a second one within busy_after does.
            settling: {
              after: { busyAfter: 'idle' },
              on: { 'pty.output': { target: '#agent.live.busy', actions: note('output') } },
            },
          },
        },
        busy: {
          after: { idleAfter: { guard: not('sidecarDriven'), target: 'ready', actions: assign({ reason: ({ context }) => `quiet for ${context.timing.idleAfterMs}ms` }) } },
          on: {
            'pty.output': { target: 'busy', reenter: true },
            'sidecar.ready': { target: 'ready', actions: [assign({ sidecarDriven: true }), note('sidecar reported ready')] },
            'sidecar.busy': { actions: assign({ sidecarDriven: true }) },
          },
        },
        // Both stops are bounded: a stop without an exit by the deadline was lost, and waiting
        // longer would leave the agent here for ever (and `up` with it).
        stopping: {
          entry: sendTo('pty', { type: 'pty.stop' }),
          after: { stopDeadline: { actions: 'killRun' } },
          on: {
            'pty.exit': { target: '#agent.stopped', actions: assign({ reason: ({ event }) => `stopped (${event.signal ? `signal ${event.signal}` : `exit code ${String(event.code)}`})` }) },
            'agent.stop': {},
          },
        },
        aborting: {
          entry: sendTo('pty', { type: 'pty.stop' }),
          after: { stopDeadline: { actions: 'killRun' } },
          on: {
            'pty.exit': {
              target: '#agent.exited',
              actions: assign({ exit: ({ event, context }) => ({ code: event.code, signal: event.signal, cause: context.abortCause }) }),
            },
          },
        },
      },
    },
    exited: {
      on: {
        'supervisor.restart': { target: 'restarting', actions: assign({ restartDelayMs: ({ event }) => event.delayMs, reason: ({ event }) => event.reason }) },
        'supervisor.giveUp': { target: 'dead', actions: assign({ reason: ({ event }) => event.reason }) },
        'agent.stop': { target: 'stopped', actions: note('stop requested') },
      },
    },
    restarting: {
      after: { restartDelay: { target: 'live', actions: note('restart delay elapsed') } },
      on: { 'agent.stop': { target: 'stopped', actions: note('stop requested while waiting to restart') } },
    },
    dead: { on: { 'agent.start': { target: 'live', actions: note('start requested') } } },
    stopped: { on: { 'agent.start': { target: 'live', actions: note('start requested') } } },
  },
});

/** Maps a snapshot's state value to the public state name. */
export function publicState(value: unknown): PublicState {
  if (typeof value === 'string') return value as PublicState;
  if (value && typeof value === 'object' && 'live' in value) {
    const live = (value as { live: unknown }).live;
    const top = typeof live === 'string' ? live : Object.keys(live as object)[0];
    return top === 'aborting' ? 'stopping' : (top as PublicState);
  }
  return 'starting';
}
