/**
 * How a run of an agent's process ended: the one definition the agent chart, the restart policy and
 * the bus `exit` message all take their exit cause from.
 */

export type ExitCause =
  /** The process ended by itself (exit code or signal). */
  | 'exit'
  /** orchestra stopped it: it was not ready within `ready_timeout`. */
  | 'ready-timeout'
  /** orchestra stopped it: its sidecar heartbeats stopped for `sidecar.hang_timeout`. */
  | 'hang'
  /** orchestra stopped it: it was blocked (a dialog waiting for a human) for `blocked.after`, with `blocked.then: restart`. */
  | 'blocked'
  /** The worker thread that owned its PTY died; orchestra killed the orphaned process group. */
  | 'worker-crash'
  /** The command could not be started at all (not found, not executable). */
  | 'spawn-failed';

/** One ended run, as the restart policy decides on it and the bus publishes it. */
export interface ExitInfo {
  readonly code: number | null;
  readonly signal: string | null;
  /** How long the run lasted, from spawn to exit. */
  readonly runMs: number;
  /** Why the run ended when it was not the process's own doing. */
  readonly cause: ExitCause;
  /**
   * The dialog or error the screen showed as the run ended (a blocked signature's first line), even
   * one shown too briefly to count: "Unable to connect to Anthropic services" says more than "exit code 1".
   */
  readonly screen?: string;
}
