/** Messages between the supervisor (main thread) and an agent worker: one union per direction. */
import type { AlertBody, BlockedInfo, InputOutcome, OutputPart } from '../bus/protocol.js';
import type { AgentConfig } from '../config/types.js';
import type { ChartState, ExitCause } from '../machines/agent.js';
import type { AgentProcess } from '../host/process-scan.js';

// The types both sides use live here, so the supervisor imports nothing else from src/agent.

/** One `send` request, queued in the worker's input queue. */
export interface SendRequest {
  readonly id: string;
  readonly text: string;
  /** `wait-idle`: deliver once the agent is ready (idle). `now`: deliver as soon as it runs. */
  readonly mode: 'wait-idle' | 'now';
  readonly timeoutMs: number;
}

/** How a delivery ended (`queued` is only ever an intermediate outcome). */
export type FinalOutcome = Exclude<InputOutcome, 'queued'>;

/** One sidecar line: a valid event, or what was wrong with the line. */
export type SidecarItem =
  | { readonly ok: true; readonly type: string; readonly event: Record<string, unknown> }
  | { readonly ok: false; readonly error: string; readonly excerpt: string; readonly bytes: number };

export interface WorkerInit {
  readonly agent: AgentConfig;
  readonly session: string;
  /** This worker replaces one that crashed (its first run is a restart). */
  readonly replacement: boolean;
  /** The supervisor's run id, stamped on the output messages the worker encodes. */
  readonly runId: string;
  /** The last `output` seq already used for this agent (a replacement worker continues from it). */
  readonly outputSeq: number;
  /** Output bytes of this agent already published in this supervisor run (the next `offset`). */
  readonly outputOffset: number;
  /** The terminal size to start at when it differs from the configured one (its attachers'). */
  readonly size?: { readonly cols: number; readonly rows: number };
}

export type ToWorker =
  /** A new run after `exited` or `stopped`; `reason` is published with its `starting`. */
  | { type: 'agent.start'; reason: string }
  /** Stop the run gracefully (stop keys, signal, grace, SIGKILL); after `exited`, just `stopped`. */
  | { type: 'agent.stop'; reason?: string }
  /** Cut the stop short: SIGKILL the run now. `why` is logged. Nothing to do once it ended. */
  | { type: 'agent.kill'; why: string }
  /**
   * What the supervisor decided after an exit (the chart waits in `exited` meanwhile): sends
   * waiting for the agent to come back keep waiting through `restarting` and fail on `dead`.
   */
  | { type: 'supervisor.state'; to: 'restarting' | 'dead' }
  /** Queue a send; answered by `input.outcome` with the same id. */
  | ({ type: 'input.send' } & SendRequest)
  /** Interrupt (Ctrl-C) or escape: answered by `input.outcome`. */
  | { type: 'input.key'; id: string; data: string }
  /** Attach keystrokes: written in order, never inside a delivery; no answer. */
  | { type: 'input.raw'; data: Uint8Array }
  | { type: 'resize'; cols: number; rows: number }
  /** The newest `bytes` of output: answered by `ring` with the same id. */
  | { type: 'ring.read'; id: string; bytes: number }
  /** The rendered screen (for attach, or as text): answered by `screen` with the same id. */
  | { type: 'screen.read'; id: string; format: ScreenFormat; scrollback: number }
  /** Stop the agent if it runs, flush logs, then report `worker.closed`. */
  | { type: 'worker.shutdown' }
  /** The answer to `procs.scan` with the same id. */
  | { type: 'procs.found'; id: number; found: AgentProcess[] };

/** An agent's identity as a stop sequence asks for its processes (process-scan.ts), sent by value. */
export interface ScanQuery {
  readonly sid: number;
  readonly run?: string | undefined;
  readonly agent?: string | undefined;
  readonly leaderUnreaped: boolean;
}

/**
 * `attach`: what draws the screen with its modes on a terminal of its size; `text`: its lines,
 * plain; `ansi`: its lines with colours.
 */
export type ScreenFormat = 'attach' | 'text' | 'ansi';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type FromWorker =
  /**
   * Raw PTY bytes, in order, already encoded as consecutive bus messages (protocol.encodeOutput)
   * in one buffer, which is transferred, not copied.
   */
  | { type: 'output'; buffer: Uint8Array; parts: readonly OutputPart[] }
  /**
   * The chart's state changed. The chart ends a run at `exited`; the supervisor publishes its own
   * states (`restarting`, `dead`) between these, so it computes each change's `from` itself.
   */
  | { type: 'state'; to: ChartState; reason: string; pid: number | null; blocked?: BlockedInfo }
  /** blocked.after passed (published as an `alert`). */
  | ({ type: 'escalation' } & Omit<AlertBody, 'kind' | 'alert'>)
  | { type: 'spawned'; pid: number }
  /** The run ended (its length is the supervisor's to measure, from `spawned`). */
  | { type: 'exit'; pid: number | null; code: number | null; signal: string | null; cause: ExitCause; screen?: string }
  /** Sidecar lines, in arrival order, batched per turn of the worker's event loop. */
  | { type: 'sidecar'; items: SidecarItem[] }
  | { type: 'input.outcome'; id: string; outcome: FinalOutcome; reason: string }
  /** A send typed and submitted to an agent whose own report will confirm it: published, not final. */
  | { type: 'input.progress'; id: string; outcome: 'delivered'; reason: string }
  /**
   * Recent output: exactly the bytes of every output message up to `seq` (the newest `bytes` of
   * them), so a reader can follow the bus from `seq + 1` without a gap or a repeat.
   */
  | { type: 'ring'; id: string; data: Uint8Array; seq: number; total: number; cols: number; rows: number }
  /**
   * The rendered screen of the output up to `seq`: a reader follows the bus from `seq + 1`. Empty
   * when no run has drawn anything. For attach, `tail`: the end of that output a terminal still
   * holds unfinished (an open escape sequence, part of a UTF-8 character), which the output after
   * `seq` finishes.
   */
  | { type: 'screen'; id: string; data: string; seq: number; cols: number; rows: number; tail?: Uint8Array }
  | { type: 'log'; level: LogLevel; msg: string; fields?: Record<string, unknown> }
  | { type: 'worker.closed' }
  /**
   * The agent's processes, found by the main thread's scan (answered by `procs.found`): one pass
   * over /proc then serves every agent stopping at once. Its handle answers; the supervisor never sees it.
   */
  | { type: 'procs.scan'; id: number; query: ScanQuery };
