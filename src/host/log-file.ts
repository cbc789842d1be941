/**
 * orchestra's own log file as a pino destination that never throws into the process.
 *
 * pino's `pino.destination({ sync: true })` throws from `write` when the disk is full (ENOSPC),
 * inside whatever code was logging, and again inside a crash handler that logs: the supervisor
 * then dies and its agents with it. Here a failed write is counted and reported once per outage;
 * every later record is tried again, so logging resumes by itself when space returns. The file
 * rotates at a record boundary by the same rule as agents' output logs (log-rotation.ts).
 */
import { closeSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { rotateFiles } from './log-rotation.js';

export interface LogFileEvents {
  /** The first failed write of an outage (later ones are only counted). */
  failed(err: Error): void;
  /** A write succeeded again after `lost` records could not be written. */
  resumed(lost: number, err: Error): void;
}

export class LogFile {
  private fd: number | undefined;
  private size = 0;
  /** The error of the current outage; undefined while writes succeed. */
  private failing: Error | undefined;
  private lost = 0;
  /** A failed write may have left half a record: the next one starts on a new line. */
  private torn = false;

  constructor(
    readonly file: string,
    private readonly maxSize: number,
    private readonly keep: number,
    private readonly events: LogFileEvents,
  ) {}

  /** pino's destination contract: one serialized record (a JSON line). Never throws. */
  write(record: string): void {
    // After an outage, a note of what was lost goes first (written here, not through the logger:
    // this runs inside the logger's own write).
    const lostNote = this.failing ? `${JSON.stringify({ level: 40, time: Date.now(), pid: process.pid, lost: this.lost, error: this.failing.message, msg: `${this.lost} log records were lost: ${this.failing.message}` })}\n` : '';
    const buf = Buffer.from((this.torn ? '\n' : '') + lostNote + record);
    try {
      this.open();
      if (this.maxSize > 0 && this.size > 0 && this.size + buf.length > this.maxSize) this.rotate();
      this.writeAll(buf);
      this.torn = false;
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (this.failing) this.resume();
  }

  private open(): void {
    if (this.fd !== undefined) return;
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    this.fd = openSync(this.file, 'a', 0o600);
    this.size = statSync(this.file).size;
  }

  private writeAll(buf: Buffer): void {
    const fd = this.fd;
    if (fd === undefined) return;
    for (let off = 0; off < buf.length; ) {
      let n: number;
      try {
        n = writeSync(fd, buf, off);
      } catch (err) {
        if (off > 0) this.torn = true;
        this.size += off;
        throw err;
      }
      off += n;
    }
    this.size += buf.length;
  }

  private rotate(): void {
    this.close();
    rotateFiles(this.file, this.keep);
    this.open();
  }

  private fail(err: Error): void {
    this.lost++;
    if (this.failing) return;
    this.failing = err;
    // The reporter is the caller's code: whatever it does, logging must not throw.
    try {
      this.events.failed(err);
    } catch {
      // nothing left to report it with
    }
  }

  private resume(): void {
    const err = this.failing;
    const lost = this.lost;
    this.failing = undefined;
    this.lost = 0;
    if (!err) return;
    try {
      this.events.resumed(lost, err);
    } catch {
      // see fail()
    }
  }

  /** Whether writes are failing now. */
  get failed(): boolean {
    return this.failing !== undefined;
  }

  close(): void {
    const fd = this.fd;
    this.fd = undefined;
    if (fd === undefined) return;
    try {
      closeSync(fd);
    } catch {
      // already gone; nothing is buffered here
    }
  }
}
