/**
 * Words of the config file that the agent worker needs too. Kept apart from schema.ts, whose zod
 * costs each worker thread ~6 MiB and ~0.1 s to load (docs/benchmarks.md, `scale`).
 */

/** What an agent waits on when a blocked signature matches (see docs/config.md#blocked). */
export const BLOCKED_KINDS = ['permission', 'question', 'trust', 'login', 'quota', 'error'] as const;
