/**
 * Several config files as one, as `docker compose -f base.yaml -f override.yaml` does: each file is
 * parsed on its own (YAML errors name their file), mappings merge key by key with the later file
 * winning, and anything else — lists included — is replaced whole. The merged value is validated
 * once; each issue is placed in the file that gave the value it is about.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Document } from 'yaml';
import { z } from 'zod';
import { ConfigError, type ConfigIssue, type KeyPath, Locator } from './issues.js';
import { checkSchema, type Expanded, readYaml, sortIssues, toIssues } from './parse.js';

const anyMapping = z.record(z.string(), z.unknown());

/** One file's text, or the error that says why it cannot be read. */
export function readConfigText(abs: string): string {
  try {
    return readFileSync(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String((err as Error).message);
    throw new ConfigError([{ file: abs, line: 0, col: 0, path: '', message: `cannot read config: ${why}` }]);
  }
}

const isMapping = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `over` on `base`: mappings merge per key, everything else is replaced. */
export function mergeLayers(base: unknown, over: unknown): unknown {
  if (!isMapping(base) || !isMapping(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in base ? mergeLayers(base[k], v) : v;
  return out;
}

/** Places an issue in the last file that sets the value (or its nearest ancestor). */
class LayeredLocator extends Locator {
  constructor(private readonly layers: readonly Locator[]) {
    const [first] = layers;
    if (!first) throw new Error('no config layers');
    // The base class's own document is never consulted: every method below delegates.
    super('', undefined as never, undefined as never);
  }

  private owner(path: KeyPath): Locator {
    for (let n = path.length; n >= 0; n--) {
      const prefix = path.slice(0, n);
      for (let i = this.layers.length - 1; i >= 0; i--) {
        const layer = this.layers[i];
        if (layer && layer.valueAt(prefix) !== undefined) return layer;
      }
    }
    return this.layers[0] as Locator;
  }

  override valueAt(path: KeyPath): unknown {
    return this.owner(path).valueAt(path);
  }

  override at(path: KeyPath, message: string, opts: { found?: boolean } = {}): ConfigIssue {
    return this.owner(path).at(path, message, opts);
  }

  override atOffset(offset: number, message: string): ConfigIssue {
    return (this.layers[0] as Locator).atOffset(offset, message);
  }

  override atKey(path: KeyPath, key: string, message: string): ConfigIssue {
    return this.owner([...path, key]).atKey(path, key, message);
  }
}

/**
 * The files' merged content validated against `schema`, with a locator over all of them. Each
 * file is interpolated on its own (`interpolate`), before the merge.
 */
export function parseLayers<S extends z.ZodType>(files: readonly string[], schema: S, shape: string, interpolate: (doc: Document, loc: Locator) => Expanded): { data: z.output<S>; loc: Locator } {
  const found: ConfigIssue[] = [];
  const parsed = files.map((f) => {
    const abs = resolve(f);
    const { doc, loc, issues } = readYaml(readConfigText(abs), abs);
    const expanded = interpolate(doc, loc);
    const checked = checkSchema(doc, loc, anyMapping, shape, expanded);
    found.push(...issues, ...expanded.issues, ...checked.issues);
    return { data: checked.data, loc };
  });
  if (found.length > 0) throw new ConfigError(sortByFile(found, files));
  const merged = parsed.reduce<unknown>((acc, p) => mergeLayers(acc, p.data), {});
  const loc = new LayeredLocator(parsed.map((p) => p.loc));
  const result = schema.safeParse(merged);
  if (!result.success) throw new ConfigError(sortByFile(result.error.issues.flatMap((i) => toIssues(i, loc, schema).map((x) => x.issue)), files));
  return { data: result.data, loc };
}

/** Issues in the order of the files given, then of their positions. */
function sortByFile(issues: ConfigIssue[], files: readonly string[]): ConfigIssue[] {
  const order = (i: ConfigIssue) => files.findIndex((f) => resolve(f) === resolve(i.file));
  return sortIssues(issues).sort((a, b) => order(a) - order(b));
}
