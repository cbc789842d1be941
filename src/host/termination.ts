/**
 * The end of an agent's processes: one sequence with one entry point for every path that ends an
 * agent (a deliberate stop, a ready timeout or hang, the leader's own exit, the stop deadline, a
 * crashed worker, a forced shutdown). In OTP's terms, a `shutdown` with a timeout that
 * `brutal_kill` can overtake, instead of two kills racing each other:
 *
 *   keys → signal → grace → kill → verify
 *
 * - keys: the stop keys are typed; the leader has the grace period to exit;
 * - signal: the stop signal to every process of the agent (process-group.ts);
 * - grace: the same period again for all of them to go;
 * - kill: SIGKILL to all of them, the leader by its pid while it is unreaped;
 * - verify: SIGKILL again to whatever appears, until none is left or KILL_VERIFY_MS passes.
 *
 * A graceful stop starts at keys, or at signal when there are no keys to type (none configured,
 * or the leader has already exited). A forced stop aborts the wait the graceful one is in and goes
 * to kill at once, or starts there. Asking again returns the sequence already under way.
 */
import { type AgentIdentity, type AgentProcess, Escapees, killAgent, pause, type ProcessSource, signalAgent, waitAgentGone } from './process-group.js';
import { sharedScan } from './process-scan.js';

/** The stop settings a sequence uses (an agent's `stop:` config is one). */
export interface StopPlan {
  readonly signal: NodeJS.Signals;
  readonly graceMs: number;
}

/** What the keys step needs of the leader: a way to type the keys, and its exit. */
export interface StopKeys {
  type(): void;
  /** Settles when the leader exits: the keys step then ends early. */
  readonly leaderExit: Promise<unknown>;
}

export interface TerminationResult {
  /**
   * `exited`: nothing was left to signal; `signalled`: everything went after the stop keys or the
   * signal; `killed`: SIGKILL ended what was left; `survivors`: something outlived SIGKILL.
   */
  readonly outcome: 'exited' | 'signalled' | 'killed' | 'survivors';
  /** Processes that had left the session and were signalled because they carry the identity. */
  readonly escapees: AgentProcess[];
  /** Why the sequence was forced, if it was before it ended. */
  readonly forced: string | undefined;
}

/** The end of one run of an agent: at most one sequence, however many times it is asked for. */
export class Termination {
  private readonly abort = new AbortController();
  private running: Promise<TerminationResult> | undefined;
  private forcedBy: string | undefined;

  constructor(
    private readonly id: AgentIdentity,
    private readonly plan: StopPlan,
    /** Where the agent's processes are found: an agent worker asks the main thread's scan. */
    private readonly source: ProcessSource = sharedScan,
  ) {}

  /** Graceful: from the keys step when given keys, else from the signal. */
  stop(keys?: StopKeys): Promise<TerminationResult> {
    this.running ??= this.run(keys);
    return this.running;
  }

  /** Aborts the graceful sequence at the step it is in and goes to kill → verify, or starts there. */
  force(why: string): Promise<TerminationResult> {
    if (this.forcedBy === undefined) {
      this.forcedBy = why;
      this.abort.abort();
    }
    this.running ??= this.run(undefined);
    return this.running;
  }

  private async run(keys: StopKeys | undefined): Promise<TerminationResult> {
    const { id, plan, source } = this;
    const abort = this.abort.signal;
    const escapees = new Escapees();
    const end = (outcome: TerminationResult['outcome']): TerminationResult => ({ outcome, escapees: escapees.list, forced: this.forcedBy });
    // Whether the agent was asked to go (keys typed, or signalled) before it was found gone.
    let asked = false;
    if (keys && !abort.aborted) {
      keys.type();
      asked = true;
      await pause(plan.graceMs, abort, keys.leaderExit);
    }
    if (!abort.aborted) {
      const found = await signalAgent(id, plan.signal, source);
      escapees.add(found);
      if (found.length === 0) return end(asked ? 'signalled' : 'exited');
      asked = true;
      if (await waitAgentGone(id, plan.graceMs, abort, source)) return end('signalled');
    }
    const killed = await killAgent(id, undefined, source);
    escapees.add(killed.escapees);
    if (!killed.found) return end(asked ? 'signalled' : 'exited');
    return end(killed.gone ? 'killed' : 'survivors');
  }
}
