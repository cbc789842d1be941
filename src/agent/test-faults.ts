/**
 * Faults a test can inject into an agent's worker with ORCHESTRA_TEST_FAULT=KIND:AGENT[,KIND:AGENT…],
 * to reach failure paths end to end that no real program triggers on demand:
 *
 * - `lose-stop`: the PTY never gets the chart's stop request, as when the stop signal went to a
 *   process group the child had not made yet: the agent stays in `stopping` until the stop deadline,
 *   whose `pty.kill` does arrive.
 * - `deaf-worker`: the worker ignores `worker.shutdown` and `agent.stop`, so only the supervisor's
 *   own deadline and forced stop can end the agent.
 */
import type { AnyActorLogic } from 'xstate';

export type TestFault = 'lose-stop' | 'deaf-worker';

/** The faults named for `agent` in the environment. */
export function testFaults(agent: string, env = process.env.ORCHESTRA_TEST_FAULT ?? ''): ReadonlySet<TestFault> {
  const out = new Set<TestFault>();
  for (const item of env.split(',')) {
    const [kind, name] = item.split(':');
    if (name === agent && (kind === 'lose-stop' || kind === 'deaf-worker')) out.add(kind);
  }
  return out;
}

/** `logic` with every `pty.stop` it is sent dropped; `pty.kill` still gets through. */
export function losingStops<L extends AnyActorLogic>(logic: L): L {
  return {
    ...logic,
    transition: (state: Parameters<L['transition']>[0], event: Parameters<L['transition']>[1], scope: Parameters<L['transition']>[2]) =>
      event.type === 'pty.stop' ? state : logic.transition(state, event, scope),
  };
}
