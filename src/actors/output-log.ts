/**
 * A per-agent output log: every byte, appended synchronously from the worker thread (the worker
 * owns nothing else that blocking would delay), rotated by size: `a.log` → `a.log.1` → … `a.log.N`.
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export class OutputLog {
  private fd: number;
  private size: number;

  constructor(
    private readonly file: string,
    private readonly maxSize: number,
    private readonly keep: number,
  ) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    this.fd = openSync(file, 'a', 0o600);
    this.size = statSync(file).size;
  }

  write(data: Uint8Array): void {
    let off = 0;
    while (off < data.length) {
      if (this.size >= this.maxSize) this.rotate();
      const room = this.maxSize > 0 ? Math.max(1, this.maxSize - this.size) : data.length - off;
      const n = Math.min(room, data.length - off);
      let written = 0;
      while (written < n) written += writeSync(this.fd, data, off + written, n - written);
      off += n;
      this.size += n;
    }
  }

  private rotate(): void {
    closeSync(this.fd);
    if (this.keep === 0) {
      rmSync(this.file, { force: true });
    } else {
      rmSync(`${this.file}.${this.keep}`, { force: true });
      for (let i = this.keep - 1; i >= 1; i--) {
        try {
          renameSync(`${this.file}.${i}`, `${this.file}.${i + 1}`);
        } catch {
          // a gap in the sequence: nothing to shift
        }
      }
      renameSync(this.file, `${this.file}.1`);
    }
    this.fd = openSync(this.file, 'a', 0o600);
    this.size = 0;
  }

  close(): void {
    closeSync(this.fd);
  }
}
