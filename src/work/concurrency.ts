/**
 * Concurrency per template or pool: how many of its tasks run at once. Counted from the tasks the
 * queue says are running, each time the dispatcher plans, so the count never drifts from them.
 */
export class ConcurrencyGate {
  private readonly used = new Map<string, number>();

  /** `limitOf(key)`: the limit of a target key (`template:x`, `pool:y`), undefined for none. */
  constructor(
    private readonly limitOf: (key: string) => number | undefined,
    running: Iterable<string>,
  ) {
    for (const key of running) this.used.set(key, this.inUse(key) + 1);
  }

  inUse(key: string): number {
    return this.used.get(key) ?? 0;
  }

  /** Takes a slot: true, or why not. */
  tryTake(key: string): true | string {
    const limit = this.limitOf(key) ?? Infinity;
    const n = this.inUse(key);
    if (n >= limit) return `concurrency limit: ${n} of ${limit} running`;
    this.used.set(key, n + 1);
    return true;
  }

  /** Gives back a slot taken for a start that did not happen. */
  release(key: string): void {
    this.used.set(key, Math.max(0, this.inUse(key) - 1));
  }
}
