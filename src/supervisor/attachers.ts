/**
 * Who is attached to one agent, and the terminal size that follows from it.
 *
 * The rule is tmux's `window-size latest`: the agent takes the size of the driver (an attacher
 * that may type) that was active last — it attached, typed or resized most recently. Watchers
 * (`--read-only`) never size it. With no driver attached, the agent has its own size: the
 * configured one, or the last one set by a plain `resize` request. Why not tmux's other choice,
 * the smallest client: a crew is usually watched from side panes while one person drives, and a
 * small watcher would shrink the screen of the person typing.
 *
 * An attachment is a lease: a client that vanishes without detaching (killed, its terminal
 * closed) stops renewing it, and it ends after LEASE_MS.
 */

export interface Size {
  readonly cols: number;
  readonly rows: number;
}

interface Attacher {
  size: Size;
  readonly readOnly: boolean;
  /** When it attached, typed or resized (a counter, not a clock: ties are impossible). */
  active: number;
  expiresAt: number;
}

/** An attacher renews its lease every LEASE_MS / 3 (src/cli/attach.ts). */
export const LEASE_MS = 15_000;

export class Attachers {
  private readonly byId = new Map<string, Attacher>();
  private tick = 0;

  constructor(
    /** The agent's own size, for when no driver is attached. */
    private own: Size,
  ) {}

  get count(): number {
    return this.byId.size;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  attach(id: string, size: Size, readOnly: boolean, now: number): void {
    this.byId.set(id, { size, readOnly, active: ++this.tick, expiresAt: now + LEASE_MS });
  }

  /** The attacher is still there (renews its lease); `active`: it typed or resized. */
  touch(id: string, now: number, active: boolean, size?: Size): boolean {
    const a = this.byId.get(id);
    if (!a) return false;
    a.expiresAt = now + LEASE_MS;
    if (size && !a.readOnly) a.size = size;
    if (active && !a.readOnly) a.active = ++this.tick;
    return true;
  }

  detach(id: string): boolean {
    return this.byId.delete(id);
  }

  /** Ends the leases that ran out; returns their ids. */
  expire(now: number): string[] {
    const gone = [...this.byId].filter(([, a]) => a.expiresAt <= now).map(([id]) => id);
    for (const id of gone) this.byId.delete(id);
    return gone;
  }

  /** When the next lease runs out, if any is held. */
  get nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const a of this.byId.values()) if (next === undefined || a.expiresAt < next) next = a.expiresAt;
    return next;
  }

  /** A `resize` request outside any attachment sets the agent's own size. */
  setOwn(size: Size): void {
    this.own = size;
  }

  /** The size the agent's terminal should have now. */
  size(): Size {
    let latest: Attacher | undefined;
    for (const a of this.byId.values()) if (!a.readOnly && (!latest || a.active > latest.active)) latest = a;
    return latest?.size ?? this.own;
  }
}
