/**
 * How long stopping a whole crew may take, as pure functions of the config (no clock, no I/O):
 * past these bounds the supervisor stops waiting and forces (see docs/lifecycle.md).
 */
import type { AgentConfig } from '../config/types.js';
import { stopDeadlineMs } from './agent.js';

/** A forced stop waits this long for workers to report their agents gone after SIGKILL. */
export const FORCED_CLOSE_MS = 3000;
/** Slack over the longest agent's stop deadline before a graceful stop of all turns forced. */
export const SHUTDOWN_MARGIN_MS = 2000;

/** How long a graceful stop of every agent may take before it is forced. */
export function shutdownDeadlineMs(agents: readonly AgentConfig[]): number {
  // Dependents stop before what they depend on: the longest chain of stop deadlines, one after the
  // other, is the longest an honest graceful stop of the crew takes (depends_on has no cycles).
  const byName = new Map(agents.map((a) => [a.name, a]));
  const chain = new Map<string, number>();
  const until = (a: AgentConfig): number => {
    const known = chain.get(a.name);
    if (known !== undefined) return known;
    const dependents = agents.filter((d) => d.dependsOn.includes(a.name));
    const ms = stopDeadlineMs(a.stop) + Math.max(0, ...dependents.map(until));
    chain.set(a.name, ms);
    return ms;
  };
  return Math.max(0, ...[...byName.values()].map(until)) + SHUTDOWN_MARGIN_MS;
}
