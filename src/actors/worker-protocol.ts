/** Messages between the supervisor (main thread) and an agent worker: one union per direction. */
import type { AgentConfig } from '../config/types.js';
import type { ExitCause, PublicState } from '../machines/agent.js';

export interface WorkerInit {
  readonly agent: AgentConfig;
  readonly session: string;
  readonly stateDir: string;
  /** 1 for the agent's first worker, +1 for each replacement after a worker crash. */
  readonly generation: number;
}

export type ToWorker =
  | { type: 'supervisor.restart'; delayMs: number; reason: string }
  | { type: 'supervisor.giveUp'; reason: string }
  | { type: 'agent.stop' }
  | { type: 'agent.start' }
  /** Stop the agent if it runs, flush logs, then report `worker.closed`. */
  | { type: 'worker.shutdown' };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type FromWorker =
  /** Raw PTY bytes, in order; `data` is transferred, not copied. */
  | { type: 'output'; data: Uint8Array }
  | { type: 'state'; from: PublicState | null; to: PublicState; reason: string; pid: number | null }
  | { type: 'spawned'; pid: number }
  | { type: 'exit'; pid: number | null; code: number | null; signal: string | null; cause: ExitCause; runMs: number }
  | { type: 'log'; level: LogLevel; msg: string; fields?: Record<string, unknown> }
  | { type: 'worker.closed' };
