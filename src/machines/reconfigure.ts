/**
 * What applying a changed config to a running crew does, agent by agent, as `docker compose up`
 * does with a changed compose file: new agents are created, removed ones removed, agents whose
 * settings changed are recreated (stopped, then started with the new settings), the rest are left
 * running. An agent that depends on one being recreated or removed is recreated too: it started
 * once its dependencies were ready, and waits for them again (compose's `--always-recreate-deps`).
 * Pure: the supervisor carries the plan out.
 */
import type { AgentConfig } from '../config/types.js';

export type ReloadAction = 'created' | 'recreated' | 'removed' | 'unchanged';

export interface ReloadPlan {
  /** Agents to remove (the removed and the recreated), dependents first. */
  readonly remove: readonly string[];
  /** Agents to add (the created and the recreated), dependencies first. */
  readonly add: readonly AgentConfig[];
  /** Every agent of either config: what happens to it, and why when it is recreated. */
  readonly actions: readonly { readonly agent: string; readonly action: ReloadAction; readonly why?: string }[];
}

/** Both lists in dependency order (as a resolved config has its agents). */
export function planReload(current: readonly AgentConfig[], next: readonly AgentConfig[]): ReloadPlan {
  const before = new Map(current.map((a) => [a.name, a]));
  const after = new Map(next.map((a) => [a.name, a]));
  const why = new Map<string, string>();
  for (const a of next) {
    const old = before.get(a.name);
    if (old && JSON.stringify(old) !== JSON.stringify(a)) why.set(a.name, 'its settings changed');
  }
  const gone = (name: string) => !after.has(name) || why.has(name);
  // In dependency order, a dependency's fate is known before its dependents'.
  for (const a of current) {
    if (!after.has(a.name) || why.has(a.name)) continue;
    const dep = a.dependsOn.find(gone);
    if (dep !== undefined) why.set(a.name, `${dep}, which it depends on, is ${after.has(dep) ? 'recreated' : 'removed'}`);
  }
  const remove = current.filter((a) => gone(a.name)).map((a) => a.name).reverse();
  const add = next.filter((a) => !before.has(a.name) || why.has(a.name));
  const actions = [
    ...next.map((a) => {
      const w = why.get(a.name);
      return w !== undefined ? { agent: a.name, action: 'recreated' as const, why: w } : { agent: a.name, action: before.has(a.name) ? ('unchanged' as const) : ('created' as const) };
    }),
    ...current.filter((a) => !after.has(a.name)).map((a) => ({ agent: a.name, action: 'removed' as const })),
  ];
  return { remove, add, actions };
}
