/** YAML text with positions → a value validated by a schema, or a ConfigError naming file:line:col. */
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue, Locator } from './issues.js';

/** A validated document and the locator that places later findings in it. */
export interface Parsed<T> {
  readonly data: T;
  readonly loc: Locator;
}

/** Parses `text` as if it were the file `abs` and validates it against `schema`; `shape` says what the top level must be. */
export function parseYaml<S extends z.ZodType>(text: string, abs: string, schema: S, shape: string): Parsed<z.output<S>> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const loc = new Locator(relativeName(abs), doc, lines);
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => loc.atOffset(e.pos[0], `invalid YAML: ${firstLine(e.message)}`)));
  }
  const raw = stripExtensions(doc.toJS());
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([loc.at([], `expected ${shape}`)]);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(sortIssues(parsed.error.issues.flatMap((i) => toIssues(i, loc))));
  return { data: parsed.data, loc };
}

export function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues.sort((a, b) => a.line - b.line || a.col - b.col);
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

export function relativeName(abs: string): string {
  return abs.startsWith(process.cwd() + '/') ? abs.slice(process.cwd().length + 1) : abs;
}

/** Keys starting with `x-` are for the user (anchors, notes) and are ignored, as in compose files. */
function stripExtensions(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripExtensions);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v)) if (!k.startsWith('x-')) out[k] = stripExtensions(val);
    return out;
  }
  return v;
}

type ZodIssue = z.core.$ZodIssue;

/** A zod issue as config issues placed by `loc`. */
export function toIssues(issue: ZodIssue, loc: Locator): ConfigIssue[] {
  const path = issue.path.filter((k): k is string | number => typeof k !== 'symbol');
  switch (issue.code) {
    case 'unrecognized_keys': {
      // A mapping whose keys are a fixed list (blocked.signatures) says which keys it takes.
      const which = issue.message.startsWith('expected') ? `: ${issue.message}` : '';
      return issue.keys.map((k) => loc.atKey(path, k, `unknown key "${k}"${which}`));
    }
    case 'invalid_type':
      if (issue.input === undefined && loc.valueAt(path) === undefined) {
        return [loc.at(path, 'missing required key', { found: false })];
      }
      return [loc.at(path, expectation(issue))];
    case 'invalid_union': {
      // Report the branch that got furthest, so the user sees the specific key.
      const deepest = issue.errors.flat().sort((a, b) => b.path.length - a.path.length)[0];
      if (deepest && deepest.path.length > 0) return toIssues({ ...deepest, path: [...issue.path, ...deepest.path] } as ZodIssue, loc);
      return [loc.at(path, expectation(issue))];
    }
    default:
      return [loc.at(path, expectation(issue))];
  }
}

function expectation(issue: ZodIssue): string {
  if (issue.message.startsWith('expected')) return issue.message;
  if (issue.code === 'too_small') return `expected a value >= ${String(issue.minimum)}`;
  if (issue.code === 'too_big') return `expected a value <= ${String(issue.maximum)}`;
  if (issue.code === 'invalid_type') return `expected ${issue.expected}`;
  return `expected a valid value (${issue.message})`;
}
