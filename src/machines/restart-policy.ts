/**
 * Restart decisions as a pure function of (policy, history, exit, now, random).
 * No clock, no I/O: the supervisor owns time and feeds it in, so every branch is unit-testable.
 */
import type { RestartPolicy, Strategy } from '../config/types.js';
import type { ExitInfo } from './exit.js';

// The strategy's one definition is the config's (how a crash in a group spreads).
export type { ExitInfo, Strategy };

export interface RestartHistory {
  /** Timestamps of restarts granted, oldest first, only those still inside the budget window. */
  readonly restarts: readonly number[];
  /** Consecutive quick failures: the backoff exponent. Reset by a run of `resetAfterMs` or more. */
  readonly attempt: number;
}

export const EMPTY_HISTORY: RestartHistory = { restarts: [], attempt: 0 };

/** Exponential backoff with jitter: restarts use it, and so do tasks requeued after a failure. */
export type Backoff = RestartPolicy['backoff'];

export type GiveUpReason = 'policy-no' | 'success-exit' | 'no-restart-code' | 'spawn-failed' | 'budget-exhausted';

/**
 * Set only when a group strategy restarted or stopped this agent because another agent crashed;
 * `decideRestart` never sets them (it decides on one agent's own exit), the supervisor does.
 */
interface GroupCause {
  /** The agent whose crash caused this decision (never this agent itself). */
  readonly because?: string;
  readonly strategy?: Strategy;
  /**
   * For an agent whose provider resumes conversations: the session (absent while a CLI that
   * chooses it has not saved one), and whether the next run resumes it.
   */
  readonly resume?: { readonly id?: string; readonly resumed: boolean };
}

export type RestartDecision = GroupCause &
  (
    | {
        readonly action: 'restart';
        readonly policy: RestartPolicy['policy'];
        /** 1 for the first restart after a stable run. */
        readonly attempt: number;
        readonly delayMs: number;
        /** Restarts still allowed inside the current window after this one. */
        readonly budgetLeft: number;
        readonly reason: string;
      }
    | {
        readonly action: 'give-up';
        readonly policy: RestartPolicy['policy'];
        readonly why: GiveUpReason;
        readonly reason: string;
      }
  );

export function isSuccess(policy: RestartPolicy, exit: ExitInfo): boolean {
  return exit.cause === 'exit' && exit.signal === null && exit.code !== null && policy.successCodes.includes(exit.code);
}

export function describeExit(exit: ExitInfo): string {
  const how = describeCause(exit);
  return exit.screen ? `${how} (screen: ${exit.screen})` : how;
}

function describeCause(exit: ExitInfo): string {
  if (exit.cause === 'ready-timeout') return 'ready timeout';
  if (exit.cause === 'hang') return 'hang (sidecar heartbeats stopped)';
  if (exit.cause === 'blocked') return 'blocked too long (a dialog waiting for a human)';
  if (exit.cause === 'worker-crash') return 'worker thread crashed';
  if (exit.cause === 'spawn-failed') return 'spawn failed';
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${String(exit.code)}`;
}

/**
 * The backoff delay before restart number `attempt` (1-based), jittered by `random()` ∈ [0,1).
 * Drawn uniformly from ±jitter around the base, with the top of that range cut at `maxMs`: the cap
 * holds for the jittered delay, and at the cap agents that crashed together are still spread over
 * [max·(1−jitter), max] instead of half of them landing on max itself.
 */
export function backoffDelay(policy: Pick<RestartPolicy, 'backoff'>, attempt: number, random: () => number): number {
  const { initialMs, factor, maxMs, jitter } = policy.backoff;
  const base = Math.min(maxMs, initialMs * factor ** Math.max(0, attempt - 1));
  const low = Math.max(0, base * (1 - jitter));
  const high = Math.min(maxMs, base * (1 + jitter));
  return Math.round(low + (high - low) * random());
}

/** Decides what follows an exit, and the history to keep for the next decision. */
export function decideRestart(
  policy: RestartPolicy,
  history: RestartHistory,
  exit: ExitInfo,
  now: number,
  random: () => number,
): { decision: RestartDecision; history: RestartHistory } {
  const what = describeExit(exit);
  const giveUp = (why: GiveUpReason, reason: string) => ({
    decision: { action: 'give-up', policy: policy.policy, why, reason } as const,
    history,
  });
  if (exit.cause === 'exit' && exit.code !== null && policy.noRestartCodes.includes(exit.code)) {
    return giveUp('no-restart-code', `${what} is listed in no_restart_codes`);
  }
  // The command could not be started at all (not found, not executable): retrying cannot help.
  if (exit.cause === 'spawn-failed') return giveUp('spawn-failed', `${what}; not retrying a command that cannot start`);
  if (policy.policy === 'no') return giveUp('policy-no', `${what}; restart policy is "no"`);
  if (policy.policy === 'on-failure' && isSuccess(policy, exit)) {
    return giveUp('success-exit', `${what} counts as success; restart policy is "on-failure"`);
  }
  const windowStart = now - policy.budget.windowMs;
  const recent = history.restarts.filter((t) => t > windowStart);
  if (recent.length >= policy.budget.maxRestarts) {
    return {
      decision: {
        action: 'give-up',
        policy: policy.policy,
        why: 'budget-exhausted',
        reason: `${what}; restart budget exhausted: ${recent.length} restarts within ${policy.budget.windowMs}ms (max ${policy.budget.maxRestarts})`,
      },
      history: { restarts: recent, attempt: history.attempt },
    };
  }
  const attempt = exit.runMs >= policy.resetAfterMs ? 1 : history.attempt + 1;
  const delayMs = backoffDelay(policy, attempt, random);
  const restarts = [...recent, now];
  return {
    decision: {
      action: 'restart',
      policy: policy.policy,
      attempt,
      delayMs,
      budgetLeft: policy.budget.maxRestarts - restarts.length,
      reason: `${what}; restart policy "${policy.policy}", attempt ${attempt}, in ${delayMs}ms`,
    },
    history: { restarts, attempt },
  };
}
