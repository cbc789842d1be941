/** Config errors that say where (file:line:col and key path), what was expected and what was found. */
import type { Document, LineCounter, Node } from 'yaml';
import { isMap, isNode, isPair, isScalar, isSeq } from 'yaml';

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

/** A short description of a YAML value for "found …". */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `"${v.length > 60 ? `${v.slice(0, 57)}...` : v}"`;
  return `${typeof v} ${String(v)}`;
}

/** Locates key paths in a parsed YAML document. */
export class Locator {
  constructor(
    private readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** The value node at `path`, or the nearest ancestor that exists. */
  private nodeAt(path: KeyPath): { node: Node | undefined; exact: boolean } {
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, n), true);
      if (isNode(node)) return { node, exact: n === path.length };
    }
    return { node: undefined, exact: false };
  }

  /** The key node of `key` inside the mapping at `path`. */
  private keyAt(path: KeyPath, key: string): Node | undefined {
    const map = path.length === 0 ? this.doc.contents : this.doc.getIn(path, true);
    if (!isMap(map)) return undefined;
    for (const item of map.items) {
      if (isPair(item) && isScalar(item.key) && item.key.value === key) return item.key;
    }
    return undefined;
  }

  private position(node: Node | undefined): { line: number; col: number } {
    const offset = node?.range?.[0];
    if (offset === undefined) return { line: 0, col: 0 };
    const p = this.lines.linePos(offset);
    return { line: p.line, col: p.col };
  }

  /** The raw value at a path (undefined when absent). */
  valueAt(path: KeyPath): unknown {
    const node = path.length === 0 ? this.doc.contents : this.doc.getIn(path, true);
    if (isScalar(node)) return node.value;
    if (isSeq(node)) return [];
    if (isMap(node)) return {};
    return undefined;
  }

  /** An issue at a value; `found` is appended unless the value is absent. */
  at(path: KeyPath, message: string, opts: { found?: boolean } = {}): ConfigIssue {
    let { node, exact } = this.nodeAt(path);
    let shownPath = path;
    // `restart: sometimes` is validated as `restart.policy`: report it where the user wrote it.
    if (!exact && isScalar(node)) {
      for (let n = path.length - 1; n >= 0; n--) {
        if (this.doc.getIn(path.slice(0, n), true) === node) {
          shownPath = path.slice(0, n);
          exact = true;
          break;
        }
      }
    }
    const found = opts.found !== false && exact ? `, found ${describeValue(this.valueAt(shownPath))}` : '';
    return { file: this.file, ...this.position(node), path: formatPath(shownPath), message: message + found };
  }

  /** An issue at a byte offset (YAML syntax errors). */
  atOffset(offset: number, message: string): ConfigIssue {
    const p = this.lines.linePos(offset);
    return { file: this.file, line: p.line, col: p.col, path: '', message };
  }

  /** An issue at a mapping key (unknown or duplicate keys). */
  atKey(path: KeyPath, key: string, message: string): ConfigIssue {
    const node = this.keyAt(path, key) ?? this.nodeAt(path).node;
    return { file: this.file, ...this.position(node), path: formatPath([...path, key]), message };
  }
}
