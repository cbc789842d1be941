/**
 * The one clock the supervisor and every deadline run on. XState's `SimulatedClock` has the same
 * shape, so a test drives the supervisor and the agent chart with one simulated clock.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** The longest delay Node keeps; a longer one would fire after 1 ms. */
const MAX_DELAY_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  // A sum of settings (a ready timeout and a margin) may pass the limit each setting keeps to.
  setTimeout: (fn, ms) => setTimeout(fn, Math.min(ms, MAX_DELAY_MS)),
  clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
};
