/**
 * Activity from the rendered screen (`activity.from: screen`): output counts only when it changed
 * the screen's text outside the ignored regions. A program that redraws on a timer (htop's meters,
 * `watch`'s header, a status-bar clock) rewrites the same text, or text only in an ignored region,
 * and stays idle; work that changes what is shown still counts.
 *
 * Pure: the worker hands it the screen after the terminal model parsed something; there is no timer
 * and nothing is read while the agent writes nothing.
 */
import type { IgnoredRegion } from '../config/types.js';

/** Rows as configured (1-based, negative from the bottom, inclusive), or the lines a pattern matches. */
type CompiledRegion = Exclude<IgnoredRegion, { lines: string }> | { readonly lines: RegExp };

/** The 0-based index of a configured row on a screen of `height` rows. */
const rowIndex = (row: number, height: number) => (row > 0 ? row - 1 : height + row);

/** The screen's text (one line per row) with the ignored rows and lines blanked, trailing blank rows dropped. */
export function relevantText(screen: string, regions: readonly CompiledRegion[]): string {
  const lines = screen.split('\n');
  for (const r of regions) {
    if ('rows' in r) {
      const from = Math.max(0, rowIndex(r.rows.from, lines.length));
      const to = Math.min(lines.length - 1, rowIndex(r.rows.to, lines.length));
      for (let y = from; y <= to; y++) lines[y] = '';
    } else {
      lines.forEach((line, y) => {
        if (r.lines.test(line)) lines[y] = '';
      });
    }
  }
  return lines.join('\n').trimEnd();
}

/** Tells, screen after screen, whether the relevant text changed: the start of a run compares with a blank screen. */
export class ScreenActivity {
  private readonly regions: readonly CompiledRegion[];
  private last = '';

  constructor(ignore: readonly IgnoredRegion[]) {
    this.regions = ignore.map((r) => ('lines' in r ? { lines: new RegExp(r.lines, 'm') } : r));
  }

  /** Whether `screen` (the rendered text, one line per row) differs from the last one outside the ignored regions. */
  changed(screen: string): boolean {
    const now = relevantText(screen, this.regions);
    if (now === this.last) return false;
    this.last = now;
    return true;
  }

  /** A new run starts on a blank screen. */
  reset(): void {
    this.last = '';
  }
}
