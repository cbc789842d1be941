/** Config errors that say where (file:line:col and key path), what was expected and what was found. */
import type { Document, LineCounter, Node, Pair, YAMLMap } from 'yaml';
import { isAlias, isMap, isNode, isPair, isScalar, isSeq } from 'yaml';

export type KeyPath = readonly (string | number)[];

export interface ConfigIssue {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly path: string;
  readonly message: string;
}

/** Thrown by the loader; carries every issue found, in file order. */
export class ConfigError extends Error {
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatIssue(i: ConfigIssue): string {
  const where = i.line > 0 ? `${i.file}:${i.line}:${i.col}` : i.file;
  return i.path ? `${where}: ${i.path}: ${i.message}` : `${where}: ${i.message}`;
}

/** `agents.w1.args[0]` */
export function formatPath(path: KeyPath): string {
  let out = '';
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : out ? `.${k}` : k;
  return out;
}

/** The key path of `node`, given the ancestors yaml's `visit` passes. */
export function pathOf(ancestors: readonly unknown[], node: unknown): KeyPath {
  const path: (string | number)[] = [];
  ancestors.forEach((a, i) => {
    const key = isPair(a) ? keyName(a.key) : undefined;
    if (key !== undefined) path.push(key);
    else if (isSeq(a)) path.push(a.items.indexOf(ancestors[i + 1] ?? node));
  });
  return path;
}

/** A short description of a YAML value for "found …". */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `"${v.length > 60 ? `${v.slice(0, 57)}...` : v}"`;
  return `${typeof v} ${String(v)}`;
}

/**
 * Locates key paths in a parsed YAML document, through aliases and merge keys (`<<: *x`), so a
 * finding about a merged-in value points at where it is written. Each mapping's keys are indexed
 * once: finding every issue of a large file stays linear.
 */
export class Locator {
  private readonly index = new WeakMap<YAMLMap, Map<string, Pair>>();

  constructor(
    private readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** The pair of `key` in `map`: its own, else the first merged-in mapping's. */
  private pairOf(map: YAMLMap, key: string): Pair | undefined {
    let pairs = this.index.get(map);
    if (!pairs) {
      pairs = new Map();
      // Set before the merges are read: a mapping that merges itself finds its own keys, not a loop.
      this.index.set(map, pairs);
      const merged: Node[] = [];
      for (const item of map.items) {
        if (!isPair(item)) continue;
        const k = keyName(item.key);
        if (k === MERGE_KEY && isNode(item.value)) merged.push(...(isSeq(item.value) ? item.value.items.filter(isNode) : [item.value]));
        else if (k !== undefined && !pairs.has(k)) pairs.set(k, item);
      }
      for (const source of merged) {
        const from = this.resolve(source);
        if (!isMap(from)) continue;
        for (const item of from.items) {
          const k = isPair(item) ? keyName(item.key) : undefined;
          const pair = k === undefined ? undefined : this.pairOf(from, k);
          if (k !== undefined && pair && !pairs.has(k)) pairs.set(k, pair);
        }
      }
    }
    return pairs.get(key);
  }

  private resolve(node: unknown): Node | undefined {
    const n = isAlias(node) ? node.resolve(this.doc) : node;
    return isNode(n) ? n : undefined;
  }

  private child(node: Node | undefined, key: string | number): Node | undefined {
    const n = this.resolve(node);
    if (isMap(n)) return this.resolve(this.pairOf(n, String(key))?.value);
    if (isSeq(n) && typeof key === 'number') return this.resolve(n.items[key]);
    return undefined;
  }

  /** The value node at `path`, or the nearest ancestor that exists. */
  private nodeAt(path: KeyPath): { node: Node | undefined; depth: number } {
    let node = this.resolve(this.doc.contents);
    for (let n = 0; n < path.length; n++) {
      const next = this.child(node, path[n] as string | number);
      if (next === undefined) return { node, depth: n };
      node = next;
    }
    return { node, depth: path.length };
  }

  /** The value node at exactly `path`, if there is one. */
  nodeAtPath(path: KeyPath): Node | undefined {
    const { node, depth } = this.nodeAt(path);
    return depth === path.length ? node : undefined;
  }

  /** The key node of `key` inside the mapping at `path`. */
  private keyAt(path: KeyPath, key: string): Node | undefined {
    const { node, depth } = this.nodeAt(path);
    const pair = depth === path.length && isMap(node) ? this.pairOf(node, key) : undefined;
    return isNode(pair?.key) ? pair.key : undefined;
  }

  private position(node: Node | undefined): { line: number; col: number } {
    const offset = node?.range?.[0];
    if (offset === undefined) return { line: 0, col: 0 };
    const p = this.lines.linePos(offset);
    return { line: p.line, col: p.col };
  }

  /** The raw value at a path (undefined when absent). */
  valueAt(path: KeyPath): unknown {
    const { node, depth } = this.nodeAt(path);
    if (depth < path.length) return undefined;
    if (isScalar(node)) return node.value;
    if (isSeq(node)) return [];
    if (isMap(node)) return {};
    return undefined;
  }

  /** An issue at a value; `found` is appended unless the value is absent. */
  at(path: KeyPath, message: string, opts: { found?: boolean } = {}): ConfigIssue {
    const { node, depth } = this.nodeAt(path);
    // `restart: sometimes` is validated as `restart.policy`: report it where the user wrote it.
    const exact = depth === path.length || isScalar(node);
    const shownPath = path.slice(0, depth);
    const found = opts.found !== false && exact ? `, found ${describeValue(this.valueAt(shownPath))}` : '';
    return { file: this.file, ...this.position(node), path: formatPath(exact ? shownPath : path), message: message + found };
  }

  /** An issue at a node found by walking the document (interpolation, duplicate keys). */
  atNode(node: Node, path: KeyPath, message: string): ConfigIssue {
    return { file: this.file, ...this.position(node), path: formatPath(path), message };
  }

  /** An issue at a byte offset (YAML syntax errors). */
  atOffset(offset: number, message: string): ConfigIssue {
    const p = this.lines.linePos(offset);
    return { file: this.file, line: p.line, col: p.col, path: '', message };
  }

  /** The line and column of a byte offset, for messages that name a second place. */
  where(offset: number): string {
    const p = this.lines.linePos(offset);
    return `line ${p.line}, column ${p.col}`;
  }

  /** An issue at a mapping key (unknown or duplicate keys). */
  atKey(path: KeyPath, key: string, message: string): ConfigIssue {
    const node = this.keyAt(path, key) ?? this.nodeAt(path).node;
    return { file: this.file, ...this.position(node), path: formatPath([...path, key]), message };
  }
}

/** The YAML 1.1 merge key compose files use (`<<: *defaults`). */
export const MERGE_KEY = '<<';

/** A mapping key as text; the parser reads a merge key as a symbol. */
export function keyName(key: unknown): string | undefined {
  if (!isScalar(key)) return undefined;
  return typeof key.value === 'symbol' ? (key.value.description ?? '') : String(key.value);
}
