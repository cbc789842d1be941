/**
 * One agent's attachments on the supervisor: who is attached (the size rule of attachers.ts), the
 * size its worker was last given, and one timer for the first lease to run out.
 */
import type { Clock } from '../host/clock.js';
import { Attachers, type Size } from './attachers.js';

export interface AttachmentsDeps {
  readonly clock: Clock;
  /** The agent's size changed: its worker (if it has one) is told. */
  resize(size: Size): void;
  /** Leases that ran out (their clients went without detaching). */
  expired(ids: readonly string[]): void;
}

export class Attachments {
  private readonly attachers: Attachers;
  private current: Size;
  private lease: { readonly at: number; readonly id: unknown } | null = null;

  constructor(
    configured: Size,
    private readonly deps: AttachmentsDeps,
  ) {
    this.attachers = new Attachers(configured);
    this.current = configured;
  }

  /** The size the worker was last given (a new run or worker starts at it). */
  get size(): Size {
    return this.current;
  }

  attach(id: string, size: Size, readOnly: boolean): void {
    this.attachers.attach(id, size, readOnly, this.deps.clock.now());
    this.changed();
  }

  /** False when it had already ended. */
  detach(id: string): boolean {
    const was = this.attachers.detach(id);
    this.changed();
    return was;
  }

  /** Renews the lease; false when it has already ended. */
  keepalive(id: string): boolean {
    const held = this.attachers.touch(id, this.deps.clock.now(), false);
    this.changed();
    return held;
  }

  /** The attachment typed: it is the latest active one (its size wins). */
  typed(id: string): void {
    if (this.attachers.touch(id, this.deps.clock.now(), true)) this.changed();
  }

  /** An attachment's new size, or (without one) the agent's own size; false for an attachment that has ended. */
  resize(size: Size, id?: string): boolean {
    if (id === undefined) this.attachers.setOwn(size);
    else if (!this.attachers.touch(id, this.deps.clock.now(), true, size)) return false;
    this.changed();
    return true;
  }

  /** The agent is gone, or the supervisor closes: no lease may hold the process up. */
  close(): void {
    if (this.lease) this.deps.clock.clearTimeout(this.lease.id);
    this.lease = null;
  }

  /** The size the attachers call for goes to the worker when it changed; the lease timer follows the first expiry. */
  private changed(): void {
    const size = this.attachers.size();
    if (size.cols !== this.current.cols || size.rows !== this.current.rows) {
      this.current = size;
      this.deps.resize(size);
    }
    const at = this.attachers.nextExpiry;
    if (this.lease?.at === at) return;
    this.close();
    if (at === undefined) return;
    const id = this.deps.clock.setTimeout(() => {
      this.lease = null;
      const gone = this.attachers.expire(this.deps.clock.now());
      if (gone.length > 0) this.deps.expired(gone);
      this.changed();
    }, Math.max(0, at - this.deps.clock.now()));
    this.lease = { at, id };
  }
}
