/**
 * The one rotation rule for every log file orchestra writes (agents' output logs and its own
 * log): `f` → `f.1` → … → `f.KEEP`, the oldest dropped; with `keep: 0` the file is just removed.
 */
import { renameSync, rmSync } from 'node:fs';

/** Shifts the rotated files of `file` by one and moves `file` itself to `file.1`. The caller reopens `file`. */
export function rotateFiles(file: string, keep: number): void {
  if (keep === 0) {
    rmSync(file, { force: true });
    return;
  }
  rmSync(`${file}.${keep}`, { force: true });
  for (let i = keep - 1; i >= 1; i--) {
    try {
      renameSync(`${file}.${i}`, `${file}.${i + 1}`);
    } catch {
      // a gap in the sequence: nothing to shift
    }
  }
  renameSync(file, `${file}.1`);
}
