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
  | { readonly kind: 'busy'; readonly evidence: readonly string[] }
  | { readonly kind: 'blocked'; readonly on: BlockedKind; readonly evidence: readonly string[]; readonly resets?: string };

export const NO_VERDICT: ScreenVerdict = { kind: 'none' };

export interface Signatures {
  /** Tried in order: the first that matches names what the agent is blocked on. */
  readonly blocked: readonly { readonly kind: BlockedKind; readonly pattern: RegExp }[];
  readonly ready: RegExp | undefined;
  /** Working: outranks the ready signature (codex and gemini keep their input box on screen while busy). */
  readonly busy: RegExp | undefined;
}

/** Kinds a CLI draws as a dialog in place of (or below) its input box, not above it. */
const DIALOGS: ReadonlySet<BlockedKind> = new Set<BlockedKind>(['permission', 'question', 'trust', 'login']);

// claude: "resets 5am (Europe/Paris)"; codex: "or try again at 12:00 PM."
const RESETS = /\b(?:resets?|try again at)\s+(?:at\s+|in\s+)?([^\n]{1,60})/i;

/** At most this many lines of evidence (the matching ones), each at most EVIDENCE_COLS long. */
const EVIDENCE_LINES = 3;
const EVIDENCE_COLS = 200;

export function compileSignatures(blocked: readonly { readonly kind: BlockedKind; readonly pattern: string }[], ready: string | undefined, busy?: string): Signatures {
  const re = (source: string | undefined) => (source === undefined ? undefined : new RegExp(source, 'm'));
  return { blocked: blocked.map((s) => ({ kind: s.kind, pattern: new RegExp(s.pattern, 'm') })), ready: re(ready), busy: re(busy) };
}

/** Where `re` matches in `screen` (its last match: the newest text of an inline CLI is lowest), and the lines it touches, trimmed. */
function find(screen: string, re: RegExp): { at: number; lines: string[] } | undefined {
  const all = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`);
  let m: RegExpExecArray | null;
  let last: RegExpExecArray | undefined;
  while ((m = all.exec(screen)) !== null) {
    last = m;
    if (m[0].length === 0) all.lastIndex++;
  }
  if (!last) return undefined;
  const start = screen.lastIndexOf('\n', last.index) + 1;
  const endAt = screen.indexOf('\n', last.index + Math.max(0, last[0].length - 1));
  const lines = screen
    .slice(start, endAt === -1 ? undefined : endAt)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(0, EVIDENCE_LINES)
    .map((l) => l.slice(0, EVIDENCE_COLS));
  return { at: last.index, lines };
}

/** Blocked outranks busy outranks ready: a dialog can be drawn over an input box, which stays while working. */
export function screenVerdict(screen: string, sig: Signatures): ScreenVerdict {
  // A dialog above the idle input box is history (an inline CLI's conversation, an answered
  // question): it counts only at or below the box. Errors and limits are shown above a box that
  // stays, and count wherever they are.
  const box = sig.ready ? find(screen, sig.ready)?.at : undefined;
  // Of several dialogs on screen (an inline CLI leaves an answered one above the next), the lowest
  // is the one waiting; at the same place, the first signature declared.
  let found: { kind: BlockedKind; at: number; lines: string[] } | undefined;
  for (const s of sig.blocked) {
    const f = find(screen, s.pattern);
    if (!f || (box !== undefined && box > f.at && DIALOGS.has(s.kind))) continue;
    if (!found || f.at > found.at) found = { kind: s.kind, ...f };
  }
  if (found) {
    // A usage limit often says when it ends ("resets 5am (Europe/Paris)"): worth showing as is.
    const resets = found.kind === 'quota' ? RESETS.exec(screen)?.[1]?.trim().replace(/\.$/, '') : undefined;
    return { kind: 'blocked', on: found.kind, evidence: found.lines, ...(resets ? { resets } : {}) };
  }
  for (const [kind, re] of [['busy', sig.busy], ['ready', sig.ready]] as const) {
    const f = re ? find(screen, re) : undefined;
    if (f) return { kind, evidence: f.lines };
  }
  return NO_VERDICT;
}

/** Two verdicts that mean the same to the chart (the evidence may change as the screen redraws). */
export function sameVerdict(a: ScreenVerdict, b: ScreenVerdict): boolean {
  return a.kind === b.kind && (a.kind !== 'blocked' || (b.kind === 'blocked' && a.on === b.on));
}

/**
 * The verdicts worth telling the chart, from one screen after another: a new verdict, or new
 * evidence for the same one; `reset` when a new run starts (its chart has seen nothing yet).
 */
export class ScreenWatch {
  private last: ScreenVerdict = NO_VERDICT;

  constructor(private readonly signatures: Signatures) {}

  /** The verdict on `screen` when it is news, else undefined. */
  news(screen: string): ScreenVerdict | undefined {
    const now = screenVerdict(screen, this.signatures);
    if (sameVerdict(now, this.last) && evidenceOf(now) === evidenceOf(this.last)) return undefined;
    this.last = now;
    return now;
  }

  reset(): void {
    this.last = NO_VERDICT;
  }
}

const evidenceOf = (v: ScreenVerdict) => (v.kind === 'none' ? '' : v.evidence.join('\n'));
