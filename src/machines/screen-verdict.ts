/**
 * What the rendered screen says about the agent, from its provider's signatures: blocked (and on
 * what), ready (the idle input box), or nothing. Pure: the worker asks after each parsed batch and
 * tells the chart when the answer changes; the chart decides once it has held (a CLI may draw its
 * input box for a frame before its login screen).
 */
import type { BlockedKind } from '../config/types.js';

export type { BlockedKind };

export type ScreenVerdict =
  | { readonly kind: 'none' }
  | { readonly kind: 'ready'; readonly evidence: readonly string[] }
  | { readonly kind: 'blocked'; readonly on: BlockedKind; readonly evidence: readonly string[]; readonly resets?: string };

export const NO_VERDICT: ScreenVerdict = { kind: 'none' };

export interface Signatures {
  /** Tried in order: the first that matches names what the agent is blocked on. */
  readonly blocked: readonly { readonly kind: BlockedKind; readonly pattern: RegExp }[];
  readonly ready: RegExp | undefined;
}

const RESETS = /\bresets?\s+(?:at\s+|in\s+)?([^\n]{1,60})/i;

/** At most this many lines of evidence (the matching ones), each at most EVIDENCE_COLS long. */
const EVIDENCE_LINES = 3;
const EVIDENCE_COLS = 200;

export function compileSignatures(blocked: readonly { readonly kind: BlockedKind; readonly pattern: string }[], ready: string | undefined): Signatures {
  return {
    blocked: blocked.map((s) => ({ kind: s.kind, pattern: new RegExp(s.pattern, 'm') })),
    ready: ready === undefined ? undefined : new RegExp(ready, 'm'),
  };
}

/** The lines of `screen` that the match of `re` touches (trimmed), as evidence. */
function evidence(screen: string, re: RegExp): string[] | undefined {
  const m = re.exec(screen);
  if (!m) return undefined;
  const start = screen.lastIndexOf('\n', m.index) + 1;
  const endAt = screen.indexOf('\n', m.index + Math.max(0, m[0].length - 1));
  const lines = screen.slice(start, endAt === -1 ? undefined : endAt).split('\n');
  return lines
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(0, EVIDENCE_LINES)
    .map((l) => l.slice(0, EVIDENCE_COLS));
}

/** Blocked signatures outrank the ready one: a dialog can be drawn over an input box. */
export function screenVerdict(screen: string, sig: Signatures): ScreenVerdict {
  for (const s of sig.blocked) {
    const lines = evidence(screen, s.pattern);
    if (!lines) continue;
    // A usage limit often says when it ends ("resets 5am (Europe/Paris)"): worth showing as is.
    const resets = s.kind === 'quota' ? RESETS.exec(screen)?.[1]?.trim() : undefined;
    return { kind: 'blocked', on: s.kind, evidence: lines, ...(resets ? { resets } : {}) };
  }
  if (sig.ready) {
    const lines = evidence(screen, sig.ready);
    if (lines) return { kind: 'ready', evidence: lines };
  }
  return NO_VERDICT;
}

/** Two verdicts that mean the same to the chart (the evidence may change as the screen redraws). */
export function sameVerdict(a: ScreenVerdict, b: ScreenVerdict): boolean {
  return a.kind === b.kind && (a.kind !== 'blocked' || (b.kind === 'blocked' && a.on === b.on));
}
