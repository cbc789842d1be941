/**
 * One run of an agent as an XState v5 chart. Pure: no I/O and no timers of its own (delays run on
 * the actor's injected clock). The PTY is the invoked child actor `pty`, provided by the host (a
 * worker in production, a fake in tests).
 *
 *   live.run: starting → ready ⇄ busy           (live invokes the PTY)
 *   live.run: starting | ready | busy → blocked  (a dialog waits for a human: permission, login, …)
 *   live.run: stopping → stopped                (deliberate: never a crash)
 *   live.run: aborting → exited                 (ready timeout or hang: a failure)
 *   live.watchdog: unarmed ⇄ armed              (hang detection, beside the run)
 *   live.screen: steady ⇄ holding               (a screen verdict counts once it has held)
 *   exited | stopped → live on agent.start      (whether and when is the supervisor's decision)
 */
import { and, assign, fromCallback, not, or, raise, sendTo, setup, stateIn, type StateValue, type StateValueMap } from 'xstate';
import type { AgentConfig, BlockedKind } from '../config/types.js';
import type { ExitCause } from './exit.js';
import { NO_VERDICT, sameVerdict, type ScreenVerdict } from './screen-verdict.js';

export type { ExitCause } from './exit.js';
export type { BlockedKind };

export interface AgentTiming {
  /** A screen pattern decides readiness; quiet output alone then never does. */
  readonly hasReadyPattern: boolean;
  /**
   * With a busy pattern too, the screen decides between ready and busy after start-up (output no
   * longer makes the agent busy; quiet makes it ready only while the screen says ready).
   */
  readonly hasBusyPattern: boolean;
  readonly readyTimeoutMs: number;
  readonly idleAfterMs: number;
  readonly busyAfterMs: number;
  /** A stop still without an exit after this long is lost (see stopDeadlineMs): the PTY is told to kill the run. */
  readonly stopDeadlineMs: number;
  /** Sidecar silence, once the run has sent a heartbeat, that counts as a hang; 0 turns the watchdog off. */
  readonly hangTimeoutMs: number;
  /** How long a screen verdict (blocked, ready) must hold before it counts. */
  readonly screenHoldMs: number;
  /** Blocked this long → the escalation (0: never). */
  readonly blockedAfterMs: number;
  /** What the escalation does besides telling: nothing, an interrupt, or ending the run (a failure). */
  readonly blockedThen: 'none' | 'interrupt' | 'restart';
}

/** What a blocked agent waits for a human on, as published (`state` with `to: blocked`). */
export interface BlockedInfo {
  readonly on: BlockedKind;
  /** The screen lines (or the sidecar's words) that say so. */
  readonly evidence: readonly string[];
  /** When a usage limit ends, as the agent shows it ("5am (Europe/Paris)"). */
  readonly resets?: string;
}

/** What the agent is blocked on, how that is known, and where the run goes back to once it is not. */
export interface Blocked extends BlockedInfo {
  /** Sidecar (hooks) outrank the screen: a screen verdict does not end a block the sidecar reported. */
  readonly source: 'screen' | 'sidecar';
  readonly resumeTo: 'starting' | 'ready' | 'busy';
}

/** The chart's timing for an agent as configured (its host may change what a test needs). */
export function agentTiming(agent: AgentConfig): AgentTiming {
  return {
    hasReadyPattern: agent.readyPattern !== undefined,
    hasBusyPattern: agent.busyPattern !== undefined,
    readyTimeoutMs: agent.readyTimeoutMs,
    idleAfterMs: agent.idleAfterMs,
    busyAfterMs: agent.busyAfterMs,
    stopDeadlineMs: stopDeadlineMs(agent.stop),
    hangTimeoutMs: agent.sidecar.hangTimeoutMs,
    screenHoldMs: agent.blocked.holdMs,
    blockedAfterMs: agent.blocked.afterMs,
    blockedThen: agent.blocked.then,
  };
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

export type AgentEvent =
  | { type: 'pty.spawned'; pid: number }
  | { type: 'pty.output' }
  | { type: 'pty.exit'; code: number | null; signal: string | null }
  | { type: 'pty.failed'; message: string }
  /** The screen's verdict changed (the worker's classifier); it counts once it has held. */
  | { type: 'screen.seen'; verdict: ScreenVerdict }
  /** A verdict held for screenHoldMs (raised by the chart itself). */
  | { type: 'screen.settled'; verdict: ScreenVerdict }
  /** The agent (its hooks) says it waits for a human. */
  | { type: 'sidecar.blocked'; on: BlockedKind; evidence: readonly string[] }
  | { type: 'sidecar.ready' }
  | { type: 'sidecar.busy' }
  /** The agent's sidecar said it is alive (a `heartbeat` or `progress` item): the watchdog is re-armed. */
  | { type: 'sidecar.heartbeat' }
  /** Input was typed and submitted: the agent has work until it goes quiet again. */
  | { type: 'input.submitted' }
  /** `reason` is published with `stopping` (default: "stop requested"). */
  | { type: 'agent.stop'; reason?: string }
  /** Skip what is left of the graceful stop: SIGKILL the run now. */
  | { type: 'agent.kill'; why: string }
  /** A new run; `reason` is published with it (the supervisor's, e.g. "restart delay elapsed"). */
  | { type: 'agent.start'; reason: string };

/** Commands the machine sends to its PTY actor. */
export type PtyCommand = { type: 'pty.stop' } | { type: 'pty.kill'; why: string };

export interface AgentContext {
  readonly timing: AgentTiming;
  pid: number | null;
  /** Why the last transition happened, for the published state change. */
  reason: string;
  exit: { code: number | null; signal: string | null; cause: ExitCause; screen?: string } | null;
  /** The agent reports ready/busy over its sidecar this run: screen heuristics no longer decide. */
  sidecarDriven: boolean;
  /** Why the run is being aborted (the exit's cause once it ends). */
  abortCause: 'ready-timeout' | 'hang' | 'blocked';
  /** The run's latest block: what it is on while in `blocked`. */
  blocked: Blocked | null;
  /** The screen verdict that counts, and the one waiting to (equal when none is). */
  screen: { settled: ScreenVerdict; candidate: ScreenVerdict };
}

/** The states this chart produces: a run, and how it ended. */
export type ChartState = 'starting' | 'ready' | 'busy' | 'blocked' | 'stopping' | 'stopped' | 'exited';

/**
 * The states users see. The chart (in the agent's worker) produces the ChartState ones; after an
 * `exited`, the supervisor publishes its decision itself: `restarting` (waiting out the delay) or
 * `dead` (it gave up), then starts a new run or stops the agent.
 */
export type PublicState = ChartState | 'restarting' | 'dead';

/** The states in which the agent's process runs and can take input. */
export const RUNNING_STATES: ReadonlySet<PublicState> = new Set<PublicState>(['starting', 'ready', 'busy', 'blocked']);

/** The blocked signature on screen as the run ends, settled or not yet (shown too briefly to count). */
function lastWords(context: AgentContext): { screen?: string } {
  for (const v of [context.screen.candidate, context.screen.settled]) {
    if (v.kind === 'blocked' && v.evidence[0]) return { screen: v.evidence[0] };
  }
  return {};
}

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
    stopDeadline: ({ context }) => context.timing.stopDeadlineMs,
    hangTimeout: ({ context }) => context.timing.hangTimeoutMs,
    // A busy signature counts at once: it is not what a transient frame fakes (an input box is).
    screenHold: ({ context }) => (context.screen.candidate.kind === 'busy' ? 0 : context.timing.screenHoldMs),
    blockedAfter: ({ context }) => context.timing.blockedAfterMs,
  },
  actions: {
    note: assign((_, params: { reason: string }) => ({ reason: params.reason })),
    killPty: sendTo('pty', (_, params: { why: string }) => ({ type: 'pty.kill' as const, why: params.why })),
    /** Provided by the host: the block lasted blocked.after; tell, and interrupt if so configured. */
    escalate: () => undefined,
    candidate: assign({ screen: ({ context, event }) => ({ settled: context.screen.settled, candidate: (event as Extract<AgentEvent, { type: 'screen.seen' }>).verdict }) }),
    /** The same verdict redrawn: the newest evidence, nothing else. */
    keepEvidence: assign(({ context, event }) => {
      const v = (event as Extract<AgentEvent, { type: 'screen.seen' }>).verdict;
      return { screen: { settled: v, candidate: v }, ...(context.blocked?.source === 'screen' && v.kind === 'blocked' ? { blocked: { ...context.blocked, evidence: v.evidence } } : {}) };
    }),
    // `from`: the run state the block interrupts (undefined: already blocked, another dialog).
    blockOnScreen: assign(({ context, event }, params: { from: Blocked['resumeTo'] | undefined }) => {
      const v = (event as Extract<AgentEvent, { type: 'screen.settled' }>).verdict;
      if (v.kind !== 'blocked') return {};
      const resumeTo = params.from ?? context.blocked?.resumeTo ?? 'starting';
      return { blocked: { on: v.on, evidence: v.evidence, ...(v.resets ? { resets: v.resets } : {}), source: 'screen' as const, resumeTo }, reason: `blocked on ${v.on}: ${v.evidence[0] ?? ''}`.trimEnd() };
    }),
    blockOnSidecar: assign(({ context, event }, params: { from: Blocked['resumeTo'] | undefined }) => {
      const e = event as Extract<AgentEvent, { type: 'sidecar.blocked' }>;
      const resumeTo = params.from ?? context.blocked?.resumeTo ?? 'starting';
      return { sidecarDriven: true, blocked: { on: e.on, evidence: e.evidence, source: 'sidecar' as const, resumeTo }, reason: `sidecar reported blocked on ${e.on}` };
    }),
  },
  guards: {
    hasReadyPattern: ({ context }) => context.timing.hasReadyPattern,
    sidecarDriven: ({ context }) => context.sidecarDriven,
    running: or([stateIn('#agent.live.run.starting'), stateIn('#agent.live.run.ready'), stateIn('#agent.live.run.busy')]),
    watched: and([({ context }) => context.timing.hangTimeoutMs > 0, 'running']),
    verdictBlocked: ({ event }) => event.type === 'screen.settled' && event.verdict.kind === 'blocked',
    verdictReady: ({ event }) => event.type === 'screen.settled' && event.verdict.kind === 'ready',
    verdictBusy: ({ event }) => event.type === 'screen.settled' && event.verdict.kind === 'busy',
    /** The screen (a busy and a ready signature) decides between ready and busy, unless the sidecar does. */
    screenDriven: ({ context }) => context.timing.hasReadyPattern && context.timing.hasBusyPattern && !context.sidecarDriven,
    screenSaysReady: ({ context }) => context.screen.settled.kind === 'ready',
    screenShowsDialog: ({ context }) => context.screen.settled.kind === 'blocked',
    blockedByScreen: ({ context }) => context.blocked?.source === 'screen',
    resumesTo: ({ context }, to: Blocked['resumeTo']) => context.blocked?.resumeTo === to,
    escalates: ({ context }) => context.timing.blockedAfterMs > 0,
    restartsWhenBlocked: ({ context }) => context.timing.blockedThen === 'restart',
  },
}).createMachine({
  id: 'agent',
  context: ({ input }) => ({
    timing: input,
    pid: null,
    reason: 'created',
    exit: null,
    sidecarDriven: false,
    abortCause: 'ready-timeout' as const,
    blocked: null,
    screen: { settled: NO_VERDICT, candidate: NO_VERDICT },
  }),
  initial: 'live',
  states: {
    live: {
      type: 'parallel',
      entry: assign({ pid: null, exit: null, sidecarDriven: false, blocked: null, screen: { settled: NO_VERDICT, candidate: NO_VERDICT } }),
      invoke: { id: 'pty', src: 'pty' },
      on: {
        'pty.spawned': { actions: assign({ pid: ({ event }) => event.pid }) },
        'pty.exit': {
          target: 'exited',
          actions: assign({
            exit: ({ event, context }) => ({ code: event.code, signal: event.signal, cause: 'exit' as const, ...lastWords(context) }),
            reason: ({ event, context }) => {
              const how = event.signal ? `killed by ${event.signal}` : `exit code ${String(event.code)}`;
              const { screen } = lastWords(context);
              return screen ? `${how} (screen: ${screen})` : how;
            },
          }),
        },
        'pty.failed': {
          target: 'exited',
          actions: assign({
            exit: () => ({ code: null, signal: null, cause: 'spawn-failed' as const }),
            reason: ({ event }) => `spawn failed: ${event.message}`,
          }),
        },
        'agent.stop': { target: '.run.stopping', actions: assign({ reason: ({ event }) => event.reason ?? 'stop requested' }) },
        // Raised again so that stopping handles it: the PTY gets its stop request (stopping's entry)
        // first, and the kill cuts it short.
        'agent.kill': { target: '.run.stopping', actions: [assign({ reason: ({ event }) => event.why }), raise(({ event }) => event)] },
      },
      states: {
        run: {
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
                'screen.settled': [
                  { guard: 'verdictBlocked', target: 'blocked', actions: { type: 'blockOnScreen', params: { from: 'starting' as const } } },
                  { guard: 'verdictReady', target: 'ready', actions: note('ready pattern matched on screen') },
                ],
                'sidecar.blocked': { target: 'blocked', actions: { type: 'blockOnSidecar', params: { from: 'starting' as const } } },
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
                  after: { idleAfter: { target: '#agent.live.run.ready', actions: assign({ reason: ({ context }) => `quiet for ${context.timing.idleAfterMs}ms after start-up output` }) } },
                  on: { 'pty.output': { target: 'settling', reenter: true } },
                },
              },
            },
            ready: {
              initial: 'idle',
              on: {
                'screen.settled': [
                  { guard: 'verdictBlocked', target: 'blocked', actions: { type: 'blockOnScreen', params: { from: 'ready' as const } } },
                  { guard: and(['verdictBusy', 'screenDriven']), target: 'busy', actions: note('busy signature on screen') },
                ],
                'sidecar.blocked': { target: 'blocked', actions: { type: 'blockOnSidecar', params: { from: 'ready' as const } } },
                'sidecar.busy': { target: 'busy', actions: [assign({ sidecarDriven: true }), note('sidecar reported busy')] },
                'sidecar.ready': { actions: assign({ sidecarDriven: true }) },
                'input.submitted': { target: 'busy', actions: note('input submitted') },
              },
              states: {
                // Output makes an agent busy only while its sidecar does not report its state.
                idle: { on: { 'pty.output': { guard: and([not('sidecarDriven'), not('screenDriven')]), target: 'settling' } } },
                // Debounce: one isolated chunk (a cursor blink, a clock redraw) does not make the agent busy;
                // a second one within busy_after does.
                settling: {
                  after: { busyAfter: 'idle' },
                  on: { 'pty.output': { target: '#agent.live.run.busy', actions: note('output') } },
                },
              },
            },
            busy: {
              // Screen-driven, quiet counts only while the screen shows the idle box (a turn may end
              // without its busy signature ever holding long enough to be seen).
              after: {
                idleAfter: {
                  guard: and([not('sidecarDriven'), or([not('screenDriven'), 'screenSaysReady'])]),
                  target: 'ready',
                  actions: assign({ reason: ({ context }) => `quiet for ${context.timing.idleAfterMs}ms` }),
                },
              },
              on: {
                'pty.output': { target: 'busy', reenter: true },
                'screen.settled': [
                  { guard: 'verdictBlocked', target: 'blocked', actions: { type: 'blockOnScreen', params: { from: 'busy' as const } } },
                  { guard: and(['verdictReady', 'screenDriven']), target: 'ready', actions: note('the idle screen is back') },
                ],
                'sidecar.blocked': { target: 'blocked', actions: { type: 'blockOnSidecar', params: { from: 'busy' as const } } },
                'sidecar.ready': { target: 'ready', actions: [assign({ sidecarDriven: true }), note('sidecar reported ready')] },
                'sidecar.busy': { actions: assign({ sidecarDriven: true }) },
              },
            },
            // Waiting for a human: never ready (input would be typed into the dialog), never taken
            // for hung or timed out; quiet and output change nothing. It ends when what said so —
            // the screen or the sidecar — says otherwise; the sidecar outranks the screen.
            // `context.blocked` says on what while here (and is kept after, until the next block or run).
            blocked: {
              after: {
                blockedAfter: [
                  {
                    guard: and(['escalates', 'restartsWhenBlocked']),
                    target: 'aborting',
                    actions: ['escalate', assign({ abortCause: 'blocked' as const, reason: ({ context }) => `blocked on ${context.blocked?.on ?? '?'} for ${context.timing.blockedAfterMs}ms` })],
                  },
                  { guard: 'escalates', actions: 'escalate' },
                ],
              },
              on: {
                'screen.settled': [
                  { guard: 'verdictBlocked', actions: { type: 'blockOnScreen', params: { from: undefined } } },
                  // The idle box back on screen ends any block (a prompt declined with Esc reports no hook).
                  { guard: 'verdictReady', target: 'ready', actions: note('the dialog is gone: ready pattern on screen') },
                  { guard: and(['verdictBusy', 'blockedByScreen']), target: 'busy', actions: note('the dialog is gone: busy signature on screen') },
                  { guard: and(['blockedByScreen', { type: 'resumesTo', params: 'starting' as const }]), target: 'starting', actions: note('the dialog is gone') },
                  { guard: and(['blockedByScreen', { type: 'resumesTo', params: 'ready' as const }]), target: 'ready', actions: note('the dialog is gone') },
                  { guard: 'blockedByScreen', target: 'busy', actions: note('the dialog is gone') },
                ],
                'sidecar.blocked': { actions: { type: 'blockOnSidecar', params: { from: undefined } } },
                // While the screen still shows the dialog, the sidecar's word does not end the block.
                'sidecar.ready': { guard: not('screenShowsDialog'), target: 'ready', actions: [assign({ sidecarDriven: true }), note('sidecar reported ready')] },
                'sidecar.busy': { guard: not('screenShowsDialog'), target: 'busy', actions: [assign({ sidecarDriven: true }), note('sidecar reported busy')] },
              },
            },
            // Both stops are bounded: a stop without an exit by the deadline was lost, and waiting
            // longer would leave the agent here for ever (and `up` with it).
            stopping: {
              entry: sendTo('pty', { type: 'pty.stop' }),
              after: { stopDeadline: { actions: { type: 'killPty', params: ({ context }) => ({ why: `not stopped ${context.timing.stopDeadlineMs}ms after the stop began` }) } } },
              on: {
                'pty.exit': { target: '#agent.stopped', actions: assign({ reason: ({ event }) => `stopped (${event.signal ? `signal ${event.signal}` : `exit code ${String(event.code)}`})` }) },
                'agent.stop': {},
                'agent.kill': { actions: { type: 'killPty', params: ({ event }) => ({ why: event.why }) } },
              },
            },
            aborting: {
              entry: sendTo('pty', { type: 'pty.stop' }),
              after: { stopDeadline: { actions: { type: 'killPty', params: ({ context }) => ({ why: `not stopped ${context.timing.stopDeadlineMs}ms after the stop began` }) } } },
              on: {
                'pty.exit': {
                  target: '#agent.exited',
                  actions: assign({ exit: ({ event, context }) => ({ code: event.code, signal: event.signal, cause: context.abortCause }) }),
                },
                'agent.kill': { actions: { type: 'killPty', params: ({ event }) => ({ why: event.why }) } },
              },
            },
          },
        },
        watchdog: {
          initial: 'unarmed',
          states: {
            // Until the run's first heartbeat: an agent that sends none is never taken for hung.
            unarmed: { on: { 'sidecar.heartbeat': { guard: 'watched', target: 'armed' } } },
            armed: {
              // A run that is ending cannot hang any more: its stop has its own deadline.
              always: { guard: not('running'), target: 'unarmed' },
              after: {
                hangTimeout: {
                  target: '#agent.live.run.aborting',
                  actions: assign({ abortCause: 'hang' as const, reason: ({ context }) => `no sidecar heartbeat for ${context.timing.hangTimeoutMs}ms (hang)` }),
                },
              },
              on: { 'sidecar.heartbeat': { target: 'armed', reenter: true } },
            },
          },
        },
        // A verdict counts once it has held screenHoldMs: a frame drawn in passing (codex draws its
        // input box for ~260 ms before its login screen) decides nothing.
        screen: {
          initial: 'steady',
          states: {
            steady: {
              on: {
                'screen.seen': [
                  { guard: ({ context, event }) => sameVerdict(event.verdict, context.screen.settled), actions: 'keepEvidence' },
                  { target: 'holding', actions: 'candidate' },
                ],
              },
            },
            holding: {
              after: {
                screenHold: {
                  target: 'steady',
                  actions: [assign({ screen: ({ context }) => ({ settled: context.screen.candidate, candidate: context.screen.candidate }) }), raise(({ context }) => ({ type: 'screen.settled' as const, verdict: context.screen.candidate }))],
                },
              },
              on: {
                'screen.seen': [
                  { guard: ({ context, event }) => sameVerdict(event.verdict, context.screen.settled), target: 'steady', actions: 'keepEvidence' },
                  { guard: ({ context, event }) => sameVerdict(event.verdict, context.screen.candidate), actions: 'candidate' },
                  { target: 'holding', reenter: true, actions: 'candidate' },
                ],
              },
            },
          },
        },
      },
    },
    exited: {
      on: {
        'agent.start': { target: 'live', actions: assign({ reason: ({ event }) => event.reason }) },
        'agent.stop': { target: 'stopped', actions: assign({ reason: ({ event }) => event.reason ?? 'stop requested' }) },
        // The run is over already: nothing to kill, and a forced stop must not wait on it.
        'agent.kill': { target: 'stopped', actions: assign({ reason: ({ event }) => event.why }) },
      },
    },
    stopped: { on: { 'agent.start': { target: 'live', actions: assign({ reason: ({ event }) => event.reason }) } } },
  },
});

/** Maps a snapshot's state value to the public state name. */
export function publicState(value: StateValue): ChartState {
  if (typeof value === 'string') return value as ChartState;
  const run = (value.live as StateValueMap | undefined)?.run;
  const top = typeof run === 'string' ? run : Object.keys(run ?? {})[0];
  return top === 'aborting' ? 'stopping' : (top as ChartState);
}
