/** YAML text with positions → a value validated by a schema, or a ConfigError naming file:line:col. */
import { readFileSync } from 'node:fs';
import type { Alias, Document, Node } from 'yaml';
import { isAlias, isCollection, isNode, isPair, LineCounter, parse, parseDocument, visit } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue, formatIssue, formatPath, type KeyPath, keyName, Locator, MERGE_KEY, pathOf } from './issues.js';
import { interpolate, type Vars } from './interpolate.js';
import { keysAt, nearest } from './suggest.js';
import { syntaxIssues } from './yaml-errors.js';

/** A validated document and the locator that places later findings in it. */
export interface Parsed<T> {
  readonly data: T;
  readonly loc: Locator;
}

/** A parsed YAML document, before validation. */
export interface Source {
  readonly doc: Document;
  readonly loc: Locator;
}

/**
 * Aliases may expand a file to at most this many values. A real file stays far below it (500
 * agents merging a 50-key anchor is 25k); a file built to blow up memory (nested anchors, each
 * used ten times by the next) crosses it after a few levels.
 */
export const MAX_ALIAS_EXPANSION = 1_000_000;

/** Parses `text` as if it were the file `abs` and validates it against `schema`; `shape` says what the top level must be. */
export function parseYaml<S extends z.ZodType>(text: string, abs: string, schema: S, shape: string): Parsed<z.output<S>> {
  const { doc, loc } = readYaml(text, abs);
  const { data, issues } = checkSchema(doc, loc, schema, shape);
  if (data === undefined || issues.length > 0) throw new ConfigError(sortIssues(issues));
  return { data, loc };
}

/** A file's text, which must be UTF-8: other bytes are an error at the first one, never U+FFFD. */
export function readText(abs: string, shown: string = relativeName(abs)): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String((err as Error).message);
    throw new ConfigError([{ file: abs, line: 0, col: 0, path: '', message: `cannot read config: ${why}` }]);
  }
  const bad = firstInvalidUtf8(bytes);
  if (bad === undefined) return bytes.toString('utf8');
  const before = bytes.subarray(0, bad).toString('utf8');
  const line = before.split('\n').length;
  const col = before.length - before.lastIndexOf('\n');
  const byte = `0x${(bytes[bad] ?? 0).toString(16).toUpperCase().padStart(2, '0')}`;
  throw new ConfigError([{ file: shown, line, col, path: '', message: `not UTF-8: byte ${byte} (is the file saved as Latin-1 or another legacy encoding? save it as UTF-8)` }]);
}

/** The offset of the first byte that does not belong to a well-formed UTF-8 sequence. */
function firstInvalidUtf8(b: Buffer): number | undefined {
  for (let i = 0; i < b.length; ) {
    const c = b[i] as number;
    if (c < 0x80) {
      i++;
      continue;
    }
    const len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (len === 0 || i + len > b.length) return i;
    const c1 = b[i + 1] as number;
    // Overlong forms, surrogates and code points past U+10FFFF.
    if ((c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 >= 0xa0) || (c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 >= 0x90)) return i;
    for (let k = 1; k < len; k++) if (((b[i + k] as number) & 0xc0) !== 0x80) return i;
    i += len;
  }
  return undefined;
}

/**
 * Parses YAML with merge keys (`<<: *x`). Syntax errors, aliases without an anchor and aliases that
 * expand beyond reason are thrown; duplicate keys are returned with the document, to be reported
 * with everything else.
 */
export function readYaml(text: string, abs: string): Source & { issues: ConfigIssue[] } {
  const lines = new LineCounter();
  // uniqueKeys compares each key with every earlier one (quadratic): duplicates are found below with an index.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false, merge: true });
  const loc = new Locator(relativeName(abs), doc, lines);
  if (doc.errors.length > 0) throw new ConfigError(syntaxIssues(doc, loc));
  const aliases = aliasIssues(doc, loc);
  const issues = duplicateKeys(doc, loc);
  if (aliases.length > 0) throw new ConfigError(sortIssues([...aliases, ...issues]));
  return { doc, loc, issues };
}

function duplicateKeys(doc: Document, loc: Locator): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  visit(doc, {
    Map(_, map, ancestors) {
      const first = new Map<string, Node>();
      for (const item of map.items) {
        const key = keyName(item.key);
        if (key === undefined || key === MERGE_KEY || !isNode(item.key)) continue;
        const seen = first.get(key);
        if (seen === undefined) first.set(key, item.key);
        else {
          const where = loc.where(seen.range?.[0] ?? 0);
          issues.push(loc.atNode(item.key, [...pathOf([...ancestors, map], item), key], `duplicate key "${key}": first defined at ${where}`));
        }
      }
    },
  });
  return issues;
}

/** Aliases without an anchor, inside their own anchor, or expanding the file beyond MAX_ALIAS_EXPANSION values. */
function aliasIssues(doc: Document, loc: Locator): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const sizes = new Map<Node, number>();
  const open = new Set<Node>();
  const aliases: { alias: Alias; ancestors: readonly unknown[] }[] = [];
  const size = (node: unknown): number => {
    if (isAlias(node)) {
      const target = node.resolve(doc);
      return target === undefined || open.has(target) ? 1 : size(target);
    }
    if (!isCollection(node)) return 1;
    const known = sizes.get(node);
    if (known !== undefined) return known;
    open.add(node);
    let n = 1;
    for (const item of node.items) n += isPair(item) ? size(item.key) + size(item.value) : size(item);
    open.delete(node);
    sizes.set(node, n);
    return n;
  };
  visit(doc, {
    Alias(_, alias, ancestors) {
      aliases.push({ alias, ancestors });
      const target = alias.resolve(doc);
      if (target === undefined) issues.push(loc.atNode(alias, pathOf(ancestors, alias), `alias *${alias.source} has no anchor &${alias.source} before it`));
      else if (ancestors.includes(target)) issues.push(loc.atNode(alias, pathOf(ancestors, alias), `alias *${alias.source} is inside the anchor &${alias.source} it refers to (a value cannot contain itself)`));
    },
  });
  // A large file without aliases is just large: only expansion is guarded.
  if (issues.length > 0 || aliases.length === 0 || size(doc.contents) <= MAX_ALIAS_EXPANSION) return issues;
  const { alias: biggest, ancestors } = aliases.reduce((a, b) => (size(b.alias) > size(a.alias) ? b : a));
  return [
    loc.atNode(biggest, pathOf(ancestors, biggest), `alias *${biggest.source} is one of the aliases that together expand the file to more than ${MAX_ALIAS_EXPANSION} values (anchors nested in anchors multiply); write the values out, or use fewer aliases`),
  ];
}

/**
 * Validates the document against `schema`. Every problem is found at once: values the schema
 * refuses are set aside and the rest validated again, so checks that run only on a valid part
 * (a refinement, the loader's cross checks) still run; `dropped` names what was set aside, so
 * later checks say nothing about it.
 */
export function checkSchema<S extends z.ZodType>(
  doc: Document,
  loc: Locator,
  schema: S,
  shape: string,
  expanded: Expanded = { issues: [], failed: [], unquoted: new Set() },
): { data: z.output<S> | undefined; issues: ConfigIssue[]; dropped: PathSet } {
  const raw: unknown = doc.toJS({ maxAliasCount: -1 });
  if (!isRecord(raw)) return { data: undefined, issues: [loc.at([], `expected ${shape}`)], dropped: new PathSet() };
  // `x-` keys at the top are for the user (anchors, notes) and are ignored, as in compose files.
  const top = Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith('x-')));
  const issues: ConfigIssue[] = [];
  // A refusal that nothing can be set aside for (a missing key) comes back each round: said once.
  const said = new Set<string>();
  // Values already reported (an interpolation that failed) are set aside before the first round.
  const dropped = new PathSet(expanded.failed.map((p) => drop(top, p)).filter((p): p is KeyPath => p !== undefined));
  // Each round sets aside what the last refused; a few rounds reach every refinement the schema has.
  for (let round = 0; round < 5; round++) {
    const result = schema.safeParse(top);
    if (result.success) return { data: result.data, issues, dropped };
    const refused: KeyPath[] = [];
    let retyped = false;
    for (const zi of result.error.issues) {
      const typed = retype(zi, valueAt(top, zi.path as KeyPath), loc, expanded.unquoted);
      if (typed !== undefined) {
        setAt(top, zi.path as KeyPath, typed);
        retyped = true;
        continue;
      }
      for (const { path, issue } of toIssues(zi, loc, schema)) {
        const text = formatIssue(issue);
        if (dropped.touches(path) || said.has(text)) continue;
        said.add(text);
        issues.push(issue);
        refused.push(path);
      }
    }
    const more = refused.map((p) => drop(top, p)).filter((p): p is KeyPath => p !== undefined);
    if (more.length === 0 && !retyped) break;
    for (const p of more) dropped.add(p);
  }
  return { data: undefined, issues, dropped };
}

/**
 * Key paths set aside, asked whether a path is one of them, within one, or holds one; in time
 * proportional to the path's length, so a file with thousands of problems stays linear.
 */
export class PathSet {
  private readonly exact = new Set<string>();
  private readonly holders = new Set<string>();

  constructor(paths: readonly KeyPath[] = []) {
    for (const p of paths) this.add(p);
  }

  add(path: KeyPath): void {
    const text = formatPath(path);
    this.exact.add(text);
    for (const prefix of prefixes(text)) this.holders.add(prefix);
  }

  /** Whether `path` (as formatted in issues, `agents.a.args[0]`) is a path of the set or within one. */
  within(path: KeyPath | string): boolean {
    return prefixes(typeof path === 'string' ? path : formatPath(path)).some((p) => this.exact.has(p));
  }

  /** Whether `path` is within a path of the set, or holds one. */
  touches(path: KeyPath | string): boolean {
    const text = typeof path === 'string' ? path : formatPath(path);
    return this.holders.has(text) || this.within(text);
  }
}

/** `agents`, `agents.a`, `agents.a.args`, `agents.a.args[0]` of `agents.a.args[0]`. */
function prefixes(text: string): string[] {
  const out: string[] = [];
  for (let i = 1; i < text.length; i++) if (text[i] === '.' || text[i] === '[') out.push(text.slice(0, i));
  out.push(text);
  return out;
}

/**
 * Compose gives an interpolated value the type its key needs: an unquoted `cols: ${COLS}` that the
 * schema refuses as text is the number it reads as (never `command: ${CMD}` turned into a boolean).
 */
function retype(issue: ZodIssue, input: unknown, loc: Locator, unquoted: ReadonlySet<Node>): number | boolean | undefined {
  if (issue.code !== 'invalid_type' || typeof input !== 'string' || (issue.expected !== 'number' && issue.expected !== 'boolean')) return undefined;
  const node = loc.nodeAtPath(issue.path as KeyPath);
  if (node === undefined || !unquoted.has(node) || !/^[-+.\w]+$/.test(input)) return undefined;
  const v: unknown = parse(input);
  return typeof v === issue.expected ? (v as number | boolean) : undefined;
}

function valueAt(root: unknown, path: KeyPath): unknown {
  let node = root;
  for (const k of path) node = isRecord(node) || Array.isArray(node) ? (node as Record<string, unknown>)[String(k)] : undefined;
  return node;
}

function setAt(root: Record<string, unknown>, path: KeyPath, value: unknown): void {
  const node = valueAt(root, path.slice(0, -1));
  const last = path[path.length - 1];
  if ((isRecord(node) || Array.isArray(node)) && last !== undefined) (node as Record<string, unknown>)[String(last)] = value;
}

/** Deletes the deepest mapping key on `path` that exists; returns its path. */
function drop(root: Record<string, unknown>, path: KeyPath): KeyPath | undefined {
  let node: unknown = root;
  let last: { obj: Record<string, unknown>; key: string; depth: number } | undefined;
  for (let i = 0; i < path.length; i++) {
    const k = path[i] as string | number;
    if (isRecord(node) && typeof k === 'string' && k in node) last = { obj: node, key: k, depth: i + 1 };
    const next: unknown = isRecord(node) ? node[String(k)] : Array.isArray(node) ? node[Number(k)] : undefined;
    if (next === undefined) break;
    node = next;
  }
  if (!last) return undefined;
  delete last.obj[last.key];
  return path.slice(0, last.depth);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** File order within each file; the file `first` first, then files in the order their first issue came. */
export function sortIssues(issues: ConfigIssue[], first?: string): ConfigIssue[] {
  const files = new Map<string, number>(first === undefined ? [] : [[first, 0]]);
  for (const i of issues) if (!files.has(i.file)) files.set(i.file, files.size);
  const rank = (i: ConfigIssue) => files.get(i.file) ?? 0;
  return issues.sort((a, b) => rank(a) - rank(b) || a.line - b.line || a.col - b.col);
}

/** `abs` relative to the working directory when it is below it, as messages show files. */
export function relativeName(abs: string): string {
  return abs.startsWith(process.cwd() + '/') ? abs.slice(process.cwd().length + 1) : abs;
}

type ZodIssue = z.core.$ZodIssue;

/** A schema finding as positioned issues, each with the key path it is about. */
export function toIssues(issue: ZodIssue, loc: Locator, schema: z.ZodType): { path: KeyPath; issue: ConfigIssue }[] {
  const path = issue.path.filter((k): k is string | number => typeof k !== 'symbol');
  const one = (i: ConfigIssue) => [{ path, issue: i }];
  switch (issue.code) {
    case 'unrecognized_keys': {
      // A mapping whose keys are a fixed list (blocked.signatures) says which keys it takes.
      const which = issue.message.startsWith('expected') ? `: ${issue.message}` : '';
      const valid = keysAt(schema, path) ?? [];
      return issue.keys.map((k) => {
        const near = nearest(k, valid);
        const hint = near === undefined ? '' : ` (did you mean "${near}"?)`;
        return { path: [...path, k], issue: loc.atKey(path, k, `unknown key "${k}"${hint}${which}`) };
      });
    }
    case 'invalid_key': {
      const key = String(path[path.length - 1]);
      return one(loc.atKey(path.slice(0, -1), key, issue.issues[0]?.message ?? 'expected a valid key'));
    }
    case 'invalid_type':
      if (issue.input === undefined && loc.valueAt(path) === undefined) return one(loc.at(path, 'missing required key', { found: false }));
      return one(loc.at(path, expectation(issue)));
    case 'invalid_union': {
      // Report the branch that got furthest, so the user sees the specific key.
      const deepest = issue.errors.flat().sort((a, b) => b.path.length - a.path.length)[0];
      if (deepest && deepest.path.length > 0) return toIssues({ ...deepest, path: [...issue.path, ...deepest.path] } as ZodIssue, loc, schema);
      return one(loc.at(path, expectation(issue)));
    }
    default:
      return one(loc.at(path, expectation(issue)));
  }
}

function expectation(issue: ZodIssue): string {
  if (issue.message.startsWith('expected')) return issue.message;
  if (issue.code === 'too_small') return `expected a value >= ${String(issue.minimum)}`;
  if (issue.code === 'too_big') return `expected a value <= ${String(issue.maximum)}`;
  if (issue.code === 'invalid_type') return `expected ${issue.expected}`;
  return `expected a valid value (${issue.message})`;
}

/**
 * Interpolates every string value of a parsed document in place (keys are left as written, as in
 * compose, and so are values under the mapping keys `leave` picks), before validation: values keep
 * their positions, and an error is reported where the value is written.
 */
export function interpolateDocument(doc: Document, vars: Vars, loc: Locator, leave: (keys: readonly string[]) => boolean = () => false): Expanded {
  const issues: ConfigIssue[] = [];
  const failed: KeyPath[] = [];
  const unquoted = new Set<Node>();
  visit(doc, {
    Scalar(key, node, ancestors) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('$')) return;
      if (leave(ancestors.flatMap((a) => (isPair(a) ? (keyName(a.key) ?? []) : [])))) return;
      const r = interpolate(node.value, vars);
      if ('error' in r) {
        const path = pathOf(ancestors, node);
        issues.push(loc.atNode(node, path, r.error));
        failed.push(path);
      } else if (r.value !== node.value) {
        node.value = r.value;
        if (node.type === 'PLAIN') unquoted.add(node);
      }
    },
  });
  return { issues, failed, unquoted };
}

/** What interpolation did: its errors, the values that failed (reported already), and the unquoted values it changed. */
export interface Expanded {
  readonly issues: ConfigIssue[];
  readonly failed: readonly KeyPath[];
  readonly unquoted: ReadonlySet<Node>;
}
